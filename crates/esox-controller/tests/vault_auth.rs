//! The Vault provider's login methods (kubernetes, jwt, cert) and token lifecycle, end to end
//! against a real OpenBao server and the test cluster: a SecretStore logging in with each
//! method, an ExternalSecret copying a KV value, and what happens when the token expires, is
//! revoked, or the server goes away and comes back.
//!
//! OpenBao is configured through its HTTP API with the root token (the harness's own minimal
//! client, not the code under test). The in-memory cluster has no TokenReview API, so there
//! Kubernetes login must fail with a message naming the method; on the real control plane
//! OpenBao reviews the token with kube-apiserver and the login succeeds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Env, apply, value, wait_until};
use esox_testenv::openbao::OpenBao;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const NS: &str = "vault";
const POLICY: &str = r#"path "secret/data/*" { capabilities = ["read"] }
path "pki/issue/*" { capabilities = ["update"] }
path "secret/data/app/scratch" { capabilities = ["delete"] }"#;

/// Counts the Vault logins the controllers make.
fn count_logins(env: &Env) -> Arc<AtomicUsize> {
    let logins = Arc::new(AtomicUsize::new(0));
    let seen = logins.clone();
    env.ctx
        .providers
        .set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
            if provider == esox_providers::vault::PROVIDER_VAULT
                && call == esox_providers::vault::CALL_LOGIN
                && ok
            {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })));
    logins
}

/// An ES256 key pair: (PKCS#8 DER of the private key, PEM of the public key).
fn es256_key() -> (Vec<u8>, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    (key.serialize_der(), key.public_key_pem())
}

/// A JWT signed with `pkcs8` (ES256) carrying `claims`.
fn sign_jwt(pkcs8: &[u8], claims: &serde_json::Value) -> String {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let sig = key.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A JWT for the `esox` role of the jwt mount, with subject `sub`.
fn app_jwt(pkcs8: &[u8], sub: &str) -> String {
    let now = now_secs();
    sign_jwt(
        pkcs8,
        &json!({"iss": "esox-tests", "sub": sub, "aud": "vault", "iat": now, "nbf": now - 5, "exp": now + 3600}),
    )
}

/// The KV value, the read policy and a jwt mount whose role `esox` accepts tokens signed by
/// `public_pem` with audience `vault`; tokens live `ttl`.
fn setup_jwt(bao: &OpenBao, public_pem: &str, ttl: &str) {
    bao.must(
        "PUT",
        "sys/policies/acl/app",
        Some(json!({"policy": POLICY})),
    )
    .unwrap();
    bao.must(
        "POST",
        "secret/data/app/db",
        Some(json!({"data": {"password": "v1"}})),
    )
    .unwrap();
    bao.must("POST", "sys/auth/jwt", Some(json!({"type": "jwt"})))
        .unwrap();
    bao.must(
        "POST",
        "auth/jwt/config",
        Some(json!({"jwt_validation_pubkeys": [public_pem]})),
    )
    .unwrap();
    bao.must(
        "POST",
        "auth/jwt/role/esox",
        Some(json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": ["vault"],
            "token_policies": ["app"],
            "token_ttl": ttl,
            "token_max_ttl": ttl,
        })),
    )
    .unwrap();
}

fn write_password(bao: &OpenBao, password: &str) {
    bao.must(
        "POST",
        "secret/data/app/db",
        Some(json!({"data": {"password": password}})),
    )
    .unwrap();
}

/// The namespace, a Secret `jwt` holding `token`, a SecretStore logging in with the jwt
/// method, and an ExternalSecret refreshing every second.
fn jwt_manifests(server: &str, token: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: jwt, namespace: {NS}}}
stringData: {{token: "{token}"}}
---
{}"#,
        store_and_es(
            server,
            "jwt:\n  role: esox\n  secretRef: {name: jwt, key: token}\n",
            ""
        )
    )
}

