//! `spec.selector.generatorRef`: the data to push comes from a generator instead of a Secret
//! (ESO section 6.1). As in ESO, the generator runs on every reconcile that pushes (a refresh,
//! a spec change, a retry); ESO keeps no state for the local generators (its generator state
//! only exists to garbage-collect credentials of remote generators), so neither does esox.

use esox_api::generators::{self as gens, SupportedGenerator};
use esox_api::v1::{GeneratorKind, GeneratorRef};
use esox_core::SecretData;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ObjectMeta;

use crate::error::Error;

/// The name ESO gives the in-memory Secret holding generated data.
pub const GENERATED_SECRET_NAME: &str = "___generated-secret";

const FIELD: &str = "spec.selector.generatorRef";

/// Runs the generator `generator_ref` names (a namespaced kind in `namespace`, or a
/// ClusterGenerator) and wraps its output in an in-memory Secret, as ESO does.
pub async fn source_secret(
    client: &kube::Client,
    generator_ref: &GeneratorRef,
    namespace: &str,
) -> Result<Secret, Error> {
    let data = generate(client, generator_ref, namespace).await?;
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

async fn generate(
    client: &kube::Client,
    generator_ref: &GeneratorRef,
    namespace: &str,
) -> Result<SecretData, Error> {
    check_group(&generator_ref.api_version)?;
    let name = generator_ref.name.as_str();
    let client = client.clone();
    let produced = match generator_ref.kind {
        GeneratorKind::Password => {
            let g = get(
                Api::<gens::Password>::namespaced(client, namespace),
                name,
                namespace,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::Password(&g.spec))
        }
        GeneratorKind::Uuid => {
            let g = get(
                Api::<gens::Uuid>::namespaced(client, namespace),
                name,
                namespace,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::Uuid(&g.spec))
        }
        GeneratorKind::Fake => {
            let g = get(
                Api::<gens::Fake>::namespaced(client, namespace),
                name,
                namespace,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::Fake(&g.spec))
        }
        GeneratorKind::SshKey => {
            let g = get(
                Api::<gens::SshKey>::namespaced(client, namespace),
                name,
                namespace,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::SshKey(&g.spec))
        }
        GeneratorKind::ClusterGenerator => {
            let g = get(Api::<gens::ClusterGenerator>::all(client), name, namespace).await?;
            let spec = g
                .spec
                .resolve()
                .map_err(|e| Error::Invalid(format!("{FIELD}: ClusterGenerator {name:?}: {e}")))?;
            esox_generators::generate(spec)
        }
        other => return Err(unsupported(other)),
    };
    produced.map_err(|e| Error::Data(format!("{FIELD}: {:?} {name:?}: {e}", generator_ref.kind)))
}

fn check_group(api_version: &str) -> Result<(), Error> {
    let group = api_version.split_once('/').map_or(api_version, |(g, _)| g);
    if group == gens::GROUP {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{FIELD}.apiVersion {api_version:?}: generators belong to the group {}; use {}/{}",
        gens::GROUP,
        gens::GROUP,
        gens::VERSION
    )))
}

fn unsupported(kind: GeneratorKind) -> Error {
    let kind = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"));
    Error::Invalid(format!(
        "{FIELD}.kind {kind} is not supported by esox: use Password, UUID, Fake, SSHKey or ClusterGenerator"
    ))
}

/// Reads a generator object, naming the field and the fix when it does not exist.
async fn get<K>(api: Api<K>, name: &str, namespace: &str) -> Result<K, Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await? {
        Some(g) => Ok(g),
        None => {
            let kind = K::kind(&());
            let place = if kind == "ClusterGenerator" {
                String::new()
            } else {
                format!(" in namespace {namespace:?}")
            };
            Err(Error::Invalid(format!(
                "{FIELD}: {kind} {name:?} not found{place}: create it there or fix {FIELD}.name"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_groups_and_kinds_are_refused_with_the_field() {
        check_group("generators.external-secrets.io/v1alpha1").unwrap();
        check_group("generators.external-secrets.io").unwrap();
        let e = check_group("external-secrets.io/v1")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spec.selector.generatorRef.apiVersion")
                && e.contains("generators.external-secrets.io/v1alpha1"),
            "{e}"
        );
        let e = unsupported(GeneratorKind::EcrAuthorizationToken).to_string();
        assert!(
            e.contains("spec.selector.generatorRef.kind ECRAuthorizationToken"),
            "{e}"
        );
    }
}
