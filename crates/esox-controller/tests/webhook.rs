//! The webhook provider and the Webhook and MFA generators end to end: esox's controllers on
//! the test cluster (or a real API server), calling an HTTP(S) server this test starts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::sync::{Arc, Mutex};

use common::{Env, apply, value};
use esox_testenv::http_server::{Reply, TestHttpServer};

/// Base32 of RFC 6238's SHA-1 seed "12345678901234567890".
const RFC_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_secret_reads_through_a_webhook_store_over_tls_and_push_secret_writes() {
    let env = Env::start().await;
    let pushed = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let seen = pushed.clone();
    let server = TestHttpServer::https(move |r| {
        if r.method == "POST" {
            seen.lock().unwrap().push((
                r.target.clone(),
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
            return Reply::ok("");
        }
        if r.header("authorization") != Some("Bearer hook-token") {
            return Reply::status(401, "");
        }
        match r.target.as_str() {
            "/secrets/db" => {
                Reply::ok(r#"{"data": {"password": "p1", "user": "admin", "port": 5432}}"#)
            }
            _ => Reply::status(404, ""),
        }
    })
    .await
    .expect("https server");
    let manifest = format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: wh}}
---
apiVersion: v1
kind: Secret
metadata:
  name: hook-creds
  namespace: wh
  labels: {{external-secrets.io/type: webhook}}
stringData: {{token: hook-token}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: hook-ca, namespace: wh}}
data:
  ca.crt: |
{ca}---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: hook, namespace: wh}}
spec:
  provider:
    webhook:
      url: "{url}/secrets/{{{{ .remoteRef.key }}}}"
      headers:
        Authorization: "Bearer {{{{ .creds.token }}}}"
      result:
        jsonPath: "$.data{{{{ if .remoteRef.property }}}}.{{{{ .remoteRef.property }}}}{{{{ end }}}}"
      secrets:
        - name: creds
          secretRef: {{name: hook-creds, key: token}}
      caProvider: {{type: ConfigMap, name: hook-ca, key: ca.crt}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: wh}}
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: hook}}
  target: {{name: db-creds}}
  data:
    - secretKey: pw
      remoteRef: {{key: db, property: password}}
  dataFrom:
    - extract: {{key: db}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: missing, namespace: wh}}
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: hook}}
  data:
    - secretKey: x
      remoteRef: {{key: nothing-here}}
"#,
        ca = indent(server.ca_pem().unwrap(), 4),
        url = server.url(),
    );
    apply(&env.client, &manifest).await;
    let s = env
        .secret_where("wh", "db-creds", |s| value(s, "pw").is_some())
        .await
        .expect("target Secret from the webhook");
    assert_eq!(value(&s, "pw").unwrap(), b"p1");
    assert_eq!(value(&s, "password").unwrap(), b"p1");
    assert_eq!(value(&s, "user").unwrap(), b"admin");
    assert_eq!(value(&s, "port").unwrap(), b"5432");
    let (_, message) = env
        .es_ready("wh", "missing", "False")
        .await
        .expect("a 404 is reported");
    assert!(message.contains("Secret does not exist"), "{message}");

    // Pushes see `.remoteRef.remoteKey` (not `.key`), so they get a store of their own, as in
    // ESO; the body defaults to the pushed value.
    let push_store = format!(
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: hook-push, namespace: wh}}
spec:
  provider:
    webhook:
      url: "{url}/secrets/{{{{ .remoteRef.remoteKey }}}}"
      caProvider: {{type: ConfigMap, name: hook-ca, key: ca.crt}}
"#,
        url = server.url()
    );
    apply(&env.client, &push_store).await;
    apply(
        &env.client,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: local, namespace: wh}
stringData: {api-key: k-123}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: up, namespace: wh}
spec:
  refreshInterval: 1h
  secretStoreRefs: [{name: hook-push}]
  selector:
    secret: {name: local}
  data:
    - match: {secretKey: api-key, remoteRef: {remoteKey: pushed}}
