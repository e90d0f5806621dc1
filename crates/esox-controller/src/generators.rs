//! Running the generator a `generatorRef` names (a namespaced kind in the object's namespace,
//! or a ClusterGenerator), for ExternalSecrets (`dataFrom[].sourceRef.generatorRef`) and
//! PushSecrets (`selector.generatorRef`) alike. Errors name the field that holds the reference.

use esox_api::generators::{self as gens, SupportedGenerator};
use esox_api::v1::{GeneratorKind, GeneratorRef};
use esox_core::SecretData;
use esox_providers::{ProviderError, ProviderRuntime};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::error::Error;

/// Generates a fresh value; `field` is where the reference sits (for messages). The Webhook
/// and MFA kinds read Secrets (and call out) through `providers`' client; VaultDynamicSecret
/// goes through the Vault provider.
pub async fn generate(
    client: &kube::Client,
    providers: &ProviderRuntime,
    generator_ref: &GeneratorRef,
    namespace: &str,
    field: &str,
) -> Result<SecretData, Error> {
    check_group(&generator_ref.api_version, field)?;
    let name = generator_ref.name.as_str();
    let client = client.clone();
    let produced = match generator_ref.kind {
        GeneratorKind::Password => {
            let g = get(
                Api::<gens::Password>::namespaced(client, namespace),
                name,
                namespace,
                field,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::Password(&g.spec))
        }
        GeneratorKind::Uuid => {
            let g = get(
                Api::<gens::Uuid>::namespaced(client, namespace),
                name,
                namespace,
                field,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::Uuid(&g.spec))
        }
        GeneratorKind::Fake => {
            let g = get(
                Api::<gens::Fake>::namespaced(client, namespace),
                name,
                namespace,
                field,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::Fake(&g.spec))
        }
        GeneratorKind::SshKey => {
            let g = get(
                Api::<gens::SshKey>::namespaced(client, namespace),
                name,
                namespace,
                field,
            )
            .await?;
            esox_generators::generate(SupportedGenerator::SshKey(&g.spec))
        }
        GeneratorKind::Webhook => {
            let g = get(
                Api::<gens::Webhook>::namespaced(client, namespace),
                name,
                namespace,
                field,
            )
            .await?;
            return webhook(
                providers,
                &g.spec,
                namespace,
                field,
                ("Webhook", name),
                "spec",
            )
            .await;
        }
        GeneratorKind::Mfa => {
            let g = get(
                Api::<gens::Mfa>::namespaced(client.clone(), namespace),
                name,
                namespace,
                field,
            )
            .await?;
            return mfa(&client, &g.spec, namespace, field, "MFA", name).await;
        }
        GeneratorKind::VaultDynamicSecret => {
            let g = get(
                Api::<gens::VaultDynamicSecret>::namespaced(client, namespace),
                name,
                namespace,
                field,
            )
            .await?;
            return vault_dynamic_secret(providers, &g.spec, namespace, name, field).await;
        }
        GeneratorKind::ClusterGenerator => {
            let g = get(
                Api::<gens::ClusterGenerator>::all(client.clone()),
                name,
                namespace,
                field,
            )
            .await?;
            let spec = g
                .spec
                .resolve()
                .map_err(|e| Error::Invalid(format!("{field}: ClusterGenerator {name:?}: {e}")))?;
            match spec {
                // Values are still produced in the referring object's namespace (ESO reads
                // their Secrets there).
                SupportedGenerator::Webhook(w) => {
                    return webhook(
                        providers,
                        w,
                        namespace,
                        field,
                        ("ClusterGenerator", name),
                        "spec.generator.webhookSpec",
                    )
                    .await;
                }
                SupportedGenerator::Mfa(m) => {
                    return mfa(&client, m, namespace, field, "ClusterGenerator", name).await;
                }
                SupportedGenerator::VaultDynamicSecret(v) => {
                    return vault_dynamic_secret(providers, v, namespace, name, field).await;
                }
                local => esox_generators::generate(local),
            }
        }
        other => return Err(unsupported(other, field)),
    };
    produced.map_err(|e| Error::Data(format!("{field}: {:?} {name:?}: {e}", generator_ref.kind)))
}

