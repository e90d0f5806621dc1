//! The HashiCorp Vault provider block (`spec.provider.vault`), field for field as ESO v2.9.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::gcpsm::{GcpWorkloadIdentity, GcpsmAuthSecretRef};
use crate::meta::{Base64Bytes, SecretKeySelector, ServiceAccountSelector};
use crate::v1::common::CaProvider;

/// Reads and writes secrets in a Vault KV secrets engine.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultProvider {
    /// How esox logs in to Vault; one method only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<VaultAuth>,
    /// Base address of the Vault server, such as `https://vault.example.com:8200`.
    pub server: String,
    /// Mount point of the KV engine, such as `secret`. For KV v2 the `/data` segment is
    /// added by esox when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Version of the KV engine mounted at `path`.
    #[serde(default = "default_kv_version")]
    pub version: VaultKvStoreVersion,
    /// Vault Enterprise namespace the requests go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// PEM CA certificates trusted for an `https` server, base64-encoded in the manifest.
    /// The system roots are used when neither this nor `caProvider` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<Base64Bytes>,
    /// Client certificate for servers that require mutual TLS. Unrelated to the `cert`
    /// login method.
    #[serde(default, rename = "tls", skip_serializing_if = "Option::is_none")]
    pub client_tls: Option<VaultClientTls>,
    /// A Secret or ConfigMap holding the CA certificates trusted for the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
    /// Sends the replication state seen on each response back on the next request, so a
    /// read observes earlier writes on Vault Enterprise performance standbys.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_your_writes: bool,
    /// Asks standbys to forward reads they cannot serve consistently to the active node
    /// instead of retrying locally.
    #[serde(default, skip_serializing_if = "is_false")]
    pub forward_inconsistent: bool,
    /// Extra HTTP headers sent with every Vault request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Check-and-set behaviour of PushSecret writes (KV v2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_and_set: Option<VaultCheckAndSet>,
}

// Header values may carry credentials, so Debug shows only their names.
impl std::fmt::Debug for VaultProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultProvider")
            .field("auth", &self.auth)
            .field("server", &self.server)
            .field("path", &self.path)
            .field("version", &self.version)
            .field("namespace", &self.namespace)
            .field("ca_bundle", &self.ca_bundle)
            .field("client_tls", &self.client_tls)
            .field("ca_provider", &self.ca_provider)
            .field("read_your_writes", &self.read_your_writes)
            .field("forward_inconsistent", &self.forward_inconsistent)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("check_and_set", &self.check_and_set)
            .finish()
    }
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn default_kv_version() -> VaultKvStoreVersion {
    VaultKvStoreVersion::V2
}

/// Version of Vault's KV secrets engine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum VaultKvStoreVersion {
    #[serde(rename = "v1")]
    V1,
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// Client certificate and key presented to a server that requires mutual TLS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultClientTls {
    /// Secret with the client certificate; key `tls.crt` when no key is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<SecretKeySelector>,
    /// Secret with the client private key; key `tls.key` when no key is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret_ref: Option<SecretKeySelector>,
}

/// Login method for Vault. Set exactly one method; `namespace` may accompany it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultAuth {
    /// Vault Enterprise namespace to log in to, when it differs from the provider's
    /// `namespace` (which is used otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A static Vault token kept in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login with a role ID and a secret ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role: Option<VaultAppRole>,
    /// Kubernetes login with a ServiceAccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<VaultKubernetesAuth>,
    /// LDAP login with a user name and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<VaultLdapAuth>,
    /// JWT/OIDC login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<VaultJwtAuth>,
    /// TLS client-certificate login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<VaultCertAuth>,
    /// AWS IAM login: a signed `sts:GetCallerIdentity` request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<VaultIamAuth>,
    /// Userpass login with a user name and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pass: Option<VaultUserPassAuth>,
    /// Google Cloud login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcp: Option<VaultGcpAuth>,
}

/// AppRole login. The role ID is given inline (`roleId`) or from a Secret (`roleRef`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultAppRole {
    /// Mount point of the AppRole auth method.
    #[serde(default = "default_approle_path")]
    pub path: String,
    /// The role ID, written inline.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_id: String,
    /// Secret key holding the role ID; its `key` must be set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_ref: Option<SecretKeySelector>,
    /// Secret key holding the secret ID; its `key` must be set.
    pub secret_ref: SecretKeySelector,
}

