//! The Vault provider end to end: esox's controllers on the test cluster (the real
//! kube-apiserver when `ESOX_TEST_KUBECONFIG` is set, else the in-memory one) and a real
//! OpenBao server. A SecretStore logging in with AppRole, ExternalSecrets reading KV v2 into
//! Secrets (with a decoding strategy applied by the controller), and a PushSecret writing to
//! Vault and removing what it wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use common::{Env, apply, value};
use esox_api::v1alpha1::PushSecret;
use esox_testenv::openbao::OpenBao;
use kube::api::DeleteParams;
use serde_json::json;

/// OpenBao with a KV v2 secret, a `reader-writer` policy on `secret/app/*` and an AppRole
/// `esox` holding it; returns (role ID, secret ID).
fn prepare(bao: &OpenBao) -> (String, String) {
    bao.must(
        "POST",
        "secret/data/app/db",
        Some(json!({"data": {"user": "admin", "cert": "aGVsbG8="}})),
    )
    .unwrap();
    bao.must(
        "PUT",
        "sys/policies/acl/rw",
        Some(json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\"] }\npath \"secret/metadata/app/*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }"})),
    )
    .unwrap();
    bao.must("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
        .unwrap();
    bao.must(
        "POST",
        "auth/approle/role/esox",
        Some(json!({"token_policies": ["rw"], "token_ttl": "1h"})),
    )
    .unwrap();
    let role_id = bao
        .must("GET", "auth/approle/role/esox/role-id", None)
        .unwrap()["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id = bao
        .must("POST", "auth/approle/role/esox/secret-id", Some(json!({})))
        .unwrap()["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (role_id, secret_id)
}

#[tokio::test]
async fn external_secrets_read_and_a_push_secret_writes_vault() {
    let bao = OpenBao::start().expect("OpenBao starts");
    let (role_id, secret_id) = prepare(&bao);
    let env = Env::start().await;
    apply(
        &env.client,
        &format!(
            r#"
apiVersion: v1
kind: Namespace
metadata: {{name: app}}
---
apiVersion: v1
kind: Secret
metadata: {{name: approle, namespace: app}}
stringData: {{secret-id: "{secret_id}"}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: vault, namespace: app}}
spec:
  provider:
    vault:
      server: "{addr}"
      path: secret
      version: v2
      auth:
        appRole:
          roleId: "{role_id}"
          secretRef: {{name: approle, key: secret-id}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db, namespace: app}}
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: vault, kind: SecretStore}}
  target: {{name: db}}
  data:
    - secretKey: username
      remoteRef: {{key: app/db, property: user}}
    - secretKey: cert
      remoteRef: {{key: app/db, property: cert, decodingStrategy: Base64}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {{name: db-all, namespace: app}}
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: vault, kind: SecretStore}}
  target: {{name: db-all}}
  dataFrom:
    - extract: {{key: app/db}}
