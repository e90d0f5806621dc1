//! The cluster-scoped `ClusterGenerator` kind: any generator's settings, usable from every
//! namespace.
//!
//! esox implements the Password, UUID, Fake, SSHKey, Webhook, MFA and VaultDynamicSecret generators. The settings of ESO's other
//! generator kinds are accepted as free-form objects so that ESO manifests still apply;
//! [`ClusterGeneratorSpec::resolve`] reports them as unsupported.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::fake::FakeSpec;
use super::mfa::MfaSpec;
use super::password::PasswordSpec;
use super::sshkey::SshKeySpec;
use super::uuid::UuidSpec;
use super::vault_dynamic::VaultDynamicSecretSpec;
use super::webhook::WebhookSpec;
use crate::schema_ext::FreeForm;

/// A generator's kind and its settings.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterGenerator",
    category = "external-secrets",
    category = "external-secrets-generators",
    derive = "PartialEq",
    doc = "A generator defined once for the whole cluster and referenced from any namespace; \
           values are still produced in the namespace of the referring object."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterGeneratorSpec {
    /// Kind of generator; selects which key of `generator` is used.
    pub kind: GeneratorKind,
    /// Settings of the generator: exactly one key, the one matching `kind`.
    pub generator: GeneratorSpec,
}

/// The kinds of generator known to ESO.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum GeneratorKind {
    #[serde(rename = "ACRAccessToken")]
    AcrAccessToken,
    BeyondtrustWorkloadCredentialsDynamicSecret,
    CloudsmithAccessToken,
    #[serde(rename = "ECRAuthorizationToken")]
    EcrAuthorizationToken,
    Fake,
    #[serde(rename = "GCRAccessToken")]
    GcrAccessToken,
    GithubAccessToken,
    GitlabDeployToken,
    QuayAccessToken,
    Password,
    #[serde(rename = "SSHKey")]
    SshKey,
    #[serde(rename = "STSSessionToken")]
    StsSessionToken,
    #[serde(rename = "UUID")]
    Uuid,
    VaultDynamicSecret,
    Webhook,
    Grafana,
    #[serde(rename = "MFA")]
    Mfa,
}

impl GeneratorKind {
    /// Every kind, in ESO's order.
    pub const ALL: [GeneratorKind; 17] = [
        Self::AcrAccessToken,
        Self::BeyondtrustWorkloadCredentialsDynamicSecret,
        Self::CloudsmithAccessToken,
        Self::EcrAuthorizationToken,
        Self::Fake,
        Self::GcrAccessToken,
        Self::GithubAccessToken,
        Self::GitlabDeployToken,
        Self::QuayAccessToken,
        Self::Password,
        Self::SshKey,
        Self::StsSessionToken,
        Self::Uuid,
        Self::VaultDynamicSecret,
        Self::Webhook,
        Self::Grafana,
        Self::Mfa,
    ];