fn default_approle_path() -> String {
    "approle".to_owned()
}

/// Kubernetes login: a ServiceAccount token is exchanged for a Vault token bound to `role`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultKubernetesAuth {
    /// Mount point of the Kubernetes auth method.
    #[serde(default = "default_kubernetes_path", rename = "mountPath")]
    pub path: String,
    /// ServiceAccount whose token is requested through the TokenRequest API. Takes
    /// precedence over `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// Secret holding a ServiceAccount token (key `token` when none is given). esox's own
    /// token is used when neither this nor `serviceAccountRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Vault role to log in as.
    pub role: String,
}

fn default_kubernetes_path() -> String {
    "kubernetes".to_owned()
}

/// LDAP login; the password comes from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultLdapAuth {
    /// Mount point of the LDAP auth method.
    #[serde(default = "default_ldap_path")]
    pub path: String,
    /// LDAP user name.
    pub username: String,
    /// Secret key holding the user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

fn default_ldap_path() -> String {
    "ldap".to_owned()
}

/// Static AWS credentials kept in Secrets. Both the access key ID and the secret key are
/// needed; the session token only for temporary credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultAwsAuthSecretRef {
    /// Secret key holding the AWS access key ID.
    #[serde(
        default,
        rename = "accessKeyIDSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<SecretKeySelector>,
    /// Secret key holding the AWS secret access key.
    #[serde(
        default,
        rename = "secretAccessKeySecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_access_key: Option<SecretKeySelector>,
    /// Secret key holding the AWS session token of temporary credentials.
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
pub struct VaultAwsJwtAuth {
    /// ServiceAccount annotated with the IAM role to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

/// A token for `serviceAccountRef` requested through the TokenRequest API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultKubernetesServiceAccountTokenAuth {
    /// ServiceAccount the token is issued for.
    pub service_account_ref: ServiceAccountSelector,
    /// Audiences of the token (`vault` when unset). Deprecated: prefer
    /// `serviceAccountRef.audiences`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Lifetime of the requested token in seconds (600 when unset). Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i64>,
}

/// JWT/OIDC login with a token from a Secret or from the TokenRequest API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultJwtAuth {
    /// Mount point of the JWT/OIDC auth method.
    #[serde(default = "default_jwt_path")]
    pub path: String,
    /// Vault role to log in as.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// Secret key holding the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Requests a fresh ServiceAccount token as the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_service_account_token: Option<VaultKubernetesServiceAccountTokenAuth>,
}

fn default_jwt_path() -> String {
    "jwt".to_owned()
}

/// TLS client-certificate login.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultCertAuth {
    /// Mount point of the cert auth method.
    #[serde(default = "default_cert_path")]
    pub path: String,
    /// Vault role to log in as; any matching role when unset.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vault_role: String,
    /// Secret key holding the PEM client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<SecretKeySelector>,
    /// Secret key holding the PEM private key of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

fn default_cert_path() -> String {
    "cert".to_owned()
}

/// AWS IAM login. Without `secretRef` and `jwt` the controller's own AWS identity is used
/// (IRSA or EKS Pod Identity).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultIamAuth {
    /// Mount point of the AWS auth method.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// AWS region of the STS endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// IAM role ARN assumed before signing the login request.
    #[serde(default, rename = "role", skip_serializing_if = "String::is_empty")]
    pub aws_iam_role: String,
    /// Vault role to log in as.
    #[serde(rename = "vaultRole")]
    pub role: String,
    /// External ID passed when assuming `role`.
    #[serde(
        default,
        rename = "externalID",
        skip_serializing_if = "String::is_empty"
    )]
    pub external_id: String,
    /// Value of the `X-Vault-AWS-IAM-Server-ID` header, which binds the signed request to
    /// this Vault server.
    #[serde(
        default,
        rename = "vaultAwsIamServerID",
        skip_serializing_if = "String::is_empty"
    )]
    pub vault_aws_iam_server_id: String,
    /// Static AWS credentials from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<VaultAwsAuthSecretRef>,
    /// AWS credentials from a ServiceAccount token (IRSA).
    #[serde(default, rename = "jwt", skip_serializing_if = "Option::is_none")]
    pub jwt_auth: Option<VaultAwsJwtAuth>,
}

