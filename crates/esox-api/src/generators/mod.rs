//! Generator kinds of the `generators.external-secrets.io/v1alpha1` API.
//!
//! esox implements Password, UUID, Fake, SSHKey, Webhook, MFA and VaultDynamicSecret, namespaced
//! or through a ClusterGenerator.

pub mod cluster;
pub mod fake;
pub mod mfa;
pub mod password;
pub mod sshkey;
pub mod uuid;
pub mod vault_dynamic;
pub mod webhook;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceSubresourceStatus, CustomResourceSubresources, JSON,
};
use kube::CustomResourceExt;

use crate::labels::LABEL_COMPONENT;

pub use cluster::{
    ClusterGenerator, ClusterGeneratorError, ClusterGeneratorSpec, GeneratorKind, GeneratorSpec,
    SupportedGenerator,
};
pub use fake::{Fake, FakeSpec};
pub use mfa::{Mfa, MfaSpec};
pub use password::{Password, PasswordEncoding, PasswordSpec};
pub use sshkey::{SshKey, SshKeySpec, SshKeyType};
pub use uuid::{Uuid, UuidSpec};
pub use vault_dynamic::{VaultDynamicSecret, VaultDynamicSecretResultType, VaultDynamicSecretSpec};
pub use webhook::{Webhook, WebhookSpec};

/// API group of the generator kinds.
pub const GROUP: &str = "generators.external-secrets.io";
/// API version of the generator kinds.
pub const VERSION: &str = "v1alpha1";

/// The CRDs of the generator kinds esox serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        finish(Password::crd(), SpecPresence::Optional),
        finish(Uuid::crd(), SpecPresence::Optional),
        finish(Fake::crd(), SpecPresence::Optional),
        finish(SshKey::crd(), SpecPresence::Optional),
        finish(Webhook::crd(), SpecPresence::OptionalWithoutDefault),
        finish(Mfa::crd(), SpecPresence::OptionalWithoutDefault),
        finish(
            VaultDynamicSecret::crd(),
            SpecPresence::OptionalWithoutDefault,
        ),
        finish(ClusterGenerator::crd(), SpecPresence::Required),
    ]
}

/// Whether an object of the kind may leave out `spec`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SpecPresence {
    /// A missing `spec` is defaulted to `{}` by the API server, so the spec's own field
    /// defaults apply (ESO accepts such objects, e.g. a bare UUID).
    Optional,
    /// `spec` may be left out but has required fields, so no `{}` default: a default `{}`
    /// would turn an object ESO accepts into a refused one (ESO's schema for Webhook, MFA and
    /// VaultDynamicSecret; such an object fails when the generator runs).
    OptionalWithoutDefault,
    Required,
}