    /// The kind as written in manifests, e.g. `SSHKey`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AcrAccessToken => "ACRAccessToken",
            Self::BeyondtrustWorkloadCredentialsDynamicSecret => {
                "BeyondtrustWorkloadCredentialsDynamicSecret"
            }
            Self::CloudsmithAccessToken => "CloudsmithAccessToken",
            Self::EcrAuthorizationToken => "ECRAuthorizationToken",
            Self::Fake => "Fake",
            Self::GcrAccessToken => "GCRAccessToken",
            Self::GithubAccessToken => "GithubAccessToken",
            Self::GitlabDeployToken => "GitlabDeployToken",
            Self::QuayAccessToken => "QuayAccessToken",
            Self::Password => "Password",
            Self::SshKey => "SSHKey",
            Self::StsSessionToken => "STSSessionToken",
            Self::Uuid => "UUID",
            Self::VaultDynamicSecret => "VaultDynamicSecret",
            Self::Webhook => "Webhook",
            Self::Grafana => "Grafana",
            Self::Mfa => "MFA",
        }
    }

    /// Key of `spec.generator` that holds this kind's settings, e.g. `sshKeySpec`.
    pub fn spec_key(self) -> &'static str {
        match self {
            Self::AcrAccessToken => "acrAccessTokenSpec",
            Self::BeyondtrustWorkloadCredentialsDynamicSecret => {
                "beyondtrustWorkloadCredentialsDynamicSecretSpec"
            }
            Self::CloudsmithAccessToken => "cloudsmithAccessTokenSpec",
            Self::EcrAuthorizationToken => "ecrAuthorizationTokenSpec",
            Self::Fake => "fakeSpec",
            Self::GcrAccessToken => "gcrAccessTokenSpec",
            Self::GithubAccessToken => "githubAccessTokenSpec",
            Self::GitlabDeployToken => "gitlabDeployTokenSpec",
            Self::QuayAccessToken => "quayAccessTokenSpec",
            Self::Password => "passwordSpec",
            Self::SshKey => "sshKeySpec",
            Self::StsSessionToken => "stsSessionTokenSpec",
            Self::Uuid => "uuidSpec",
            Self::VaultDynamicSecret => "vaultDynamicSecretSpec",
            Self::Webhook => "webhookSpec",
            Self::Grafana => "grafanaSpec",
            Self::Mfa => "mfaSpec",
        }
    }

    /// Whether esox can run this kind of generator.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Self::Password
                | Self::Uuid
                | Self::Fake
                | Self::SshKey
                | Self::Webhook
                | Self::Mfa
                | Self::VaultDynamicSecret
        )
    }
}

impl std::fmt::Display for GeneratorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings of one generator, under the key of its kind. The kinds esox does not implement
/// are kept as free-form objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct GeneratorSpec {
    /// Azure Container Registry token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_access_token_spec: Option<FreeForm>,
    /// BeyondTrust dynamic secret settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyondtrust_workload_credentials_dynamic_secret_spec: Option<FreeForm>,
    /// Cloudsmith token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudsmith_access_token_spec: Option<FreeForm>,
    /// AWS ECR token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecr_authorization_token_spec: Option<FreeForm>,
    /// Fake generator settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fake_spec: Option<FakeSpec>,
    /// Google registry token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcr_access_token_spec: Option<FreeForm>,
    /// GitHub token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_access_token_spec: Option<FreeForm>,
    /// GitLab deploy token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab_deploy_token_spec: Option<FreeForm>,
    /// Quay token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quay_access_token_spec: Option<FreeForm>,
    /// Password generator settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_spec: Option<PasswordSpec>,
    /// SSH key generator settings.
    #[serde(
        default,
        rename = "sshKeySpec",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssh_key_spec: Option<SshKeySpec>,
    /// AWS STS session token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_session_token_spec: Option<FreeForm>,
    /// UUID generator settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid_spec: Option<UuidSpec>,
    /// Vault dynamic secret settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_dynamic_secret_spec: Option<VaultDynamicSecretSpec>,
    /// Webhook generator settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_spec: Option<WebhookSpec>,
    /// Grafana service account token settings (not supported by esox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_spec: Option<FreeForm>,
    /// TOTP (MFA) code settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_spec: Option<MfaSpec>,
}

impl GeneratorSpec {
    /// The kinds whose settings are present, in ESO's order.
    pub fn kinds_set(&self) -> Vec<GeneratorKind> {
        let present = [
            self.acr_access_token_spec.is_some(),
            self.beyondtrust_workload_credentials_dynamic_secret_spec
                .is_some(),
            self.cloudsmith_access_token_spec.is_some(),
            self.ecr_authorization_token_spec.is_some(),
            self.fake_spec.is_some(),
            self.gcr_access_token_spec.is_some(),
            self.github_access_token_spec.is_some(),
            self.gitlab_deploy_token_spec.is_some(),
            self.quay_access_token_spec.is_some(),
            self.password_spec.is_some(),
            self.ssh_key_spec.is_some(),
            self.sts_session_token_spec.is_some(),
            self.uuid_spec.is_some(),
            self.vault_dynamic_secret_spec.is_some(),
            self.webhook_spec.is_some(),
            self.grafana_spec.is_some(),
            self.mfa_spec.is_some(),
        ];
        GeneratorKind::ALL
            .into_iter()
            .zip(present)
            .filter_map(|(kind, set)| set.then_some(kind))
            .collect()
    }
}