/// A SecretStore `vault` with the given auth block (YAML lines, indented here under `auth:`)
/// and extra provider lines, and an ExternalSecret `db` copying `app/db`'s password every
/// second.
fn store_and_es(server: &str, auth: &str, extra: &str) -> String {
    let auth: String = auth.lines().map(|l| format!("        {l}\n")).collect();
    format!(
        r#"apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: vault, namespace: {NS}}}
spec:
  provider:
    vault:
      server: {server}
      path: secret
      version: v2
{extra}      auth:
{auth}---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: {NS}}}
spec:
  refreshInterval: 1s
  secretStoreRef: {{name: vault, kind: SecretStore}}
  target: {{name: db}}
  data:
    - secretKey: password
      remoteRef: {{key: app/db, property: password}}
"#
    )
}

/// Waits (up to `limit`) for the target to hold `password`; the time it took.
async fn target_becomes(env: &Env, password: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    let api: Api<Secret> = env.api(NS);
    let seen = wait_until(limit, || {
        let api = api.clone();
        async move {
            api.get("db")
                .await
                .ok()
                .filter(|s| value(s, "password").as_deref() == Some(password.as_bytes()))
        }
    })
    .await;
    assert!(
        seen.is_some(),
        "the target did not get password {password:?} within {limit:?}"
    );
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_from_a_secret_and_again_after_the_jwt_rotates() {
    let env = Env::start().await;
    let logins = count_logins(&env);
    let bao = OpenBao::start().unwrap();
    let (key, public) = es256_key();
    setup_jwt(&bao, &public, "1h");
    apply(
        &env.client,
        &jwt_manifests(bao.addr(), &app_jwt(&key, "app-1")),
    )
    .await;
    target_becomes(&env, "v1", Duration::from_secs(20)).await;
    let after_first = logins.load(Ordering::SeqCst);
    assert_eq!(after_first, 1, "one login serves every refresh");

    // A JWT signed by another key is refused: the status names the method and the fix, and
    // never the JWT itself.
    let (other_key, _) = es256_key();
    let forged = app_jwt(&other_key, "app-1");
    let secrets: Api<Secret> = env.api(NS);
    secrets
        .replace(
            "jwt",
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "jwt", "namespace": NS},
                "stringData": {"token": forged}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let (_, message) = wait_es_false(&env)
        .await
        .expect("a refused JWT makes the ExternalSecret not ready");
    assert!(
        message.contains("spec.provider.vault.auth.jwt") && message.contains("auth/jwt/login"),
        "{message}"
    );
    assert!(!message.contains(&forged), "the JWT leaked: {message}");
    let kept = secrets.get("db").await.unwrap();
    assert_eq!(
        value(&kept, "password").unwrap(),
        b"v1",
        "the target keeps its value"
    );

    // A valid rotated JWT: esox logs in with it and syncs again.
    secrets
        .replace(
            "jwt",
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "jwt", "namespace": NS},
                "stringData": {"token": app_jwt(&key, "app-2")}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    write_password(&bao, "v2");
    let took = target_becomes(&env, "v2", Duration::from_secs(30)).await;
    eprintln!("vault jwt: rotated JWT in use after {took:?}");
    assert!(logins.load(Ordering::SeqCst) > after_first);
}

/// Waits longer than `es_ready` for the ExternalSecret `db` to turn not ready (a rotated
/// credential is read again only after the provider's resolve interval).
async fn wait_es_false(env: &Env) -> Option<(String, String)> {
    let c = common::ready_where(
        &env.api::<esox_api::v1::ExternalSecret>(NS),
        "db",
        Duration::from_secs(40),
        |es| Some(es.status?.conditions),
        |c| c.status == "False",
    )
    .await?;
    Some((c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_revoked_tokens_are_replaced_without_losing_values() {
    let env = Env::start().await;
    let logins = count_logins(&env);
    let bao = OpenBao::start().unwrap();
    let (key, public) = es256_key();
    // Tokens live 4 s and cannot be renewed past that.
    setup_jwt(&bao, &public, "4s");
    apply(
        &env.client,
        &jwt_manifests(bao.addr(), &app_jwt(&key, "app")),
    )
    .await;
    target_becomes(&env, "v1", Duration::from_secs(20)).await;

    // Past several token lifetimes, reads go on with new tokens.
    tokio::time::sleep(Duration::from_secs(9)).await;
    write_password(&bao, "v2");
    let took = target_becomes(&env, "v2", Duration::from_secs(10)).await;
    let after_expiry = logins.load(Ordering::SeqCst);
    eprintln!(
        "vault expiry: {after_expiry} logins over ~10 s with 4 s tokens; change seen after {took:?}"
    );
    assert!(after_expiry >= 3, "{after_expiry} logins");

    // Tokens that live an hour, then revoked behind esox's back: the next read is refused,
    // esox logs in again and the value flows.
    bao.must(
        "POST",
        "auth/jwt/role/esox",
        Some(
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"],
                    "token_policies": ["app"], "token_ttl": "1h", "token_max_ttl": "1h"}),
        ),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    write_password(&bao, "v3");
    target_becomes(&env, "v3", Duration::from_secs(10)).await;
    let before = logins.load(Ordering::SeqCst);
    bao.must("PUT", "sys/leases/revoke-prefix/auth/jwt", None)
        .unwrap();
    write_password(&bao, "v4");
    let took = target_becomes(&env, "v4", Duration::from_secs(10)).await;
    eprintln!("vault revocation: new value synced {took:?} after the token was revoked");
    assert_eq!(
        logins.load(Ordering::SeqCst),
        before + 1,
        "exactly one new login"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_keeps_values_and_reports_it_then_recovers() {
    let env = Env::start().await;
    let mut bao = OpenBao::start().unwrap();
    let (key, public) = es256_key();
    setup_jwt(&bao, &public, "1h");
    apply(
        &env.client,
        &jwt_manifests(bao.addr(), &app_jwt(&key, "app")),
    )
    .await;
    target_becomes(&env, "v1", Duration::from_secs(20)).await;

    bao.stop();
    let (_, message) = wait_es_false(&env)
        .await
        .expect("the ExternalSecret turns not ready while Vault is down");
    assert!(
        message.contains("cannot reach the Vault server") && message.contains(bao.addr()),
        "{message}"
    );
    let secrets: Api<Secret> = env.api(NS);
    assert_eq!(
        value(&secrets.get("db").await.unwrap(), "password").unwrap(),
        b"v1",
        "the target keeps its value while Vault is down"
    );

    // Back on the same address. A dev server starts empty: the same setup again, and the token
    // esox holds is unknown to it, so recovery includes a new login.
    bao.restart().unwrap();
    let restarted = Instant::now();
    setup_jwt(&bao, &public, "1h");
    write_password(&bao, "v2");
    target_becomes(&env, "v2", Duration::from_secs(30)).await;
    eprintln!(
        "vault restart: synced again {:?} after the server came back",
        restarted.elapsed()
    );
    env.es_ready("vault", "db", "True").await.unwrap();
}

/// A token of `sa` in `namespace` from the TokenRequest API, for OpenBao's token reviewer.
async fn token_of(env: &Env, namespace: &str, sa: &str) -> String {
    let api: Api<ServiceAccount> = Api::namespaced(env.client.clone(), namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create_token_request(sa, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_login_is_reviewed_by_the_cluster() {
    let env = Env::start().await;
    let bao = OpenBao::start().unwrap();
    bao.must(
        "PUT",
        "sys/policies/acl/app",
        Some(json!({"policy": POLICY})),
    )
    .unwrap();
    write_password(&bao, "v1");
    apply(
        &env.client,
        &format!(
            r#"apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: reader, namespace: {NS}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: token-reviewer, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: esox-test-token-reviewer}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}}
subjects: [{{kind: ServiceAccount, name: token-reviewer, namespace: {NS}}}]
"#
        ),
    )
    .await;
    let reviewer = token_of(&env, NS, "token-reviewer").await;
    bao.must(
        "POST",
        "sys/auth/kubernetes",
        Some(json!({"type": "kubernetes"})),
    )
    .unwrap();
    bao.must(
        "POST",
        "auth/kubernetes/config",
        Some(json!({
            "kubernetes_host": env.cluster.url(),
            "kubernetes_ca_cert": env.cluster.ca_pem(),
            "token_reviewer_jwt": reviewer,
            "disable_local_ca_jwt": true,
        })),
    )
    .unwrap();
    bao.must(
        "POST",
        "auth/kubernetes/role/esox",
        Some(json!({
            "bound_service_account_names": ["reader"],
            "bound_service_account_namespaces": [NS],
            "token_policies": ["app"],
            "token_ttl": "1h",
        })),
    )
    .unwrap();
    apply(
        &env.client,
        &store_and_es(
            bao.addr(),
            "kubernetes:\n  role: esox\n  serviceAccountRef: {name: reader}\n",
            "",
        ),
    )
    .await;
    if env.cluster.is_real() {
        target_becomes(&env, "v1", Duration::from_secs(20)).await;
        // kube-apiserver said who the token belongs to: OpenBao's entity alias is the
        // ServiceAccount's UID, which only the TokenReview can have told it.
        let sa: ServiceAccount = Api::namespaced(env.client.clone(), NS)
            .get("reader")
            .await
            .unwrap();
        let uid = sa.metadata.uid.unwrap();
        let aliases = bao.must("LIST", "identity/entity-alias/id", None).unwrap();
        assert!(
            aliases.to_string().contains(&uid),
            "no entity alias for the ServiceAccount {uid}: {aliases}"
        );

        // The token from a Secret (key `token` when the reference names none): a token of a
        // ServiceAccount the role does not bind is refused, the reader's is accepted.
        apply(
            &env.client,
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: stranger, namespace: {NS}}}\n"),
        )
        .await;
        let stranger = token_of(&env, NS, "stranger").await;
        apply(
            &env.client,
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: sa-token, namespace: {NS}}}\nstringData: {{token: {stranger}}}\n---\n{}",
                store_and_es(
                    bao.addr(),
                    "kubernetes:\n  role: esox\n  secretRef: {name: sa-token}\n",
                    "",
                )
            ),
        )
        .await;
        let (_, message) = wait_es_false(&env)
            .await
            .expect("a token of an unbound ServiceAccount is refused");
        assert!(
            message.contains("spec.provider.vault.auth.kubernetes")
                && message.contains("auth/kubernetes/login"),
            "{message}"
        );
        assert!(!message.contains(&stranger), "the token leaked: {message}");
        let reader = token_of(&env, NS, "reader").await;
        apply(
            &env.client,
            &format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: sa-token, namespace: {NS}}}\nstringData: {{token: {reader}}}\n"),
        )
        .await;
        write_password(&bao, "v2");
        target_becomes(&env, "v2", Duration::from_secs(30)).await;
    } else {
        // The in-memory API server serves no TokenReview: OpenBao cannot confirm the token,
        // and esox reports which login failed.
        let (_, message) = wait_es_false(&env)
            .await
            .expect("the in-memory cluster cannot review tokens");
        assert!(
            message.contains("spec.provider.vault.auth.kubernetes")
                && message.contains("auth/kubernetes/login"),
            "{message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_with_a_requested_service_account_token() {
    let env = Env::start().await;
    if !env.cluster.is_real() {
        // The in-memory cluster signs its tokens with a shared secret (HS256) OpenBao cannot
        // verify with a public key; kube-apiserver signs with the RSA key the control plane
        // keeps, which is given to OpenBao below.
        eprintln!("skipped on the in-memory cluster: its tokens are not signed with a public key");
        return;
    }
    let dir = std::env::var("ESOX_TEST_CONTROL_PLANE_DIR")
        .expect("ESOX_TEST_CONTROL_PLANE_DIR names the control plane's directory");
    let public = std::fs::read_to_string(format!("{dir}/pki/sa.pub")).unwrap();
    let bao = OpenBao::start().unwrap();
    bao.must(
        "PUT",
        "sys/policies/acl/app",
        Some(json!({"policy": POLICY})),
    )
    .unwrap();
    write_password(&bao, "v1");
    bao.must("POST", "sys/auth/jwt", Some(json!({"type": "jwt"})))
        .unwrap();
    bao.must(
        "POST",
        "auth/jwt/config",
        Some(json!({"jwt_validation_pubkeys": [public]})),
    )
    .unwrap();
    bao.must(
        "POST",
        "auth/jwt/role/esox",
        Some(json!({
            "role_type": "jwt",
            "user_claim": "sub",
            // ESO's default audience for requested tokens.
            "bound_audiences": ["vault"],
            "bound_subject": format!("system:serviceaccount:{NS}:reader"),
            "token_policies": ["app"],
        })),
    )
    .unwrap();
    apply(
        &env.client,
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: reader, namespace: {NS}}}\n---\n{}",
            store_and_es(
                bao.addr(),
                "jwt:\n  role: esox\n  kubernetesServiceAccountToken:\n    serviceAccountRef: {name: reader}\n",
                "",
            )
        ),
    )
    .await;
    target_becomes(&env, "v1", Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_login_on_a_tls_server() {
    let env = Env::start().await;
    let bao = OpenBao::start_tls().unwrap();
    let ca = bao.ca_pem().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["esox-client".to_owned()]).unwrap();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).unwrap();
    let scratch = std::env::temp_dir().join(format!("esox-vault-cert-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let cert_file = scratch.join("client.pem");
    let policy_file = scratch.join("app.hcl");
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&policy_file, POLICY).unwrap();
    bao.cli(&["policy", "write", "app", policy_file.to_str().unwrap()])
        .unwrap();
    bao.cli(&["kv", "put", "secret/app/db", "password=v1"])
        .unwrap();
    bao.cli(&["auth", "enable", "cert"]).unwrap();
    bao.cli(&[
        "write",
        "auth/cert/certs/esox",
        &format!("certificate=@{}", cert_file.display()),
        "token_policies=app",
    ])
    .unwrap();
    let _ignored = std::fs::remove_dir_all(&scratch);
    apply(
        &env.client,
        &format!(
            r#"apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: client, namespace: {NS}}}
stringData:
  tls.crt: {}
  tls.key: {}
---
{}"#,
            serde_json::Value::String(cert.pem()),
            serde_json::Value::String(key.serialize_pem()),
            store_and_es(
                bao.addr(),
                "cert:\n  vaultRole: esox\n  clientCert: {name: client, key: tls.crt}\n  secretRef: {name: client, key: tls.key}\n",
                &format!("      caBundle: {}\n", STANDARD.encode(&ca)),
            )
        ),
    )
    .await;
    target_becomes(&env, "v1", Duration::from_secs(20)).await;

    // The role pins the certificate: another certificate is refused by name.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(vec!["intruder".to_owned()]).unwrap();
    other.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let other = other.self_signed(&other_key).unwrap();
    apply(
        &env.client,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: client, namespace: {NS}}}\nstringData:\n  tls.crt: {}\n  tls.key: {}\n",
            serde_json::Value::String(other.pem()),
            serde_json::Value::String(other_key.serialize_pem()),
        ),
    )
    .await;
    let (_, message) = wait_es_false(&env)
        .await
        .expect("a certificate the role does not know is refused");
    assert!(
        message.contains("spec.provider.vault.auth.cert") && message.contains("auth/cert/login"),
        "{message}"
    );
    assert!(!message.contains("PRIVATE KEY"), "{message}");
}