/// Userpass login; the password comes from a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultUserPassAuth {
    /// Mount point of the userpass auth method.
    #[serde(default = "default_userpass_path")]
    pub path: String,
    /// User name.
    pub username: String,
    /// Secret key holding the user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
}

fn default_userpass_path() -> String {
    "userpass".to_owned()
}

/// Google Cloud login. Without `secretRef`, `workloadIdentity` and `serviceAccountRef` the
/// controller's own Google identity is used.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultGcpAuth {
    /// Mount point of the GCP auth method.
    #[serde(default = "default_gcp_path")]
    pub path: String,
    /// Vault role to log in as.
    pub role: String,
    /// Google Cloud project ID.
    #[serde(
        default,
        rename = "projectID",
        skip_serializing_if = "String::is_empty"
    )]
    pub project_id: String,
    /// Google Cloud location (region).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// A service account key kept in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<GcpsmAuthSecretRef>,
    /// GKE Workload Identity through a Kubernetes ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<GcpWorkloadIdentity>,
    /// Kubernetes ServiceAccount used to impersonate a Google service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
}

fn default_gcp_path() -> String {
    "gcp".to_owned()
}

/// Check-and-set settings of PushSecret writes to KV v2.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultCheckAndSet {
    /// Every write carries the current version of the secret, so a concurrent change makes
    /// the write fail instead of being overwritten.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs a provider block through the schema the SecretStore CRD gives it, as the API
    /// server would admit it: pruned, defaulted and validated. A field the schema does not
    /// know is pruned, so comparing the result with the input also checks that schema names
    /// and serde names agree.
    pub(crate) fn admit_provider(provider: &str, yaml: &str) -> Result<serde_json::Value, String> {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(crate::v1::SecretStore::crd()).unwrap();
        let mut schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"]["provider"]["properties"][provider]
            .clone();
        // The block is optional inside `provider`; as a root of its own it may not be nullable.
        schema
            .as_object_mut()
            .expect("provider schema")
            .remove("nullable");
        let compiled = esox_schema::CompiledSchema::compile(&schema).unwrap();
        let mut value: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        compiled
            .admit(&mut value, None)
            .map_err(|e| esox_schema::format_errors(&e))?;
        Ok(value)
    }

    #[test]
    fn schema_admits_the_manifest_unchanged() {
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(admit_provider("vault", MANIFEST).unwrap(), expected);
    }

    #[test]
    fn schema_defaults_agree_with_serde_defaults() {
        let yaml = "server: http://127.0.0.1:8200\nauth:\n  kubernetes: {role: esox}\n  ldap: {username: u}\n";
        let admitted = admit_provider("vault", yaml).unwrap();
        let typed: VaultProvider = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(admitted, serde_json::to_value(&typed).unwrap());
        assert_eq!(admitted["auth"]["kubernetes"]["mountPath"], "kubernetes");
    }

    #[test]
    fn schema_rejects_a_bad_secret_name_and_version() {
        let err = admit_provider(
            "vault",
            "server: s\nversion: v3\nauth:\n  tokenSecretRef: {name: Bad_Name, key: t}\n",
        )
        .unwrap_err();
        assert!(err.contains("version"), "{err}");
        assert!(err.contains("tokenSecretRef.name"), "{err}");
    }

    const MANIFEST: &str = r#"
server: https://vault.example.com:8200
path: secret
version: v2
namespace: team-a
caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
tls:
  certSecretRef:
    name: vault-client
    key: tls.crt
  keySecretRef:
    name: vault-client
    key: tls.key
caProvider:
  type: ConfigMap
  name: vault-ca
  key: ca.crt
readYourWrites: true
forwardInconsistent: true
headers:
  X-Team: payments
checkAndSet:
  required: true