/// Settings of a generator esox can run, taken from a ClusterGenerator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SupportedGenerator<'a> {
    Password(&'a PasswordSpec),
    Uuid(&'a UuidSpec),
    Fake(&'a FakeSpec),
    SshKey(&'a SshKeySpec),
    Webhook(&'a WebhookSpec),
    Mfa(&'a MfaSpec),
    VaultDynamicSecret(&'a VaultDynamicSecretSpec),
}

/// Why a ClusterGenerator cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterGeneratorError {
    #[error("spec.generator is empty: add `{}` with the settings of spec.kind {kind}", kind.spec_key())]
    NoSettings { kind: GeneratorKind },
    #[error(
        "spec.generator sets {count} kinds ({}); keep only `{}`, which matches spec.kind {kind}",
        keys.join(", "),
        kind.spec_key()
    )]
    SeveralSettings {
        kind: GeneratorKind,
        count: usize,
        keys: Vec<&'static str>,
    },
    #[error(
        "spec.kind is {kind} but spec.generator sets `{}`; rename it to `{}` or change spec.kind to {found}",
        found.spec_key(),
        kind.spec_key()
    )]
    KindMismatch {
        kind: GeneratorKind,
        found: GeneratorKind,
    },
    #[error(
        "generator kind {kind} is not supported by esox; supported kinds are Password, UUID, Fake, SSHKey, Webhook, MFA and VaultDynamicSecret"
    )]
    Unsupported { kind: GeneratorKind },
}

