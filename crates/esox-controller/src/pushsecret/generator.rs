//! `spec.selector.generatorRef`: the data to push comes from a generator instead of a Secret.
//! As in ESO, the generator runs on every reconcile that pushes (a refresh,
//! a spec change, a retry); ESO keeps no state for the local generators (its generator state
//! only exists to garbage-collect credentials of remote generators), so neither does esox.

use esox_api::v1::GeneratorRef;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use crate::error::Error;

/// The name ESO gives the in-memory Secret holding generated data.
pub const GENERATED_SECRET_NAME: &str = "___generated-secret";

const FIELD: &str = "spec.selector.generatorRef";

/// Runs the generator `generator_ref` names (a namespaced kind in `namespace`, or a
/// ClusterGenerator) and wraps its output in an in-memory Secret, as ESO does.
pub async fn source_secret(
    client: &kube::Client,
    providers: &esox_providers::ProviderRuntime,
    generator_ref: &GeneratorRef,
    namespace: &str,
) -> Result<Secret, Error> {
    let data =
        crate::generators::generate(client, providers, generator_ref, namespace, FIELD).await?;
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(GENERATED_SECRET_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        },
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
        ..Default::default()
    })
}