"#,
    )
    .await;
    let got = common::wait_until(std::time::Duration::from_secs(30), || {
        let pushed = pushed.clone();
        async move {
            let v = pushed.lock().unwrap().clone();
            (!v.is_empty()).then_some(v)
        }
    })
    .await;
    let Some(got) = got else {
        let api: kube::Api<esox_api::v1alpha1::PushSecret> = env.api("wh");
        let ps = api.get("up").await.unwrap();
        panic!("the push did not reach the server: {:?}", ps.status);
    };
    assert_eq!(got[0], ("/secrets/pushed".to_owned(), "k-123".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_mfa_generators_fill_an_external_secret() {
    let env = Env::start().await;
    let started = jiff::Timestamp::now().as_second();
    let server = TestHttpServer::http(|r| {
        if r.header("x-api-key") == Some("gen-key") && r.body == b"{\"scope\": \"db\"}" {
            Reply::ok(r#"{"issued": {"username": "u-1", "password": "p-1"}}"#)
        } else {
            Reply::status(403, "")
        }
    })
    .await
    .expect("http server");
    let tls = TestHttpServer::https(|_| Reply::ok(r#"{"ticket": "t-9"}"#))
        .await
        .expect("https server");
    let manifest = format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: gen}}
---
apiVersion: v1
kind: Secret
metadata:
  name: issuer
  namespace: gen
  labels: {{external-secrets.io/type: webhook}}
stringData: {{key: gen-key}}
---
apiVersion: v1
kind: Secret
metadata: {{name: totp-seed, namespace: gen}}
stringData: {{seed: "{RFC_SEED}"}}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: Webhook
metadata: {{name: issue, namespace: gen}}
spec:
  url: "{url}/issue"
  method: POST
  headers: {{X-Api-Key: "{{{{ .auth.key }}}}"}}
  body: '{{"scope": "db"}}'
  result: {{jsonPath: $.issued}}
  secrets:
    - name: auth
      secretRef: {{name: issuer, key: key}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: ticket-ca, namespace: gen}}
data:
  ca.crt: |
{ca}---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {{name: tickets}}
spec:
  kind: Webhook
  generator:
    webhookSpec:
      url: "{tls_url}/ticket"
      result: {{}}
      caProvider: {{type: ConfigMap, name: ticket-ca, key: ca.crt}}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: MFA
metadata: {{name: otp, namespace: gen}}
spec:
  secret: {{name: totp-seed, key: seed}}
  length: 8
  when: "2033-05-18T03:33:20Z"
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {{name: otp-sha256}}
spec:
  kind: MFA
  generator:
    mfaSpec:
      secret: {{name: totp-seed, key: seed}}
      algorithm: sha256
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: generated, namespace: gen}}
spec:
  refreshInterval: 1h
  target: {{name: generated}}
  dataFrom:
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: Webhook, name: issue}}
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: MFA, name: otp}}
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: tickets}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: live-otp, namespace: gen}}
spec:
  refreshInterval: 1h
  target: {{name: live-otp}}
  dataFrom:
    - sourceRef:
        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: otp-sha256}}
"#,
        url = server.url(),
        tls_url = tls.url(),
        ca = indent(tls.ca_pem().unwrap(), 4),
    );
    apply(&env.client, &manifest).await;
    let s = env
        .secret_where("gen", "generated", |s| value(s, "token").is_some())
        .await
        .expect("generated Secret");
    assert_eq!(value(&s, "username").unwrap(), b"u-1");
    assert_eq!(value(&s, "password").unwrap(), b"p-1");
    // A Webhook ClusterGenerator over TLS, its CA read in the referring namespace.
    assert_eq!(value(&s, "ticket").unwrap(), b"t-9");
    // RFC 6238 appendix B, SHA-1 at T = 2000000000: 69279037, 10 s left in the period.
    assert_eq!(value(&s, "token").unwrap(), b"69279037");
    assert_eq!(value(&s, "timeLeft").unwrap(), b"10");
    let live = env
        .secret_where("gen", "live-otp", |s| value(s, "token").is_some())
        .await
        .expect("live TOTP Secret");
    // The code of some second since the test began, with SHA-256 as asked (not SHA-1).
    let now = jiff::Timestamp::now().as_second();
    let spec = |algorithm: &str| esox_api::generators::MfaSpec {
        algorithm: algorithm.to_owned(),
        ..Default::default()
    };
    let matches = (started - 1..=now).find(|t| {
        let want = esox_generators::mfa(&spec("sha256"), RFC_SEED.as_bytes(), *t).unwrap();
        value(&live, "token").as_deref() == Some(&want["token"][..])
            && value(&live, "timeLeft").as_deref() == Some(&want["timeLeft"][..])
    });
    let t = matches.expect("the live token is the SHA-256 TOTP of a second during the test");
    let sha1 = esox_generators::mfa(&spec("sha1"), RFC_SEED.as_bytes(), t).unwrap();
    assert_ne!(value(&live, "token").unwrap(), sha1["token"]);
}