auth:
  namespace: team-a/auth
  tokenSecretRef:
    name: vault-token
    key: token
  appRole:
    path: approle
    roleId: db02de05-fa39-4855-059b-67221c5c2f63
    roleRef:
      name: approle
      key: role-id
    secretRef:
      name: approle
      key: secret-id
  kubernetes:
    mountPath: kubernetes
    role: esox
    serviceAccountRef:
      name: vault-reader
      audiences: [vault]
    secretRef:
      name: sa-token
      key: token
  ldap:
    path: ldap
    username: jdoe
    secretRef:
      name: ldap
      key: password
  jwt:
    path: jwt
    role: esox
    secretRef:
      name: jwt
      key: token
    kubernetesServiceAccountToken:
      serviceAccountRef:
        name: vault-jwt
      audiences: [vault]
      expirationSeconds: 600
  cert:
    path: cert
    vaultRole: web
    clientCert:
      name: client-cert
      key: tls.crt
    secretRef:
      name: client-cert
      key: tls.key
  iam:
    path: aws
    region: eu-west-1
    role: arn:aws:iam::123456789012:role/vault-login
    vaultRole: esox
    externalID: ext-1
    vaultAwsIamServerID: vault.example.com
    secretRef:
      accessKeyIDSecretRef:
        name: aws-creds
        key: access-key
      secretAccessKeySecretRef:
        name: aws-creds
        key: secret-key
      sessionTokenSecretRef:
        name: aws-creds
        key: session-token
    jwt:
      serviceAccountRef:
        name: irsa
  userPass:
    path: userpass
    username: svc
    secretRef:
      name: userpass
      key: password
  gcp:
    path: gcp
    role: esox
    projectID: my-project
    location: europe-west1
    secretRef:
      secretAccessKeySecretRef:
        name: gcp-key
        key: key.json
    workloadIdentity:
      serviceAccountRef:
        name: gke-sa
      clusterLocation: europe-west1
      clusterName: prod
      clusterProjectID: my-project
    serviceAccountRef:
      name: impersonator
"#;

    #[test]
    fn full_manifest_round_trips() {
        let typed: VaultProvider = serde_saphyr::from_str(MANIFEST).unwrap();
        let expected: serde_json::Value = serde_saphyr::from_str(MANIFEST).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), expected);
        assert_eq!(
            typed
                .client_tls
                .as_ref()
                .unwrap()
                .key_secret_ref
                .as_ref()
                .unwrap()
                .key,
            "tls.key"
        );
        assert_eq!(
            typed.ca_bundle.as_ref().unwrap().0,
            b"-----BEGIN CERTIFICATE-----\n"
        );
        assert_eq!(
            typed.auth.as_ref().unwrap().iam.as_ref().unwrap().role,
            "esox"
        );
    }

    #[test]
    fn omitted_fields_take_the_crd_defaults() {
        let yaml = r#"
server: http://127.0.0.1:8200
auth:
  kubernetes: {role: esox}
  appRole: {secretRef: {name: approle, key: secret-id}}
  ldap: {username: jdoe}
  jwt: {}
  cert: {}
  userPass: {username: svc}
  gcp: {role: esox}
"#;
        let p: VaultProvider = serde_saphyr::from_str(yaml).unwrap();
        let auth = p.auth.unwrap();
        assert_eq!(p.version, VaultKvStoreVersion::V2);
        assert_eq!(auth.kubernetes.unwrap().path, "kubernetes");
        assert_eq!(auth.app_role.unwrap().path, "approle");
        assert_eq!(auth.ldap.unwrap().path, "ldap");
        assert_eq!(auth.jwt.unwrap().path, "jwt");
        assert_eq!(auth.cert.unwrap().path, "cert");
        assert_eq!(auth.user_pass.unwrap().path, "userpass");
        assert_eq!(auth.gcp.unwrap().path, "gcp");
    }

    #[test]
    fn unknown_field_is_rejected_by_name() {
        let err = serde_saphyr::from_str::<VaultProvider>(
            "server: http://127.0.0.1:8200\nmountPath: secret\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("mountPath"), "{err}");
        let err = serde_saphyr::from_str::<VaultProvider>(
            "server: http://127.0.0.1:8200\nauth:\n  kubernetes:\n    role: r\n    path: k8s\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("path"), "{err}");
    }

    #[test]
    fn version_outside_the_enum_is_rejected() {
        let err = serde_saphyr::from_str::<VaultProvider>("server: s\nversion: v3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("v3"), "{err}");
    }

    #[test]
    fn debug_hides_header_values() {
        let p: VaultProvider =
            serde_saphyr::from_str("server: s\nheaders:\n  X-Api-Key: hunter2-value\n").unwrap();
        let shown = format!("{p:?}");
        assert!(shown.contains("X-Api-Key"), "{shown}");
        assert!(!shown.contains("hunter2-value"), "{shown}");
    }
}