/// VaultDynamicSecret through `dataFrom[].sourceRef.generatorRef`: a PKI engine issues a
/// certificate per generation (POST with parameters, resultType Data), a ClusterGenerator
/// reads a KV secret whole (GET, resultType Raw), and a call answered with no content fails
/// unless `allowEmptyResponse` is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_dynamic_secret_generates_through_the_store_login() {
    let env = Env::start().await;
    let bao = OpenBao::start().unwrap();
    let (key, public) = es256_key();
    setup_jwt(&bao, &public, "1h");
    bao.must("POST", "sys/mounts/pki", Some(json!({"type": "pki"})))
        .unwrap();
    bao.must(
        "POST",
        "pki/root/generate/internal",
        Some(json!({"common_name": "esox test root", "ttl": "24h"})),
    )
    .unwrap();
    bao.must(
        "POST",
        "pki/roles/app",
        Some(
            json!({"allowed_domains": ["example.com"], "allow_subdomains": true, "max_ttl": "1h"}),
        ),
    )
    .unwrap();
    // The provider block, indented for `spec.provider` (4) and for a ClusterGenerator (8).
    let block = format!(
        "server: {}\nauth:\n  jwt:\n    role: esox\n    secretRef: {{name: jwt, key: token}}",
        bao.addr()
    );
    let provider = block.replace('\n', "\n    ");
    let cluster_provider = block.replace('\n', "\n        ");
    let token = app_jwt(&key, "gen");
    apply(
        &env.client,
        &format!(
            r#"apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: jwt, namespace: {NS}}}
stringData: {{token: "{token}"}}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata: {{name: cert, namespace: {NS}}}
spec:
  method: POST
  path: pki/issue/app
  parameters: {{common_name: app.example.com, ttl: 10m}}
  provider:
    {provider}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {{name: raw-db}}
spec:
  kind: VaultDynamicSecret
  generator:
    vaultDynamicSecretSpec:
      path: secret/data/app/db
      resultType: Raw
      provider:
        {}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: VaultDynamicSecret
metadata: {{name: nothing, namespace: {NS}}}
spec:
  method: DELETE
  path: secret/data/app/scratch
  provider:
    {provider}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: cert, namespace: {NS}}}
