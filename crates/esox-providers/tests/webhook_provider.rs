//! The webhook provider against a local HTTP(S) server started by each test: what the server
//! receives (templated URL, headers, body), how answers become values (ESO's jsonPath cases),
//! errors, deadlines, the response bound, and TLS trust through caProvider.

mod common;

use std::time::Duration;

use esox_api::v1::{RemoteRef, StoreKind};
use esox_api::v1alpha1::PushSecretRemoteRef;
use esox_providers::{
    LocalSecret, ProviderError, PushEntry, SecretsClient, StoreInfo, ValidationResult,
};
use esox_testenv::http_server::{Recorded, Reply, TestHttpServer};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

const NS: &str = "app";

fn webhook_store(kind: StoreKind, webhook: Value) -> StoreInfo {
    StoreInfo {
        kind,
        name: "hook".into(),
        namespace: (kind == StoreKind::SecretStore).then(|| NS.to_owned()),
        spec: serde_json::from_value(json!({"provider": {"webhook": webhook}}))
            .expect("store spec"),
    }
}

async fn setup() -> common::Cluster {
    let c = common::cluster().await;
    c.namespace(NS).await;
    c.secret(
        NS,
        json!({"metadata": {"name": "creds", "labels": {"external-secrets.io/type": "webhook"}},
               "stringData": {"token": "s3cr3t-token", "team": "blue"}}),
    )
    .await;
    c
}

async fn client(
    c: &common::Cluster,
    store: &StoreInfo,
) -> Result<Box<dyn SecretsClient>, ProviderError> {
    let p = c.runtime.provider("webhook").expect("webhook is built");
    p.new_client(store, &c.ctx(Some(NS))).await
}

fn remote(key: &str, property: Option<&str>, version: Option<&str>) -> RemoteRef {
    serde_json::from_value(json!({"key": key, "property": property, "version": version}))
        .expect("remote ref")
}

#[tokio::test]
async fn templated_request_is_what_the_server_receives() {
    let c = setup().await;
    let server = TestHttpServer::http(|_| Reply::ok(r#"{"data": {"pw": "hunter2"}}"#))
        .await
        .expect("server");
    let store = webhook_store(
        StoreKind::SecretStore,
        json!({
            "url": format!("{}/api/{{{{ .remoteRef.key }}}}?v={{{{ .remoteRef.version }}}}&ns={{{{ .remoteRef.namespace }}}}", server.url()),
            "method": "POST",
            "headers": {"Authorization": "Bearer {{ .creds.token }}", "X-Team": "{{ .creds.team | upper }}"},
            "body": r#"{"key": "{{ .remoteRef.key }}", "property": "{{ .remoteRef.property }}"}"#,
            "result": {"jsonPath": "$.data.{{ .remoteRef.property }}"},
            "secrets": [{"name": "creds", "secretRef": {"name": "creds", "key": "token"}}]
        }),
    );
    let cl = client(&c, &store).await.expect("client");
    let value = cl
        .get_secret(&remote("/my app", Some("pw"), Some("3")))
        .await
        .expect("value");
    assert_eq!(value, b"hunter2");
    let got: Vec<Recorded> = server.requests();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.method, "POST");
    // URL templates see query-escaped references; headers and body see them raw.
    assert_eq!(r.target, "/api/%2Fmy+app?v=3&ns=app");
    assert_eq!(r.header("authorization"), Some("Bearer s3cr3t-token"));
    assert_eq!(r.header("x-team"), Some("BLUE"));
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"key": "/my app", "property": "pw"}"#
    );
}