impl ClusterGeneratorSpec {
    /// Checks that `generator` holds exactly the settings named by `kind` and that esox
    /// implements that kind, and returns them.
    pub fn resolve(&self) -> Result<SupportedGenerator<'_>, ClusterGeneratorError> {
        let kind = self.kind;
        let set = self.generator.kinds_set();
        match set.as_slice() {
            [] => return Err(ClusterGeneratorError::NoSettings { kind }),
            [found] if *found != kind => {
                return Err(ClusterGeneratorError::KindMismatch {
                    kind,
                    found: *found,
                });
            }
            [_] => {}
            several => {
                return Err(ClusterGeneratorError::SeveralSettings {
                    kind,
                    count: several.len(),
                    keys: several.iter().map(|k| k.spec_key()).collect(),
                });
            }
        }
        let g = &self.generator;
        let supported = match kind {
            GeneratorKind::Password => g.password_spec.as_ref().map(SupportedGenerator::Password),
            GeneratorKind::Uuid => g.uuid_spec.as_ref().map(SupportedGenerator::Uuid),
            GeneratorKind::Fake => g.fake_spec.as_ref().map(SupportedGenerator::Fake),
            GeneratorKind::SshKey => g.ssh_key_spec.as_ref().map(SupportedGenerator::SshKey),
            GeneratorKind::Webhook => g.webhook_spec.as_ref().map(SupportedGenerator::Webhook),
            GeneratorKind::Mfa => g.mfa_spec.as_ref().map(SupportedGenerator::Mfa),
            GeneratorKind::VaultDynamicSecret => g
                .vault_dynamic_secret_spec
                .as_ref()
                .map(SupportedGenerator::VaultDynamicSecret),
            _ => None,
        };
        supported.ok_or(ClusterGeneratorError::Unsupported { kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::password::PasswordEncoding;
    use serde_json::{Map, Value};

    const PASSWORD: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata:
  name: shared-password
spec:
  kind: Password
  generator:
    passwordSpec:
      length: 32
      digits: 4
      symbols: 4
      symbolCharacters: "~!@#"
      noUpper: true
      allowRepeat: false
      encoding: hex
"#;

    const ECR: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata:
  name: ecr
spec:
  kind: ECRAuthorizationToken
  generator:
    ecrAuthorizationTokenSpec:
      region: eu-west-1
      role: arn:aws:iam::123456789012:role/ecr-pull
      auth:
        jwt:
          serviceAccountRef:
            name: ecr-sa
"#;

    fn spec_of(yaml: &str) -> ClusterGeneratorSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn password_manifest_round_trips_and_resolves() {
        let typed: ClusterGenerator = serde_saphyr::from_str(PASSWORD).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(PASSWORD).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        match typed.spec.resolve().unwrap() {
            SupportedGenerator::Password(p) => {
                assert_eq!(p.length, 32);
                assert_eq!(p.encoding, PasswordEncoding::Hex);
            }
            other => panic!("resolved to {other:?}"),
        }
    }

    #[test]
    fn every_supported_kind_resolves() {
        let uuid = spec_of("kind: UUID\ngenerator:\n  uuidSpec: {}\n");
        assert!(matches!(uuid.resolve(), Ok(SupportedGenerator::Uuid(_))));
        let fake = spec_of("kind: Fake\ngenerator:\n  fakeSpec:\n    data: {a: b}\n");
        assert!(matches!(fake.resolve(), Ok(SupportedGenerator::Fake(f)) if f.data["a"] == "b"));
        let ssh = spec_of("kind: SSHKey\ngenerator:\n  sshKeySpec:\n    keyType: ed25519\n");
        assert!(matches!(ssh.resolve(), Ok(SupportedGenerator::SshKey(_))));
    }

    #[test]
    fn unsupported_kind_round_trips_and_is_reported() {
        let typed: ClusterGenerator = serde_saphyr::from_str(ECR).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(ECR).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        let err = typed.spec.resolve().unwrap_err();
        assert_eq!(
            err,
            ClusterGeneratorError::Unsupported {
                kind: GeneratorKind::EcrAuthorizationToken
            }
        );
        assert!(
            err.to_string()
                .contains("ECRAuthorizationToken is not supported"),
            "{err}"
        );
    }

    #[test]
    fn kind_and_settings_must_agree() {
        let err = spec_of("kind: Password\ngenerator:\n  uuidSpec: {}\n")
            .resolve()
            .unwrap_err();
        assert_eq!(
            err,
            ClusterGeneratorError::KindMismatch {
                kind: GeneratorKind::Password,
                found: GeneratorKind::Uuid
            }
        );
        assert!(err.to_string().contains("`passwordSpec`"), "{err}");

        let err = spec_of("kind: Password\ngenerator: {}\n")
            .resolve()
            .unwrap_err();
        assert_eq!(
            err,
            ClusterGeneratorError::NoSettings {
                kind: GeneratorKind::Password
            }
        );

        let err = spec_of("kind: UUID\ngenerator:\n  uuidSpec: {}\n  fakeSpec: {}\n")
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("fakeSpec, uuidSpec"), "{err}");
    }

    #[test]
    fn unknown_generator_key_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<ClusterGeneratorSpec>(
            "kind: UUID\ngenerator:\n  uuidSpecs: {}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("uuidSpecs"), "{err}");
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let err = serde_saphyr::from_str::<ClusterGeneratorSpec>(
            "kind: Random\ngenerator:\n  uuidSpec: {}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Random"), "{err}");
    }

    #[test]
    fn kind_names_and_keys_follow_the_serde_names() {
        for kind in GeneratorKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            let mut generator = Map::new();
            // The smallest settings each kind accepts.
            let settings = match kind {
                GeneratorKind::Webhook => serde_json::json!({"url": "u", "result": {}}),
                GeneratorKind::Mfa => serde_json::json!({"secret": {}}),
                GeneratorKind::VaultDynamicSecret => {
                    serde_json::json!({"path": "p", "provider": {"server": "http://v"}})
                }
                _ => serde_json::json!({}),
            };
            generator.insert(kind.spec_key().to_owned(), settings);
            let spec: GeneratorSpec = serde_json::from_value(Value::Object(generator)).unwrap();
            assert_eq!(spec.kinds_set(), vec![kind]);
        }
    }
}