spec:
  refreshInterval: 1h
  target: {{name: cert}}
  dataFrom:
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: cert}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: raw, namespace: {NS}}}
spec:
  refreshInterval: 1h
  target: {{name: raw}}
  dataFrom:
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: raw-db}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: nothing, namespace: {NS}}}
spec:
  refreshInterval: 1h
  target: {{name: nothing}}
  dataFrom:
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: nothing}}
"#,
            cluster_provider
        ),
    )
    .await;

    let issued = env
        .secret_where(NS, "cert", |s| value(s, "certificate").is_some())
        .await
        .expect("the PKI engine's certificate in the target");
    let certificate = String::from_utf8(value(&issued, "certificate").unwrap()).unwrap();
    assert!(
        certificate.starts_with("-----BEGIN CERTIFICATE-----"),
        "{certificate}"
    );
    let private_key = String::from_utf8(value(&issued, "private_key").unwrap()).unwrap();
    assert!(private_key.contains("PRIVATE KEY-----"));
    // A JSON array in Vault's answer is written as Go's JSON.
    let chain = String::from_utf8(value(&issued, "ca_chain").unwrap()).unwrap();
    assert!(
        chain.starts_with("[\"-----BEGIN CERTIFICATE-----"),
        "{chain}"
    );
    let serial = value(&issued, "serial_number").unwrap();

    let raw = env
        .secret_where(NS, "raw", |s| value(s, "data").is_some())
        .await
        .expect("the whole KV answer in the target");
    let data: serde_json::Value = serde_json::from_slice(&value(&raw, "data").unwrap()).unwrap();
    assert_eq!(data["data"]["password"], "v1");
    assert!(value(&raw, "request_id").is_some_and(|id| !id.is_empty()));

    let (_, message) = env
        .es_ready(NS, "nothing", "False")
        .await
        .expect("a call answered with no content fails");
    assert!(
        message.contains("VaultDynamicSecret \"nothing\"")
            && message.contains("empty response")
            && message.contains("allowEmptyResponse"),
        "{message}"
    );
    apply(
        &env.client,
        &format!(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: VaultDynamicSecret\nmetadata: {{name: nothing, namespace: {NS}}}\nspec:\n  method: DELETE\n  path: secret/data/app/scratch\n  allowEmptyResponse: true\n  provider:\n    {provider}\n---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: nothing\n  namespace: {NS}\n  annotations: {{external-secrets.io/force-sync: '1'}}\nspec:\n  refreshInterval: 1h\n  target: {{name: nothing}}\n  dataFrom:\n    - sourceRef:\n        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: nothing}}\n"
        ),
    )
    .await;
    env.es_ready(NS, "nothing", "True")
        .await
        .expect("allowEmptyResponse accepts no content");

    // Each generation is a new call: a forced refresh issues another certificate.
    apply(
        &env.client,
        &format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: cert\n  namespace: {NS}\n  annotations: {{external-secrets.io/force-sync: '1'}}\nspec:\n  refreshInterval: 1h\n  target: {{name: cert}}\n  dataFrom:\n    - sourceRef:\n        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: VaultDynamicSecret, name: cert}}\n"
        ),
    )
    .await;
    env.secret_where(NS, "cert", |s| {
        value(s, "serial_number").is_some_and(|v| v != serial)
    })
    .await
    .expect("a new certificate after force-sync");
}
