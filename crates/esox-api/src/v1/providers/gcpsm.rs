//! The Google Cloud Secret Manager provider block (`spec.provider.gcpsm`), field for field as
//! ESO v2.9.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{
    DNS_LABEL, DNS_SUBDOMAIN, SECRET_KEY, SecretKeySelector, ServiceAccountSelector,
};

/// Pattern of a Google service account e-mail address.
const GCP_SERVICE_ACCOUNT_EMAIL: &str = r"^.*@.*\.iam\.gserviceaccount\.com$";
/// Pattern of an AWS region name.
const AWS_REGION: &str = r"^[a-z0-9-]+$";

/// Reads and writes secrets in Google Cloud Secret Manager.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpsmProvider {
    /// Credentials; the controller's own Google identity when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GcpsmAuth>,
    /// Project that holds the secrets.
    #[serde(
        default,
        rename = "projectID",
        skip_serializing_if = "String::is_empty"
    )]
    pub project_id: String,
    /// Region of regional secrets; global secrets when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// What to do when the `latest` version is disabled or destroyed.
    #[serde(default)]
    pub secret_version_selection_policy: SecretVersionSelectionPolicy,
}

/// Choice of secret version when `latest` cannot be read.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SecretVersionSelectionPolicy {
    /// Read `latest` and fail when it is disabled or destroyed.
    #[default]
    LatestOrFail,
    /// Read `latest`, falling back to the newest enabled version when it is disabled or
    /// destroyed.
    LatestOrFetch,
}

/// Credentials for Google Cloud; at most one method.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpsmAuth {
    /// A service account key kept in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<GcpsmAuthSecretRef>,
    /// GKE Workload Identity through a Kubernetes ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<GcpWorkloadIdentity>,
    /// Workload Identity Federation with an external identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity_federation: Option<GcpWorkloadIdentityFederation>,
}

/// A service account key kept in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpsmAuthSecretRef {
    /// Secret key holding the service account's JSON key.
    #[serde(
        default,
        rename = "secretAccessKeySecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_access_key: Option<SecretKeySelector>,
}

/// GKE Workload Identity: a Kubernetes ServiceAccount token is exchanged for Google
/// credentials. Cluster facts not given here are read from the metadata server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpWorkloadIdentity {
    /// ServiceAccount bound to a Google service account.
    pub service_account_ref: ServiceAccountSelector,
    /// Location of the GKE cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_location: String,
    /// Name of the GKE cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    /// Project of the GKE cluster.
    #[serde(
        default,
        rename = "clusterProjectID",
        skip_serializing_if = "String::is_empty"
    )]
    pub cluster_project_id: String,
}

/// Workload Identity Federation: a token from another identity provider is exchanged at
/// Google's STS for an access token.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpWorkloadIdentityFederation {
    /// ConfigMap key holding an external-account credential configuration (JSON). When the
    /// identity provider is this cluster, use `serviceAccountRef` instead: esox's own
    /// mounted token cannot be used as the token source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cred_config: Option<ConfigMapReference>,
    /// ServiceAccount whose token is exchanged, when this cluster is the identity provider
    /// of the workload identity pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// AWS region and credentials used as the token source instead of the AWS metadata
    /// server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_security_credentials: Option<AwsCredentialsConfig>,
    /// STS audience: the full resource name of the pool provider. Overrides the one in
    /// `credConfig`; required with `serviceAccountRef` or `awsSecurityCredentials`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// Expected `credential_source.url` of `credConfig`, checked as a safeguard.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_token_endpoint: String,
    /// Google service account impersonated after the exchange. Overrides the impersonation
    /// URL of `credConfig` and the `iam.gke.io/gcp-service-account` annotation of
    /// `serviceAccountRef`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1), regex(pattern = GCP_SERVICE_ACCOUNT_EMAIL))]
    #[schemars(extend("example" = "reader@my-project.iam.gserviceaccount.com"))]
    pub gcp_service_account_email: String,
}