/// Adds what the kube derive cannot express: the CRD label, the list kind, the status
/// subresource ESO declares (without a status schema), and an optional `spec`.
fn finish(mut crd: CustomResourceDefinition, spec: SpecPresence) -> CustomResourceDefinition {
    crd.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(LABEL_COMPONENT.to_owned(), "controller".to_owned());
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        version.subresources = Some(CustomResourceSubresources {
            status: Some(CustomResourceSubresourceStatus(serde_json::json!({}))),
            scale: None,
        });
        let root = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut());
        // schemars titles the root after the Rust type (`Uuid`, `SshKey`), not the kind.
        if let Some(root) = root {
            root.title = None;
        }
        if spec != SpecPresence::Required
            && let Some(root) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            if let Some(required) = root.required.as_mut() {
                required.retain(|name| name != "spec");
                if required.is_empty() {
                    root.required = None;
                }
            }
            if spec == SpecPresence::Optional
                && let Some(spec_schema) = root.properties.as_mut().and_then(|p| p.get_mut("spec"))
            {
                spec_schema.default = Some(JSON(serde_json::json!({})));
            }
        }
    }
    crd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_kind(kind: &str) -> CustomResourceDefinition {
        crds()
            .into_iter()
            .find(|c| c.spec.names.kind == kind)
            .unwrap()
    }

    fn spec_schema(kind: &str) -> serde_json::Value {
        let crd = serde_json::to_value(by_kind(kind)).unwrap();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
    }

    #[test]
    fn names_scope_and_categories_match_eso() {
        let expected = [
            ("Password", "passwords", "password", "Namespaced"),
            ("UUID", "uuids", "uuid", "Namespaced"),
            ("Fake", "fakes", "fake", "Namespaced"),
            ("SSHKey", "sshkeys", "sshkey", "Namespaced"),
            ("Webhook", "webhooks", "webhook", "Namespaced"),
            ("MFA", "mfas", "mfa", "Namespaced"),
            (
                "VaultDynamicSecret",
                "vaultdynamicsecrets",
                "vaultdynamicsecret",
                "Namespaced",
            ),
            (
                "ClusterGenerator",
                "clustergenerators",
                "clustergenerator",
                "Cluster",
            ),
        ];
        let all = crds();
        assert_eq!(all.len(), expected.len());
        for (crd, (kind, plural, singular, scope)) in all.iter().zip(expected) {
            assert_eq!(
                crd.metadata.name.as_deref(),
                Some(format!("{plural}.{GROUP}").as_str())
            );
            assert_eq!(crd.spec.group, GROUP);
            assert_eq!(crd.spec.names.kind, kind);
            assert_eq!(crd.spec.names.plural, plural);
            assert_eq!(crd.spec.names.singular.as_deref(), Some(singular));
            assert_eq!(
                crd.spec.names.list_kind.as_deref(),
                Some(format!("{kind}List").as_str())
            );
            assert_eq!(crd.spec.names.short_names, None);
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(
                    &[
                        "external-secrets".to_owned(),
                        "external-secrets-generators".to_owned()
                    ][..]
                )
            );
            assert_eq!(crd.spec.scope, scope);
            assert_eq!(
                crd.metadata.labels.as_ref().unwrap()["external-secrets.io/component"],
                "controller"
            );
            let version = &crd.spec.versions[0];
            assert_eq!(
                (version.name.as_str(), version.served, version.storage),
                (VERSION, true, true)
            );
            assert!(version.subresources.as_ref().unwrap().status.is_some());
            assert!(version.additional_printer_columns.is_none());
        }
    }

    #[test]
    fn password_schema_carries_defaults_and_bounds() {
        let spec = spec_schema("Password");
        let props = &spec["properties"];
        assert_eq!(props["length"]["default"], 24);
        assert_eq!(props["noUpper"]["default"], false);
        assert_eq!(props["allowRepeat"]["default"], false);
        assert_eq!(props["encoding"]["default"], "raw");
        assert_eq!(
            props["encoding"]["enum"],
            serde_json::json!(["base64", "base64url", "base32", "hex", "raw"])
        );
        assert_eq!(props["secretKeys"]["minItems"], 1);
        assert!(props["digits"].get("default").is_none());
        // Go `int` fields carry no `format`, as in ESO's schema.
        for field in ["length", "digits", "symbols"] {
            assert_eq!(props[field]["type"], "integer", "{field}");
            assert!(
                props[field].get("format").is_none(),
                "{field}: {}",
                props[field]
            );
        }
    }

    #[test]
    fn sshkey_schema_carries_enum_default_and_range() {
        let props = &spec_schema("SSHKey")["properties"];
        assert_eq!(
            props["keyType"]["enum"],
            serde_json::json!(["rsa", "ecdsa", "ed25519"])
        );
        assert_eq!(props["keyType"]["default"], "rsa");
        assert_eq!(props["keySize"]["minimum"].as_f64(), Some(256.0));
        assert_eq!(props["keySize"]["maximum"].as_f64(), Some(8192.0));
    }

    #[test]
    fn uuid_spec_is_a_bare_object_and_roots_have_no_rust_title() {
        let spec = spec_schema("UUID");
        assert_eq!(spec["type"], "object");
        assert!(spec.get("additionalProperties").is_none(), "{spec}");
        assert!(spec.get("properties").is_none(), "{spec}");
        for crd in crds() {
            let root = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
            assert!(
                root["openAPIV3Schema"].get("title").is_none(),
                "{}",
                crd.spec.names.kind
            );
        }
    }

    #[test]
    fn namespaced_kinds_may_omit_spec_but_cluster_generator_may_not() {
        for kind in ["Webhook", "MFA"] {
            let crd = serde_json::to_value(by_kind(kind)).unwrap();
            let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            assert!(root.get("required").is_none(), "{kind}: {root}");
            assert!(
                root["properties"]["spec"].get("default").is_none(),
                "{kind}"
            );
        }
        for kind in ["Password", "UUID", "Fake", "SSHKey"] {
            let crd = serde_json::to_value(by_kind(kind)).unwrap();
            let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            let required = root.get("required").cloned().unwrap_or_default();
            assert!(
                !required
                    .as_array()
                    .is_some_and(|r| r.contains(&"spec".into())),
                "{kind}: {root}"
            );
            assert_eq!(
                root["properties"]["spec"]["default"],
                serde_json::json!({}),
                "{kind}"
            );
        }
        // ESO's VaultDynamicSecret may leave `spec` out but gets no default `{}`, which its
        // required `path` and `provider` would refuse.
        let crd = serde_json::to_value(by_kind("VaultDynamicSecret")).unwrap();
        let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert!(root.get("required").is_none(), "{root}");
        assert!(
            root["properties"]["spec"].get("default").is_none(),
            "{root}"
        );
        let mut required: Vec<&str> = root["properties"]["spec"]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["path", "provider"]);
        let crd = serde_json::to_value(by_kind("ClusterGenerator")).unwrap();
        let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert!(
            root["required"]
                .as_array()
                .unwrap()
                .contains(&"spec".into())
        );
    }

    #[test]
    fn cluster_generator_schema_keeps_unsupported_kinds_open() {
        let spec = spec_schema("ClusterGenerator");
        let mut required: Vec<&str> = spec["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["generator", "kind"]);
        let kinds: Vec<&str> = spec["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let expected: Vec<&str> = GeneratorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, expected);
        let generator = &spec["properties"]["generator"];
        assert_eq!(generator["minProperties"], 1);
        assert_eq!(generator["maxProperties"], 1);
        let props = generator["properties"].as_object().unwrap();
        assert_eq!(props.len(), 17);
        for kind in GeneratorKind::ALL {
            let schema = &props[kind.spec_key()];
            assert_eq!(schema["type"], "object", "{kind}");
            let open = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&true.into());
            assert_eq!(open, !kind.is_supported(), "{kind}: {schema}");
        }
        assert_eq!(props["passwordSpec"]["properties"]["length"]["default"], 24);
    }

    /// Admits an object as the API server would with the generated CRD: pruned, defaulted,
    /// validated.
    fn admit(yaml: &str) -> Result<serde_json::Value, String> {
        let mut obj: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        let kind = obj["kind"].as_str().unwrap().to_owned();
        let crd = serde_json::to_value(by_kind(&kind)).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let compiled = esox_schema::CompiledSchema::compile(schema).unwrap();
        compiled
            .admit(&mut obj, None)
            .map_err(|e| esox_schema::format_errors(&e))?;
        Ok(obj)
    }

    #[test]
    fn every_crd_is_accepted_by_the_crd_validator() {
        for crd in crds() {
            let value = serde_json::to_value(&crd).unwrap();
            if let Err(errors) = esox_schema::validate_crd(&value) {
                panic!(
                    "{}: {}",
                    crd.spec.names.kind,
                    esox_schema::format_errors(&errors)
                );
            }
        }
    }

    #[test]
    fn missing_spec_is_defaulted_and_deserializes() {
        let uuid = admit("apiVersion: generators.external-secrets.io/v1alpha1\nkind: UUID\nmetadata: {name: u}\n").unwrap();
        assert_eq!(uuid["spec"], serde_json::json!({}));
        serde_json::from_value::<Uuid>(uuid).unwrap();

        let password =
            admit("apiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\nmetadata: {name: p}\n").unwrap();
        assert_eq!(
            password["spec"],
            serde_json::json!({"length": 24, "noUpper": false, "allowRepeat": false, "encoding": "raw"})
        );
        let typed: Password = serde_json::from_value(password).unwrap();
        assert_eq!(typed.spec, PasswordSpec::default());
    }

    #[test]
    fn schema_rejects_what_eso_rejects() {
        let err = admit(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: SSHKey\nmetadata: {name: k}\nspec: {keySize: 128}\n",
        )
        .unwrap_err();
        assert!(err.contains("spec.keySize"), "{err}");
        let err = admit(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: Password\nmetadata: {name: p}\nspec: {encoding: base58}\n",
        )
        .unwrap_err();
        assert!(err.contains("spec.encoding"), "{err}");
        let err = admit(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ClusterGenerator\nmetadata: {name: c}\nspec:\n  kind: UUID\n  generator: {uuidSpec: {}, fakeSpec: {}}\n",
        )
        .unwrap_err();
        assert!(err.contains("spec.generator"), "{err}");
    }

    #[test]
    fn unsupported_generator_settings_survive_admission() {
        let yaml = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata:
  name: gh
spec:
  kind: GithubAccessToken
  generator:
    githubAccessTokenSpec:
      appID: "123"
      installID: "456"
      auth:
        privateKey:
          secretRef: {name: gh-app, key: key.pem}
"#;
        let expected: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        let admitted = admit(yaml).unwrap();
        assert_eq!(admitted, expected);
        let typed: ClusterGenerator = serde_json::from_value(admitted).unwrap();
        assert_eq!(
            typed.spec.resolve().unwrap_err(),
            ClusterGeneratorError::Unsupported {
                kind: GeneratorKind::GithubAccessToken
            }
        );
    }
}