---
apiVersion: v1
kind: Secret
metadata: {{name: src, namespace: app}}
stringData: {{token: pushed-token}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {{name: to-vault, namespace: app}}
spec:
  refreshInterval: 1h
  deletionPolicy: Delete
  secretStoreRefs: [{{name: vault, kind: SecretStore}}]
  selector: {{secret: {{name: src}}}}
  data:
    - match: {{secretKey: token, remoteRef: {{remoteKey: app/pushed, property: api-token}}}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {{name: if-absent, namespace: app}}
spec:
  refreshInterval: 1h
  updatePolicy: IfNotExists
  secretStoreRefs: [{{name: vault, kind: SecretStore}}]
  selector: {{secret: {{name: src}}}}
  data:
    - match: {{secretKey: token, remoteRef: {{remoteKey: app/db, property: user}}}}
"#,
            addr = bao.addr(),
        ),
    )
    .await;

    let db = env
        .secret_where("app", "db", |s| value(s, "username").is_some())
        .await
        .expect("ExternalSecret db synced");
    assert_eq!(value(&db, "username").unwrap(), b"admin");
    assert_eq!(
        value(&db, "cert").unwrap(),
        b"hello",
        "decodingStrategy applied"
    );
    let all = env
        .secret_where("app", "db-all", |s| value(s, "user").is_some())
        .await
        .expect("ExternalSecret db-all synced");
    assert_eq!(value(&all, "cert").unwrap(), b"aGVsbG8=");
    assert!(env.es_ready("app", "db", "True").await.is_some());

    // The PushSecret wrote the property, with ESO's ownership marker.
    let pushed = common::wait_until(Duration::from_secs(10), || async {
        let (status, body) = bao.api("GET", "secret/data/app/pushed", None).ok()?;
        (status == 200).then_some(body)
    })
    .await
    .expect("PushSecret wrote to Vault");
    assert_eq!(pushed["data"]["data"]["api-token"], "pushed-token");
    let meta = bao.must("GET", "secret/metadata/app/pushed", None).unwrap();
    assert_eq!(
        meta["data"]["custom_metadata"]["managed-by"],
        "external-secrets"
    );

    // IfNotExists leaves the existing secret alone (and its Ready condition says synced).
    assert!(
        common::ready_where(
            &env.api::<PushSecret>("app"),
            "if-absent",
            Duration::from_secs(10),
            |ps| Some(ps.status?.conditions),
            |c| c.status == "True",
        )
        .await
        .is_some(),
        "the IfNotExists PushSecret is Ready"
    );
    let db = bao.must("GET", "secret/data/app/db", None).unwrap();
    assert_eq!(db["data"]["data"]["user"], "admin");
    assert_eq!(db["data"]["metadata"]["version"], 1, "no write to app/db");

    // One login served the store's validation, both ExternalSecrets and the PushSecrets.
    let logins = "externalsecret_provider_api_calls_count{provider=\"HashiCorp/Vault\",call=\"Login\",status=\"success\"} 1\n";
    let text = env.ctx.metrics.render();
    assert!(text.contains(logins), "{text}");

    // Deleting the PushSecret (deletionPolicy Delete) removes what it wrote.
    let api: kube::Api<PushSecret> = env.api("app");
    api.delete("to-vault", &DeleteParams::default())
        .await
        .unwrap();
    let gone = common::wait_until(Duration::from_secs(10), || async {
        let (status, _) = bao.api("GET", "secret/metadata/app/pushed", None).ok()?;
        (status == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the pushed secret is deleted from Vault");
    // The secret esox did not create is untouched.
    let (status, _) = bao.api("GET", "secret/data/app/db", None).unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_store_with_a_wrong_secret_id_is_not_ready_and_says_why() {
    let bao = OpenBao::start().expect("OpenBao starts");
    let (role_id, _) = prepare(&bao);
    let env = Env::start().await;
    apply(
        &env.client,
        &format!(
            r#"
apiVersion: v1
kind: Namespace
metadata: {{name: app}}
---
apiVersion: v1
kind: Secret
metadata: {{name: approle, namespace: app}}
stringData: {{secret-id: not-the-secret-id-0000}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: vault, namespace: app}}
spec:
  provider:
    vault:
      server: "{addr}"
      path: secret
      auth:
        appRole:
          roleId: "{role_id}"
          secretRef: {{name: approle, key: secret-id}}
"#,
            addr = bao.addr(),
        ),
    )
    .await;
    let api: kube::Api<esox_api::v1::SecretStore> = env.api("app");
    let cond = common::ready_where(
        &api,
        "vault",
        Duration::from_secs(10),
        |s| Some(s.status?.conditions),
        |c| c.status == "False",
    )
    .await
    .expect("the store is not Ready");
    let msg = cond.message.unwrap_or_default();
    assert!(
        msg.contains("appRole: login at auth/approle/login failed"),
        "{msg}"
    );
    assert!(!msg.contains("not-the-secret-id-0000"), "{msg}");
}