/// One key of a ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapReference {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the ConfigMap; the referring object's namespace when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub namespace: String,
    /// Key holding the credential configuration.
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY))]
    pub key: String,
}

/// AWS region and credentials for Workload Identity Federation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsCredentialsConfig {
    /// AWS region.
    #[schemars(length(min = 1, max = 50), regex(pattern = AWS_REGION))]
    #[schemars(extend("example" = "eu-central-1"))]
    pub region: String,
    /// Secret with the keys `aws_access_key_id`, `aws_secret_access_key` and, for temporary
    /// credentials, `aws_session_token`.
    pub aws_credentials_secret_ref: SecretReference,
}

/// A whole Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretReference {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: String,
    /// Namespace of the Secret; the referring object's namespace when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub namespace: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::providers::vault::tests::admit_provider;

    #[test]
    fn schema_admits_the_manifest_unchanged() {
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(admit_provider("gcpsm", MANIFEST).unwrap(), expected);
    }

    #[test]
    fn schema_defaults_agree_with_serde_defaults() {
        let typed: GcpsmProvider = serde_saphyr::from_str("projectID: p\n").unwrap();
        assert_eq!(
            admit_provider("gcpsm", "projectID: p\n").unwrap(),
            serde_json::to_value(&typed).unwrap()
        );
    }

    #[test]
    fn schema_rejects_a_malformed_service_account_email() {
        let yaml = "auth:\n  workloadIdentityFederation:\n    gcpServiceAccountEmail: someone@example.com\n";
        let err = admit_provider("gcpsm", yaml).unwrap_err();
        assert!(err.contains("gcpServiceAccountEmail"), "{err}");
    }

    const MANIFEST: &str = r#"
projectID: my-project
location: europe-west1
secretVersionSelectionPolicy: LatestOrFetch
auth:
  secretRef:
    secretAccessKeySecretRef:
      name: gcpsm-secret
      key: secret-access-credentials
  workloadIdentity:
    clusterLocation: europe-west1
    clusterName: prod
    clusterProjectID: my-project
    serviceAccountRef:
      name: team-a
      namespace: team-a
      audiences: [my-audience]
  workloadIdentityFederation:
    credConfig:
      name: wif-config
      namespace: esox
      key: credentials.json
    serviceAccountRef:
      name: wif-sa
    awsSecurityCredentials:
      region: eu-central-1
      awsCredentialsSecretRef:
        name: aws-creds
        namespace: esox
    audience: //iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/k8s
    externalTokenEndpoint: http://127.0.0.1:8080/token
    gcpServiceAccountEmail: reader@my-project.iam.gserviceaccount.com
"#;

    #[test]
    fn full_manifest_round_trips() {
        let typed: GcpsmProvider = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(
            typed.secret_version_selection_policy,
            SecretVersionSelectionPolicy::LatestOrFetch
        );
        let wif = typed.auth.unwrap().workload_identity_federation.unwrap();
        assert_eq!(
            wif.aws_security_credentials
                .unwrap()
                .aws_credentials_secret_ref
                .name,
            "aws-creds"
        );
    }

    #[test]
    fn policy_defaults_to_latest_or_fail() {
        let typed: GcpsmProvider = serde_saphyr::from_str("projectID: p\n").unwrap();
        assert_eq!(
            typed.secret_version_selection_policy,
            SecretVersionSelectionPolicy::LatestOrFail
        );
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            serde_json::json!({"projectID": "p", "secretVersionSelectionPolicy": "LatestOrFail"})
        );
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<GcpsmProvider>("projectID: p\nprojectId: q\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("projectId"), "{err}");
        let err = serde_saphyr::from_str::<GcpsmProvider>(
            "auth:\n  workloadIdentity:\n    serviceAccountRef: {name: a}\n    clusterProject: x\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("clusterProject"), "{err}");
    }

    #[test]
    fn workload_identity_requires_a_service_account() {
        let err = serde_saphyr::from_str::<GcpsmProvider>(
            "auth:\n  workloadIdentity:\n    clusterName: c\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("serviceAccountRef"), "{err}");
    }
}
