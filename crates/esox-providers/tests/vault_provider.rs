//! The Vault provider against a real OpenBao server (`bao server -dev`, started per test by
//! esox-testenv) with its credential Secrets on esox-testcluster (the in-memory API server).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Cluster, cluster, text};
use esox_api::v1::{RemoteRef, StoreKind};
use esox_providers::vault::{CALL_LOGIN, PROVIDER_VAULT};
use esox_providers::{Provider, SecretsClient, StoreInfo, ValidationResult};
use esox_testenv::openbao::OpenBao;
use serde_json::{Value, json};

const NS: &str = "app";

struct Env {
    c: Cluster,
    bao: OpenBao,
    logins: Arc<AtomicUsize>,
}

async fn env() -> Env {
    let bao = OpenBao::start().expect("OpenBao starts");
    let c = cluster().await;
    c.namespace(NS).await;
    let logins = Arc::new(AtomicUsize::new(0));
    let counter = logins.clone();
    c.runtime
        .set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
            if provider == PROVIDER_VAULT && call == CALL_LOGIN && ok {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })));
    Env { c, bao, logins }
}

impl Env {
    fn vault(&self) -> &dyn Provider {
        self.c.runtime.provider("vault").expect("vault is built in")
    }

    /// A SecretStore in [`NS`] on this server, with `extra` merged into the provider block.
    fn store(&self, extra: Value) -> StoreInfo {
        let mut provider = json!({"server": self.bao.addr(), "path": "secret", "version": "v2"});
        if let (Some(p), Value::Object(e)) = (provider.as_object_mut(), extra) {
            for (k, v) in e {
                p.insert(k, v);
            }
        }
        StoreInfo {
            kind: StoreKind::SecretStore,
            name: "vault".into(),
            namespace: Some(NS.into()),
            spec: serde_json::from_value(json!({"provider": {"vault": provider}}))
                .expect("store spec"),
        }
    }

    async fn secret(&self, name: &str, data: Value) {
        self.c
            .secret(NS, json!({"metadata": {"name": name}, "stringData": data}))
            .await;
    }

    /// A store that logs in with the root token from a Secret.
    async fn token_store(&self, extra: Value) -> StoreInfo {
        self.secret("root-token", json!({"token": self.bao.root_token()}))
            .await;
        let mut extra = extra;
        if let Some(e) = extra.as_object_mut() {
            e.insert(
                "auth".into(),
                json!({"tokenSecretRef": {"name": "root-token", "key": "token"}}),
            );
        }
        self.store(extra)
    }

    async fn client(&self, s: &StoreInfo) -> Box<dyn SecretsClient> {
        self.vault()
            .new_client(s, &self.c.ctx(Some(NS)))
            .await
            .unwrap_or_else(|e| panic!("client: {e}"))
    }

    fn put(&self, path: &str, data: Value) {
        self.bao
            .must("POST", path, Some(json!({ "data": data })))
            .expect("write to OpenBao");
    }

    fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }
}

fn rref(key: &str, property: Option<&str>) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        property: property.map(str::to_owned),
        ..Default::default()
    }
}

#[tokio::test]
async fn token_auth_reads_kv_v2() {
    let e = env().await;
    e.put(
        "secret/data/app/db",
        json!({"user": "admin", "password": "s3cr3t"}),
    );
    let s = e.token_store(json!({})).await;
    assert!(e.vault().validate_store(&s).expect("valid").is_empty());
    let cl = e.client(&s).await;
    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Ready
    );
    let v = cl
        .get_secret(&rref("app/db", Some("user")))
        .await
        .expect("read");
    assert_eq!(text(&v), "admin");
    let whole = cl.get_secret(&rref("app/db", None)).await.expect("read");
    assert_eq!(text(&whole), r#"{"password":"s3cr3t","user":"admin"}"#);
    // The key may repeat the mount, and the data/ segment, as in ESO.
    let v = cl
        .get_secret(&rref("secret/data/app/db", Some("password")))
        .await
        .expect("read with mount prefix");
    assert_eq!(text(&v), "s3cr3t");
    let missing = cl
        .get_secret(&rref("app/none", None))
        .await
        .expect_err("missing");
    assert!(missing.is_no_secret(), "{missing:?}");
    assert_eq!(e.logins(), 0, "a static token is not a login");
}

/// Policy `reader`: read and list under secret/app, nothing else.
fn reader_policy(e: &Env) {
    e.bao
        .must(
            "PUT",
            "sys/policies/acl/reader",
            Some(json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }\npath \"secret/metadata/app/*\" { capabilities = [\"read\", \"list\"] }"})),
        )
        .expect("policy");
}

#[tokio::test]
async fn approle_reads_kv_v2_with_one_login_for_many_reads() {
    let e = env().await;
    reader_policy(&e);
    e.put("secret/data/app/db", json!({"user": "admin"}));
    e.bao
        .must("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
        .expect("enable approle");
    e.bao
        .must(
            "POST",
            "auth/approle/role/esox",
            Some(json!({"token_policies": ["reader"], "token_ttl": "1h"})),
        )
        .expect("role");
    let role_id = e
        .bao
        .must("GET", "auth/approle/role/esox/role-id", None)
        .expect("role id")["data"]["role_id"]
        .as_str()
        .expect("role id")
        .to_owned();
    let secret_id = e
        .bao
        .must("POST", "auth/approle/role/esox/secret-id", Some(json!({})))
        .expect("secret id")["data"]["secret_id"]
        .as_str()
        .expect("secret id")
        .to_owned();
    e.secret(
        "approle",
        json!({"role-id": role_id, "secret-id": secret_id}),
    )
    .await;
    // roleRef from a Secret.
    let s = e.store(json!({"auth": {"appRole": {
        "roleRef": {"name": "approle", "key": "role-id"},
        "secretRef": {"name": "approle", "key": "secret-id"}
    }}}));
    for _ in 0..50 {
        let cl = e.client(&s).await;
        let v = cl
            .get_secret(&rref("app/db", Some("user")))
            .await
            .expect("read");
        assert_eq!(text(&v), "admin");
    }
    assert_eq!(e.logins(), 1, "one login serves 50 clients and reads");
    // Inline roleId: other credentials, so another session (and login).
    let inline = e.store(json!({"auth": {"appRole": {
        "roleId": role_id,
        "secretRef": {"name": "approle", "key": "secret-id"}
    }}}));
    let cl = e.client(&inline).await;
    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Ready
    );
    assert_eq!(e.logins(), 2);
}

#[tokio::test]
async fn userpass_reads_kv_v2() {
    let e = env().await;
    reader_policy(&e);
    e.put("secret/data/app/db", json!({"user": "admin"}));
    e.bao
        .must(
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "userpass"})),
        )
        .expect("enable userpass");
    e.bao
        .must(
            "POST",
            "auth/userpass/users/esox",
            Some(json!({"password": "pw-123", "token_policies": ["reader"]})),
        )
        .expect("user");
    e.secret("userpass", json!({"password": "pw-123"})).await;
    let s = e.store(json!({"auth": {"userPass": {
        "username": "esox",
        "secretRef": {"name": "userpass", "key": "password"}
    }}}));
    let cl = e.client(&s).await;
    let v = cl
        .get_secret(&rref("app/db", Some("user")))
        .await
        .expect("read");
    assert_eq!(text(&v), "admin");
    assert_eq!(e.logins(), 1);
}