/// ESO's Webhook generator: one request; the answer's JSON object becomes the keys.
/// `spec_field` is where the settings sit in the generator object, for its messages.
async fn webhook(
    providers: &ProviderRuntime,
    spec: &gens::WebhookSpec,
    namespace: &str,
    field: &str,
    (kind, name): (&str, &str),
    spec_field: &str,
) -> Result<SecretData, Error> {
    let ctx = providers.context(Some(namespace));
    esox_providers::webhook::generate(spec.to_provider(), ctx, namespace, spec_field)
        .await
        .map_err(|source| Error::ProviderCall {
            action: format!("{field}: {kind} {name:?}"),
            source,
        })
}

/// ESO's MFA generator: the seed is read from the Secret in the referring object's
/// namespace, then the code is computed locally.
async fn mfa(
    client: &kube::Client,
    spec: &gens::MfaSpec,
    namespace: &str,
    field: &str,
    kind: &str,
    name: &str,
) -> Result<SecretData, Error> {
    let context = format!("{field}: {kind} {name:?}");
    let secret_name = &spec.secret.name;
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(secret_name)
        .await?
        .ok_or_else(|| {
            Error::Provider(ProviderError::InvalidConfig(format!(
                "{context}: failed to find secret for token key: Secret {namespace}/{secret_name} \
                 not found (spec.secret.name)"
            )))
        })?;
    let key = &spec.secret.key;
    let seed = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| {
            Error::Data(format!(
                "{context}: secret key {key} does not exist in secret data map of {namespace}/{secret_name} (spec.secret.key)"
            ))
        })?;
    let now = jiff::Timestamp::now().as_second();
    esox_generators::mfa(spec, &seed.0, now).map_err(|e| Error::Data(format!("{context}: {e}")))
}

/// Runs a VaultDynamicSecret through the Vault provider; errors say which generator failed.
async fn vault_dynamic_secret(
    providers: &ProviderRuntime,
    spec: &gens::VaultDynamicSecretSpec,
    namespace: &str,
    name: &str,
    field: &str,
) -> Result<SecretData, Error> {
    esox_providers::dynamic_secret::vault(providers, namespace, name, spec)
        .await
        .map_err(|e| Error::ProviderCall {
            action: format!("{field}: VaultDynamicSecret {name:?}"),
            source: e,
        })
}

fn check_group(api_version: &str, field: &str) -> Result<(), Error> {
    let group = api_version.split_once('/').map_or(api_version, |(g, _)| g);
    if group == gens::GROUP {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{field}.apiVersion {api_version:?}: generators belong to the group {}; use {}/{}",
        gens::GROUP,
        gens::GROUP,
        gens::VERSION
    )))
}

fn unsupported(kind: GeneratorKind, field: &str) -> Error {
    let kind = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"));
    Error::Invalid(format!(
        "{field}.kind {kind} is not supported by esox: use Password, UUID, Fake, SSHKey, Webhook, MFA, VaultDynamicSecret or ClusterGenerator"
    ))
}

/// Reads a generator object, naming the field and the fix when it does not exist.
async fn get<K>(api: Api<K>, name: &str, namespace: &str, field: &str) -> Result<K, Error>
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
                "{field}: {kind} {name:?} not found{place}: create it there or fix {field}.name"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELD: &str = "spec.selector.generatorRef";

    #[test]
    fn foreign_groups_and_kinds_are_refused_with_the_field() {
        check_group("generators.external-secrets.io/v1alpha1", FIELD).unwrap();
        check_group("generators.external-secrets.io", FIELD).unwrap();
        let e = check_group("external-secrets.io/v1", FIELD)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spec.selector.generatorRef.apiVersion")
                && e.contains("generators.external-secrets.io/v1alpha1"),
            "{e}"
        );
        let e = unsupported(GeneratorKind::EcrAuthorizationToken, FIELD).to_string();
        assert!(
            e.contains("spec.selector.generatorRef.kind ECRAuthorizationToken"),
            "{e}"
        );
    }
}