/// ESO's own webhook test cases (providers/v1/webhook/webhook_test.go), rewritten as
/// (jsonPath, answer, expected value or error prefix); `map` cases go through extract.
#[tokio::test]
async fn answers_become_values_as_in_eso() {
    let c = setup().await;
    let answer = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let served = answer.clone();
    let server = TestHttpServer::http(move |_| Reply::ok(served.lock().expect("lock").clone()))
        .await
        .expect("server");
    let secrets = r#"{"secrets": [{"name": "thesecret", "value": "secret-value"}, {"name": "alsosecret", "value": "another-value"}]}"#;
    enum Want {
        Value(&'static str),
        Map(Vec<(&'static str, &'static str)>),
        Err(&'static str),
        MapErr(&'static str),
    }
    let cases: Vec<(&str, &str, Want)> = vec![
        ("", "secret-value", Want::Value("secret-value")),
        (
            "$.result.thesecret",
            r#"{"result":{"thesecret":"secret-value"}}"#,
            Want::Value("secret-value"),
        ),
        (
            "$.result.thesecret",
            r#"{"result":{"thesecret":"secret-value"}"#,
            Want::Err("failed to parse response json"),
        ),
        (
            "$.result.thesecret",
            r#"{"result":{"nosecret":"secret-value"}}"#,
            Want::Err("failed to get response path"),
        ),
        (
            "$.result.thesecret",
            r#"{"result":{"thesecret":{"one":"secret-value"}}}"#,
            Want::Value(r#"{"one":"secret-value"}"#),
        ),
        (
            "$.result",
            r#"{"result":{"thesecret":"secret-value","alsosecret":"another-value"}}"#,
            Want::Map(vec![
                ("alsosecret", "another-value"),
                ("thesecret", "secret-value"),
            ]),
        ),
        (
            "$.{{ printf \"result\" }}",
            r#"{"result":{"thesecret":"secret-value","alsosecret":"another-value"}}"#,
            Want::Map(vec![
                ("alsosecret", "another-value"),
                ("thesecret", "secret-value"),
            ]),
        ),
        (
            "$.{{ printf 'result' }}",
            r#"{"result":{}}"#,
            Want::MapErr("cannot get templated json path"),
        ),
        (
            "",
            r#"{"thesecret":"secret-value","alsosecret":"another-value"}"#,
            Want::Map(vec![
                ("alsosecret", "another-value"),
                ("thesecret", "secret-value"),
            ]),
        ),
        (
            "",
            "some simple string",
            Want::MapErr("failed to parse response json"),
        ),
        (
            "$.result.thesecret",
            r#"{"result":{"thesecret":"secret-value"}}"#,
            Want::MapErr("failed to parse response json from jsonpath"),
        ),
        (
            "$.result.{{ .remoteRef.property }}",
            r#"{"result":{"thesecret":"secret-value"}}"#,
            Want::Value("secret-value"),
        ),
        (
            "$.secrets[?@.name==\"thesecret\"].value",
            secrets,
            Want::Value("secret-value"),
        ),
        (
            "$.result.{{ .remoteRef.property }",
            r#"{}"#,
            Want::Err("cannot get templated json path"),
        ),
        (
            "$.secrets[?@.name==\"thebadsecret\"].value",
            secrets,
            Want::Err("filter worked but didn't get any result"),
        ),
        ("$..name", secrets, Want::Value("thesecret")),
        (
            "$..name",
            r#"{"secrets": [{"name": 123}, {"name": 456}]}"#,
            Want::Value("123"),
        ),
        (
            "$.refresh_token",
            r#"{"access_token":"REDACTED","refresh_token":"RE\/DACTED=="}"#,
            Want::Value("RE/DACTED=="),
        ),
        (
            "$.result.thesecret",
            r#"{"result":{"thesecret":"secret-value","id": 1234, "weight": 1.5}}"#,
            Want::Value("secret-value"),
        ),
        (
            "$.result",
            r#"{"result":{"thesecret":"secret-value","id": 1234, "weight": 1.5}}"#,
            Want::Map(vec![
                ("id", "1234"),
                ("thesecret", "secret-value"),
                ("weight", "1.5"),
            ]),
        ),
    ];
    let total = cases.len();
    for (i, (path, body, want)) in cases.into_iter().enumerate() {
        *answer.lock().expect("lock") = body.to_owned();
        let store = webhook_store(
            StoreKind::SecretStore,
            json!({"url": format!("{}/s", server.url()), "result": {"jsonPath": path}}),
        );
        let cl = client(&c, &store).await.expect("client");
        let r = remote("testkey", Some("thesecret"), Some("1"));
        match want {
            Want::Value(v) => {
                let got = cl
                    .get_secret(&r)
                    .await
                    .unwrap_or_else(|e| panic!("case {i} {path}: {e}"));
                assert_eq!(String::from_utf8_lossy(&got), v, "case {i} {path}");
            }
            Want::Err(prefix) => {
                let e = cl.get_secret(&r).await.expect_err(path).to_string();
                assert!(e.starts_with(prefix), "case {i} {path}: {e}");
            }
            Want::Map(pairs) => {
                let got = cl
                    .get_secret_map(&r)
                    .await
                    .unwrap_or_else(|e| panic!("case {i} {path}: {e}"));
                let got: Vec<(String, String)> = got
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                    .collect();
                let want: Vec<(String, String)> = pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                assert_eq!(got, want, "case {i} {path}");
            }
            Want::MapErr(prefix) => {
                let e = cl.get_secret_map(&r).await.expect_err(path).to_string();
                assert!(e.starts_with(prefix), "case {i} {path}: {e}");
            }
        }
    }
    assert_eq!(total, 20);
}

#[tokio::test]
async fn error_statuses_name_the_code_not_the_body() {
    let c = setup().await;
    let server = TestHttpServer::http(|r| match r.target.as_str() {
        "/missing" => Reply::status(404, "not found"),
        "/denied" => Reply::status(403, "token s3cr3t-token refused"),
        _ => Reply::status(500, "stack trace with s3cr3t-token"),
    })
    .await
    .expect("server");
    let store = webhook_store(
        StoreKind::SecretStore,
        json!({"url": format!("{}/{{{{ .remoteRef.key }}}}", server.url()),
               "headers": {"Authorization": "{{ .creds.token }}"},
               "secrets": [{"name": "creds", "secretRef": {"name": "creds"}}]}),
    );
    let cl = client(&c, &store).await.expect("client");
    let e = cl
        .get_secret(&remote("missing", None, None))
        .await
        .expect_err("404");
    assert!(e.is_no_secret(), "{e}");
    let e = cl
        .get_secret(&remote("denied", None, None))
        .await
        .expect_err("403");
    assert_eq!(e.to_string(), "endpoint gave error 403 Forbidden");
    assert!(matches!(e, ProviderError::Forbidden { .. }));
    let e = cl
        .get_secret(&remote("boom", None, None))
        .await
        .expect_err("500");
    assert_eq!(
        e.to_string(),
        "endpoint gave error 500 Internal Server Error"
    );
    assert!(e.is_retryable());
    let e = cl
        .get_all_secrets(&Default::default())
        .await
        .expect_err("find");
    assert!(e.to_string().starts_with("not implemented"), "{e}");
}

#[tokio::test]
async fn template_secrets_need_the_webhook_label_and_cluster_stores_a_namespace() {
    let c = setup().await;
    c.secret(
        NS,
        json!({"metadata": {"name": "plain"}, "stringData": {"token": "x"}}),
    )
    .await;
    let server = TestHttpServer::http(|_| Reply::ok("v"))
        .await
        .expect("server");
    let url = format!("{}/x", server.url());
    let store = webhook_store(
        StoreKind::SecretStore,
        json!({"url": url, "body": "{{ .p.token }}", "secrets": [{"name": "p", "secretRef": {"name": "plain"}}]}),
    );
    let cl = client(&c, &store).await.expect("client");
    let e = cl
        .get_secret(&remote("k", None, None))
        .await
        .expect_err("unlabelled");
    assert!(
        e.to_string()
            .contains("does not contain needed label 'external-secrets.io/type: webhook'"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("spec.provider.webhook.secrets[0].secretRef"),
        "{e}"
    );
    let cluster = webhook_store(
        StoreKind::ClusterSecretStore,
        json!({"url": url, "body": "{{ .c.token }}", "secrets": [{"name": "c", "secretRef": {"name": "creds"}}]}),
    );
    let cl = client(&c, &cluster).await.expect("client");
    let e = cl
        .get_secret(&remote("k", None, None))
        .await
        .expect_err("no namespace");
    assert!(
        e.to_string()
            .contains("no namespace on ClusterScoped webhook secret creds"),
        "{e}"
    );
    let cluster = webhook_store(
        StoreKind::ClusterSecretStore,
        json!({"url": url, "body": "{{ .c.token }}", "secrets": [{"name": "c", "secretRef": {"name": "creds", "namespace": NS}}]}),
    );
    let cl = client(&c, &cluster).await.expect("client");
    assert_eq!(
        cl.get_secret(&remote("k", None, None))
            .await
            .expect("value"),
        b"v"
    );
    assert_eq!(
        server.requests().last().expect("request").body,
        b"s3cr3t-token"
    );
    // NTLM is refused when the client is built, naming the way out.
    let ntlm = webhook_store(
        StoreKind::SecretStore,
        json!({"url": url, "auth": {"ntlm": {"usernameSecret": {"name": "creds", "key": "u"}, "passwordSecret": {"name": "creds", "key": "p"}}}}),
    );
    let e = client(&c, &ntlm)
        .await
        .err()
        .expect("ntlm refused")
        .to_string();
    assert!(
        e.contains("spec.provider.webhook.auth.ntlm is not supported"),
        "{e}"
    );
}

#[tokio::test]
async fn slow_and_oversized_answers_are_cut_off() {
    let c = setup().await;
    let server = TestHttpServer::http(|r| {
        if r.target == "/slow" {
            Reply {
                delay: Duration::from_secs(3),
                ..Reply::ok("late")
            }
        } else {
            Reply::ok(vec![b'a'; 2 << 20])
        }
    })
    .await
    .expect("server");
    let store = webhook_store(
        StoreKind::SecretStore,
        json!({"url": format!("{}/{{{{ .remoteRef.key }}}}", server.url()), "timeout": "300ms"}),
    );
    let cl = client(&c, &store).await.expect("client");
    let started = std::time::Instant::now();
    let e = cl
        .get_secret(&remote("slow", None, None))
        .await
        .expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(e.to_string().contains("context deadline exceeded"), "{e}");
    assert!(
        e.to_string().contains("spec.provider.webhook.timeout"),
        "{e}"
    );
    let e = cl
        .get_secret(&remote("big", None, None))
        .await
        .expect_err("too big");
    assert!(e.to_string().contains("larger than 1048576 bytes"), "{e}");
    let bad = webhook_store(
        StoreKind::SecretStore,
        json!({"url": "http://x", "timeout": "soon"}),
    );
    let e = client(&c, &bad)
        .await
        .err()
        .expect("bad timeout")
        .to_string();
    assert!(e.contains("spec.provider.webhook.timeout \"soon\""), "{e}");
}

#[tokio::test]
async fn tls_is_verified_against_the_ca_from_a_config_map() {
    let c = setup().await;
    let server = TestHttpServer::https(|_| Reply::ok(r#"{"v": "over-tls"}"#))
        .await
        .expect("server");
    let cms: Api<ConfigMap> = Api::namespaced(c.admin.clone(), NS);
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "hook-ca"},
        "data": {"ca.crt": server.ca_pem().expect("https CA")}
    }))
    .expect("configmap");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create configmap");
    let url = format!("{}/x", server.url());
    let trusted = webhook_store(
        StoreKind::SecretStore,
        json!({"url": url, "result": {"jsonPath": "$.v"},
               "caProvider": {"type": "ConfigMap", "name": "hook-ca", "key": "ca.crt"}}),
    );
    let cl = client(&c, &trusted).await.expect("client");
    assert_eq!(
        cl.get_secret(&remote("k", None, None))
            .await
            .expect("value"),
        b"over-tls"
    );
    // The system roots do not know the test CA: the handshake is refused.
    let system = webhook_store(StoreKind::SecretStore, json!({"url": url}));
    let cl = client(&c, &system).await.expect("client");
    let e = cl
        .get_secret(&remote("k", None, None))
        .await
        .expect_err("untrusted");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // Nor does another CA given as caBundle.
    let other = TestHttpServer::https(|_| Reply::ok(""))
        .await
        .expect("other server");
    use base64::Engine as _;
    let other_ca = base64::engine::general_purpose::STANDARD.encode(other.ca_pem().expect("CA"));
    let wrong = webhook_store(
        StoreKind::SecretStore,
        json!({"url": url, "caBundle": other_ca}),
    );
    let cl = client(&c, &wrong).await.expect("client");
    let e = cl
        .get_secret(&remote("k", None, None))
        .await
        .expect_err("wrong CA");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    assert_eq!(
        server.requests().len(),
        1,
        "no request went through without trust"
    );
}

fn push_entry(secret_key: Option<&str>, remote_key: &str) -> PushEntry {
    PushEntry {
        secret_key: secret_key.map(str::to_owned),
        remote_ref: PushSecretRemoteRef {
            remote_key: remote_key.to_owned(),
            property: None,
        },
        ..PushEntry::default()
    }
}

#[tokio::test]
async fn pushes_and_deletes_send_eso_requests() {
    let c = setup().await;
    let server = TestHttpServer::http(|r| {
        if r.target.contains("gone") {
            Reply::status(404, "")
        } else {
            Reply::ok("")
        }
    })
    .await
    .expect("server");
    let secret = LocalSecret {
        name: "local".into(),
        namespace: NS.into(),
        data: [
            ("user".to_owned(), b"admin".to_vec()),
            ("pw".to_owned(), b"a<b&c".to_vec()),
        ]
        .into(),
        ..LocalSecret::default()
    };
    let base = format!("{}/push?id={{{{ .remoteRef.remoteKey }}}}", server.url());
    let plain = webhook_store(StoreKind::SecretStore, json!({"url": base}));
    let cl = client(&c, &plain).await.expect("client");
    cl.push_secret(&secret, &push_entry(Some("pw"), "db"))
        .await
        .expect("push one key");
    cl.push_secret(&secret, &push_entry(None, "all"))
        .await
        .expect("push whole secret");
    let templated = webhook_store(
        StoreKind::SecretStore,
        json!({"url": base, "method": "PUT", "body": "pre {{ .remoteRef.remoteKey }} {{ .remoteRef.db }} {{ .remoteRef.secretKey }} post"}),
    );
    let cl2 = client(&c, &templated).await.expect("client");
    cl2.push_secret(&secret, &push_entry(Some("pw"), "db"))
        .await
        .expect("templated push");
    let e = cl
        .push_secret(&secret, &push_entry(Some("nope"), "db"))
        .await
        .expect_err("no key");
    assert_eq!(
        e.to_string(),
        "failed to find secret key in secret with key: nope"
    );
    cl.delete_secret(&push_entry(None, "db"))
        .await
        .expect("delete");
    cl.delete_secret(&push_entry(None, "gone"))
        .await
        .expect("delete of a missing secret");
    assert!(
        cl.secret_exists(&push_entry(None, "db"))
            .await
            .expect("exists")
    );
    assert!(
        !cl.secret_exists(&push_entry(None, "gone"))
            .await
            .expect("exists")
    );
    let got = server.requests();
    let summary: Vec<(String, String, String)> = got
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.target.clone(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        summary,
        vec![
            s("POST", "/push?id=db", "a<b&c"),
            // The whole Secret: a JSON object of strings, without HTML escaping.
            s("POST", "/push?id=all", r#"{"pw":"a<b&c","user":"admin"}"#),
            s("PUT", "/push?id=db", "pre db a<b&c pw post"),
            s("DELETE", "/push?id=db", ""),
            s("DELETE", "/push?id=gone", ""),
            s("GET", "/push?id=db", ""),
            s("GET", "/push?id=gone", ""),
        ]
    );
}

#[tokio::test]
async fn validate_dials_the_url_host() {
    let c = setup().await;
    let server = TestHttpServer::http(|_| Reply::ok(""))
        .await
        .expect("server");
    let up = webhook_store(
        StoreKind::SecretStore,
        json!({"url": format!("{}/{{{{ .remoteRef.key }}}}", server.url())}),
    );
    let cl = client(&c, &up).await.expect("client");
    assert_eq!(
        cl.validate().await.expect("reachable"),
        ValidationResult::Ready
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let down = webhook_store(
        StoreKind::SecretStore,
        json!({"url": format!("http://127.0.0.1:{port}/x")}),
    );
    let cl = client(&c, &down).await.expect("client");
    let e = cl.validate().await.expect_err("nothing listens");
    assert!(
        e.to_string().starts_with("error accessing external store"),
        "{e}"
    );
    let templated = webhook_store(
        StoreKind::SecretStore,
        json!({"url": "https://{{ .creds.host }}/x"}),
    );
    let cl = client(&c, &templated).await.expect("client");
    let (r, why) = cl.validate_with_reason().await.expect("unknown");
    assert_eq!(r, ValidationResult::Unknown);
    assert!(why.expect("reason").contains("spec.provider.webhook.url"));
}
