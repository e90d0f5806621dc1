//! The AWS provider block (`spec.provider.aws`): Secrets Manager, Parameter Store and
//! Certificate Manager, field for field as ESO v2.9.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{SecretKeySelector, ServiceAccountSelector};

/// Reads and writes secrets in one AWS service of one region.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsProvider {
    /// AWS service that holds the secrets.
    pub service: AwsServiceType,
    /// Credentials; the AWS SDK's default chain (environment, IRSA, instance profile) when
    /// unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AwsAuth>,
    /// IAM role ARN assumed after `additionalRoles`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// AWS region, such as `eu-west-1`.
    pub region: String,
    /// Role ARNs assumed one after the other before `role`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_roles: Vec<String>,
    /// External ID passed when assuming roles.
    #[serde(
        default,
        rename = "externalID",
        skip_serializing_if = "String::is_empty"
    )]
    pub external_id: String,
    /// Session tags passed when assuming roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_tags: Vec<AwsTag>,
    /// Secrets Manager settings, which only matter to PushSecret deletions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_manager: Option<AwsSecretsManager>,
    /// Keys of session tags that stay set on roles assumed further down a role chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// Which STS session tags esox adds itself when assuming roles. `Simple` and `Custom`
    /// need the `sts:TagSession` permission on the role.
    #[serde(default)]
    pub session_tags_policy: SessionTagsPolicy,
    /// Extra session tags added with the `Custom` policy, on top of the automatic ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "!('esoNamespace' in self) && !('esoStoreName' in self) && !('esoStoreKind' in self)",
        "message": "customSessionTags must not set esoNamespace, esoStoreName or esoStoreKind: esox adds these tags itself",
    }]))]
    pub custom_session_tags: BTreeMap<String, String>,
    /// Prefix put in front of every remote key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// AWS service backing a store.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AwsServiceType {
    /// AWS Secrets Manager.
    SecretsManager,
    /// AWS Systems Manager Parameter Store.
    ParameterStore,
    /// AWS Certificate Manager.
    CertificateManager,
}

/// STS session tags added by esox when it assumes a role.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SessionTagsPolicy {
    /// No tags are added.
    #[default]
    None,
    /// `esoNamespace`, `esoStoreName` and `esoStoreKind` are added.
    Simple,
    /// The `Simple` tags plus `customSessionTags`.
    Custom,
}

/// AWS credentials; at most one method.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsAuth {
    /// Static credentials from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<AwsAuthSecretRef>,
    /// Credentials from a ServiceAccount token (IRSA).
    #[serde(default, rename = "jwt", skip_serializing_if = "Option::is_none")]
    pub jwt_auth: Option<AwsJwtAuth>,
}

/// Static AWS credentials kept in Secrets. Both the access key ID and the secret key are
/// needed; the session token only for temporary credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsAuthSecretRef {
    /// Secret key holding the access key ID.
    #[serde(
        default,
        rename = "accessKeyIDSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<SecretKeySelector>,
    /// Secret key holding the secret access key.
    #[serde(
        default,
        rename = "secretAccessKeySecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_access_key: Option<SecretKeySelector>,
    /// Secret key holding the session token of temporary credentials.
    #[serde(
        default,
        rename = "sessionTokenSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_token: Option<SecretKeySelector>,
}

/// AWS credentials obtained with a ServiceAccount token (IRSA).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsJwtAuth {
    /// ServiceAccount annotated with the IAM role to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// How PushSecret deletes secrets from Secrets Manager (deletion policy `Delete`). Use at
/// most one of the two fields; AWS keeps a deleted secret 30 days when neither is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsSecretsManager {
    /// Deletes at once, with no recovery window.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_delete_without_recovery: bool,
    /// Days (7 to 30) a deleted secret stays recoverable.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recovery_window_in_days: i64,
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// A key/value tag attached to an AWS resource or session.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsTag {
    pub key: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::providers::vault::tests::admit_provider;

    #[test]
    fn schema_admits_the_manifest_unchanged() {
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(admit_provider("aws", MANIFEST).unwrap(), expected);
    }

    #[test]
    fn schema_defaults_agree_with_serde_defaults() {
        let yaml = "service: ParameterStore\nregion: us-east-1\n";
        let typed: AwsProvider = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(
            admit_provider("aws", yaml).unwrap(),
            serde_json::to_value(&typed).unwrap()
        );
    }

    #[test]
    fn schema_rejects_reserved_custom_session_tags() {
        let yaml = "service: SecretsManager\nregion: r\ncustomSessionTags:\n  esoNamespace: x\n";
        let err = admit_provider("aws", yaml).unwrap_err();
        assert!(err.contains("customSessionTags"), "{err}");
    }

    const MANIFEST: &str = r#"
service: SecretsManager
region: eu-central-1
role: arn:aws:iam::123456789012:role/team-a-reader
additionalRoles:
  - arn:aws:iam::123456789012:role/hop-1
  - arn:aws:iam::123456789012:role/hop-2
externalID: 7f3c1a
sessionTags:
  - key: team
    value: a
transitiveTagKeys: [team]
sessionTagsPolicy: Custom
customSessionTags:
  costCenter: "4711"
prefix: /prod/
secretsManager:
  forceDeleteWithoutRecovery: true
  recoveryWindowInDays: 7
auth:
  secretRef:
    accessKeyIDSecretRef:
      name: awssm-secret
      key: access-key
    secretAccessKeySecretRef:
      name: awssm-secret
      key: secret-access-key
    sessionTokenSecretRef:
      name: awssm-secret
      key: session-token
  jwt:
    serviceAccountRef:
      name: irsa-reader
      namespace: team-a
"#;

    #[test]
    fn full_manifest_round_trips() {
        let typed: AwsProvider = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(typed.service, AwsServiceType::SecretsManager);
        assert_eq!(typed.session_tags_policy, SessionTagsPolicy::Custom);
        assert_eq!(typed.custom_session_tags["costCenter"], "4711");
    }

    #[test]
    fn parameter_store_with_defaults() {
        let typed: AwsProvider =
            serde_saphyr::from_str("service: ParameterStore\nregion: us-east-1\n").unwrap();
        assert_eq!(typed.service, AwsServiceType::ParameterStore);
        assert_eq!(typed.session_tags_policy, SessionTagsPolicy::None);
        assert!(typed.auth.is_none());
    }

    #[test]
    fn region_and_service_are_required() {
        let err = serde_saphyr::from_str::<AwsProvider>("service: SecretsManager\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("region"), "{err}");
        let err = serde_saphyr::from_str::<AwsProvider>("region: eu-west-1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("service"), "{err}");
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<AwsProvider>(
            "service: SecretsManager\nregion: r\nroleArn: x\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("roleArn"), "{err}");
        let err = serde_saphyr::from_str::<AwsProvider>(
            "service: SecretsManager\nregion: r\nauth:\n  secretRef:\n    accessKeyId: {name: a}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("accessKeyId"), "{err}");
    }

    #[test]
    fn unknown_service_is_rejected() {
        let err = serde_saphyr::from_str::<AwsProvider>("service: KMS\nregion: r\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("KMS"), "{err}");
    }
}
