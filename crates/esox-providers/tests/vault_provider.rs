//! The Vault provider against a real OpenBao server (`bao server -dev`, started per test by
//! esox-testenv) with its credential Secrets on esox-testcluster (the in-memory API server).

mod common;

use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Cluster, cluster, text};
use esox_api::v1::{ExternalSecretFind, FindName, MetadataPolicy, RemoteRef, StoreKind};
use esox_api::v1alpha1::PushSecretRemoteRef;
use esox_providers::vault::{CALL_LOGIN, CALL_RENEW_SELF, PROVIDER_VAULT};
use esox_providers::{
    LocalSecret, Provider, ProviderError, PushEntry, SecretsClient, StoreInfo, ValidationResult,
};
use esox_testenv::openbao::OpenBao;
use serde_json::{Value, json};

const NS: &str = "app";

struct Env {
    c: Cluster,
    bao: OpenBao,
    /// Every Vault API call the provider reported: (call, ok).
    calls: Arc<Mutex<Vec<(&'static str, bool)>>>,
}

async fn env() -> Env {
    env_with(OpenBao::start().expect("OpenBao starts")).await
}

async fn env_with(bao: OpenBao) -> Env {
    let c = cluster().await;
    c.namespace(NS).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    c.runtime
        .set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
            if provider == PROVIDER_VAULT {
                seen.lock().expect("calls").push((call, ok));
            }
        })));
    Env { c, bao, calls }
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

    /// A store that logs in with the root token from Secret `root-token`.
    async fn token_store(&self, extra: Value) -> StoreInfo {
        self.token_store_named("root-token", extra).await
    }

    /// A store that logs in with the root token from Secret `secret_name` (created here).
    async fn token_store_named(&self, secret_name: &str, extra: Value) -> StoreInfo {
        self.secret(secret_name, json!({"token": self.bao.root_token()}))
            .await;
        let mut extra = extra;
        if let Some(e) = extra.as_object_mut() {
            e.insert(
                "auth".into(),
                json!({"tokenSecretRef": {"name": secret_name, "key": "token"}}),
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

    /// Successful calls named `call` so far.
    fn count(&self, call: &str) -> usize {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|(c, ok)| *c == call && *ok)
            .count()
    }

    fn logins(&self) -> usize {
        self.count(CALL_LOGIN)
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

fn entry(key: &str, property: Option<&str>, secret_key: Option<&str>) -> PushEntry {
    PushEntry {
        secret_key: secret_key.map(str::to_owned),
        remote_ref: PushSecretRemoteRef {
            remote_key: key.into(),
            property: property.map(str::to_owned),
        },
        owner: Some("app/ps".into()),
        ..Default::default()
    }
}

fn local(pairs: &[(&str, &str)]) -> LocalSecret {
    LocalSecret {
        name: "source".into(),
        namespace: NS.into(),
        type_: "Opaque".into(),
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
        ..Default::default()
    }
}

/// Everything an error shows: message, sources and debug forms.
fn everything_in(e: &ProviderError) -> String {
    let mut out = format!("{e} | {e:?}");
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(" | {s} | {s:?}"));
        cur = s.source();
    }
    out
}

#[tokio::test]
async fn kv_v1_and_v2_versions_properties_extract_and_metadata() {
    let e = env().await;
    e.bao
        .must(
            "POST",
            "sys/mounts/kv1",
            Some(json!({"type": "kv", "options": {"version": "1"}})),
        )
        .expect("mount kv v1");
    e.bao
        .must(
            "POST",
            "kv1/app/cfg",
            Some(json!({"host": "db", "port": 5432, "nested": {"a": {"b": "deep"}}})),
        )
        .expect("write v1");
    e.put("secret/data/app/cfg", json!({"pw": "one"}));
    e.put(
        "secret/data/app/cfg",
        json!({"pw": "two", "json": {"k": [1, 2]}, "flag": true}),
    );
    e.bao
        .must(
            "POST",
            "secret/metadata/app/cfg",
            Some(json!({"custom_metadata": {"owner": "team-a"}})),
        )
        .expect("custom metadata");

    let v1 = e.token_store(json!({"path": "kv1", "version": "v1"})).await;
    let cl = e.client(&v1).await;
    assert_eq!(
        cl.validate().await.expect("validate v1"),
        ValidationResult::Ready
    );
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/cfg", Some("port")))
                .await
                .expect("port")
        ),
        "5432"
    );
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/cfg", Some("nested.a.b")))
                .await
                .expect("gjson")
        ),
        "deep"
    );
    assert_eq!(
        text(
            &cl.get_secret(&rref("kv1/app/cfg", Some("host")))
                .await
                .expect("prefixed")
        ),
        "db"
    );
    let map = cl
        .get_secret_map(&rref("app/cfg", None))
        .await
        .expect("extract v1");
    assert_eq!(text(&map["nested"]), r#"{"a":{"b":"deep"}}"#);
    assert_eq!(text(&map["port"]), "5432");
    let mut fetch = rref("app/cfg", None);
    fetch.metadata_policy = Some(MetadataPolicy::Fetch);
    let err = cl.get_secret(&fetch).await.expect_err("metadata on v1");
    assert!(err.to_string().contains("kv version v1"), "{err}");

    let cl = e
        .client(
            &e.store(json!({"auth": {"tokenSecretRef": {"name": "root-token", "key": "token"}}})),
        )
        .await;
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/cfg", Some("pw")))
                .await
                .expect("latest")
        ),
        "two"
    );
    let mut first = rref("app/cfg", Some("pw"));
    first.version = Some("1".into());
    assert_eq!(
        text(&cl.get_secret(&first).await.expect("version 1")),
        "one"
    );
    first.version = Some("latest".into());
    let err = cl.get_secret(&first).await.expect_err("bad version");
    assert!(
        matches!(err, ProviderError::InvalidConfig(_))
            && err.to_string().contains("remoteRef.version"),
        "{err}"
    );
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/cfg", Some("json.k.1")))
                .await
                .expect("gjson")
        ),
        "2"
    );
    let map = cl
        .get_secret_map(&rref("app/cfg", None))
        .await
        .expect("extract");
    assert_eq!(text(&map["flag"]), "true");
    assert_eq!(text(&map["json"]), r#"{"k":[1,2]}"#);
    let sub = cl
        .get_secret_map(&rref("app/cfg", Some("json")))
        .await
        .expect("extract property");
    assert_eq!(text(&sub["k"]), "[1,2]");
    let mut fetch = rref("app/cfg", Some("owner"));
    fetch.metadata_policy = Some(MetadataPolicy::Fetch);
    assert_eq!(
        text(&cl.get_secret(&fetch).await.expect("metadata")),
        "team-a"
    );
    fetch.property = Some("current_version".into());
    assert_eq!(text(&cl.get_secret(&fetch).await.expect("version")), "2");
    let missing = cl
        .get_secret_map(&rref("app/none", None))
        .await
        .expect_err("missing");
    assert!(missing.is_no_secret(), "{missing:?}");
    let err = cl
        .get_secret(&rref("app/cfg", Some("nope")))
        .await
        .expect_err("no property");
    assert!(err.to_string().contains("\"nope\""), "{err}");
}

#[tokio::test]
async fn find_by_path_name_and_tags() {
    let e = env().await;
    for (path, tag) in [
        ("app/db", "db"),
        ("app/web/tls", "web"),
        ("app/web/key", "db"),
        ("other/x", "db"),
    ] {
        e.put(&format!("secret/data/{path}"), json!({"v": path}));
        e.bao
            .must(
                "POST",
                &format!("secret/metadata/{path}"),
                Some(json!({"custom_metadata": {"kind": tag}})),
            )
            .expect("tag");
    }
    let cl = e.client(&e.token_store(json!({})).await).await;
    let by_path = ExternalSecretFind {
        path: Some("app".into()),
        name: Some(FindName {
            regexp: ".*".into(),
        }),
        ..Default::default()
    };
    let found = cl.get_all_secrets(&by_path).await.expect("find by path");
    // Names keep their folders; '/' becomes '_' under the Default conversion, as in ESO.
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        ["app_db", "app_web_key", "app_web_tls"]
    );
    assert_eq!(text(&found["app_db"]), r#"{"v":"app/db"}"#);
    let by_name = ExternalSecretFind {
        name: Some(FindName {
            regexp: "web/t".into(),
        }),
        ..Default::default()
    };
    let found = cl.get_all_secrets(&by_name).await.expect("find by name");
    assert_eq!(found.keys().collect::<Vec<_>>(), ["app_web_tls"]);
    let by_tags = ExternalSecretFind {
        tags: BTreeMap::from([("kind".to_owned(), "db".to_owned())]),
        ..Default::default()
    };
    let found = cl.get_all_secrets(&by_tags).await.expect("find by tags");
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        ["app_db", "app_web_key", "other_x"]
    );
    let nothing = ExternalSecretFind {
        path: Some("absent".into()),
        ..Default::default()
    };
    let err = cl
        .get_all_secrets(&nothing)
        .await
        .expect_err("empty folder");
    assert!(err.is_no_secret(), "{err:?}");
}

#[tokio::test]
async fn namespaces_route_reads_and_logins() {
    let e = env().await;
    e.bao
        .must("POST", "sys/namespaces/team1", Some(json!({})))
        .expect("namespace");
    let root = e.bao.root_token().to_owned();
    let (status, _) = e
        .bao
        .api_as(
            &root,
            Some("team1"),
            "POST",
            "sys/mounts/kv",
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .expect("mount in namespace");
    assert_eq!(status, 204);
    let (status, _) = e
        .bao
        .api_as(
            &root,
            Some("team1"),
            "POST",
            "kv/data/app",
            Some(json!({"data": {"where": "team1"}})),
        )
        .expect("write in namespace");
    assert_eq!(status, 200);
    let (status, _) = e
        .bao
        .api_as(
            &root,
            Some("team1"),
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "userpass"})),
        )
        .expect("userpass in namespace");
    assert_eq!(status, 204);
    let (status, _) = e
        .bao
        .api_as(
            &root,
            Some("team1"),
            "PUT",
            "sys/policies/acl/r",
            Some(json!({"policy": "path \"kv/data/*\" { capabilities = [\"read\"] }"})),
        )
        .expect("policy in namespace");
    assert_eq!(status, 204);
    let (status, _) = e
        .bao
        .api_as(
            &root,
            Some("team1"),
            "POST",
            "auth/userpass/users/u",
            Some(json!({"password": "p-ns", "token_policies": ["r"]})),
        )
        .expect("user in namespace");
    assert_eq!(status, 204);
    e.secret("pw", json!({"password": "p-ns"})).await;
    let s = e.store(json!({"path": "kv", "namespace": "team1", "auth": {"userPass": {"username": "u", "secretRef": {"name": "pw", "key": "password"}}}}));
    let cl = e.client(&s).await;
    assert_eq!(
        text(
            &cl.get_secret(&rref("app", Some("where")))
                .await
                .expect("read in namespace")
        ),
        "team1"
    );
    // Without the namespace the mount does not exist at the root.
    let root_store = e.token_store(json!({"path": "kv"})).await;
    let err = e
        .client(&root_store)
        .await
        .get_secret(&rref("app", None))
        .await
        .expect_err("no kv at root");
    assert!(matches!(err, ProviderError::InvalidConfig(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("no secrets engine is mounted at kv"),
        "{err}"
    );
}

#[tokio::test]
async fn push_create_update_exists_and_delete() {
    let e = env().await;
    let cl = e.client(&e.token_store(json!({})).await).await;
    let src = local(&[("pw", "p1"), ("user", "u1")]);
    // A property of a new secret.
    let pw = entry("app/pushed", Some("password"), Some("pw"));
    assert!(!cl.secret_exists(&pw).await.expect("exists"));
    cl.push_secret(&src, &pw).await.expect("push create");
    assert!(cl.secret_exists(&pw).await.expect("exists"));
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/pushed", Some("password")))
                .await
                .expect("read")
        ),
        "p1"
    );
    let meta = e
        .bao
        .must("GET", "secret/metadata/app/pushed", None)
        .expect("metadata");
    assert_eq!(
        meta["data"]["custom_metadata"]["managed-by"],
        "external-secrets"
    );
    // A second property joins the first; pushing the same again writes nothing.
    let user = entry("app/pushed", Some("user"), Some("user"));
    cl.push_secret(&src, &user)
        .await
        .expect("push second property");
    cl.push_secret(&src, &user).await.expect("push unchanged");
    let meta = e
        .bao
        .must("GET", "secret/metadata/app/pushed", None)
        .expect("metadata");
    assert_eq!(
        meta["data"]["current_version"], 2,
        "an unchanged push writes no version"
    );
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/pushed", None))
                .await
                .expect("read")
        ),
        r#"{"password":"p1","user":"u1"}"#
    );
    // Update.
    cl.push_secret(&local(&[("pw", "p2")]), &pw)
        .await
        .expect("push update");
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/pushed", Some("password")))
                .await
                .expect("read")
        ),
        "p2"
    );
    // Deleting one property keeps the others; the last one removes the secret.
    cl.delete_secret(&pw).await.expect("delete property");
    assert!(!cl.secret_exists(&pw).await.expect("exists"));
    assert!(cl.secret_exists(&user).await.expect("exists"));
    cl.delete_secret(&user).await.expect("delete last property");
    let (status, _) = e
        .bao
        .api("GET", "secret/metadata/app/pushed", None)
        .expect("gone");
    assert_eq!(status, 404, "the whole secret, all versions, is gone");
    cl.delete_secret(&user)
        .await
        .expect("deleting what is gone succeeds");

    // The whole Secret as one JSON object, with custom metadata.
    let mut whole = entry("app/whole", None, None);
    whole.metadata = Some(json!({
        "apiVersion": "kubernetes.external-secrets.io/v1alpha1",
        "kind": "PushSecretMetadata",
        "spec": {"customMetadata": {"team": "a", "managed-by": "someone-else"}}
    }));
    cl.push_secret(&src, &whole).await.expect("push whole");
    assert_eq!(
        text(&cl.get_secret(&rref("app/whole", None)).await.expect("read")),
        r#"{"pw":"p1","user":"u1"}"#
    );
    let meta = e
        .bao
        .must("GET", "secret/metadata/app/whole", None)
        .expect("metadata");
    assert_eq!(
        meta["data"]["custom_metadata"],
        json!({"team": "a", "managed-by": "external-secrets"})
    );
    cl.delete_secret(&whole).await.expect("delete whole");
    assert!(!cl.secret_exists(&whole).await.expect("exists"));
}

#[tokio::test]
async fn push_never_overwrites_or_deletes_what_esox_did_not_create() {
    let e = env().await;
    e.put("secret/data/app/theirs", json!({"password": "keep"}));
    let cl = e.client(&e.token_store(json!({})).await).await;
    let theirs = entry("app/theirs", Some("password"), Some("pw"));
    assert!(
        cl.secret_exists(&theirs).await.expect("exists"),
        "IfNotExists sees it"
    );
    let err = cl
        .push_secret(&local(&[("pw", "new")]), &theirs)
        .await
        .expect_err("not managed");
    assert!(
        err.to_string().contains("not managed by external-secrets"),
        "{err}"
    );
    cl.delete_secret(&theirs).await.expect("delete is a no-op");
    cl.delete_secret(&entry("app/theirs", None, None))
        .await
        .expect("delete is a no-op");
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/theirs", Some("password")))
                .await
                .expect("still there")
        ),
        "keep"
    );
    // A secret whose versions were all deleted keeps someone else's metadata: not taken over.
    e.put("secret/data/app/soft", json!({"a": "b"}));
    e.bao
        .must(
            "POST",
            "secret/metadata/app/soft",
            Some(json!({"custom_metadata": {"owner": "team-x"}})),
        )
        .expect("metadata");
    e.bao
        .must("DELETE", "secret/data/app/soft", None)
        .expect("soft delete");
    let soft = entry("app/soft", Some("a"), Some("pw"));
    assert!(!cl.secret_exists(&soft).await.expect("exists"));
    let err = cl
        .push_secret(&local(&[("pw", "x")]), &soft)
        .await
        .expect_err("foreign metadata");
    assert!(err.to_string().contains("not managed"), "{err}");
    let meta = e
        .bao
        .must("GET", "secret/metadata/app/soft", None)
        .expect("metadata");
    assert_eq!(meta["data"]["custom_metadata"], json!({"owner": "team-x"}));
    // KV v1 keeps the marker inside the data.
    e.bao
        .must(
            "POST",
            "sys/mounts/kv1",
            Some(json!({"type": "kv", "options": {"version": "1"}})),
        )
        .expect("mount v1");
    e.bao
        .must("POST", "kv1/theirs", Some(json!({"a": "b"})))
        .expect("write v1");
    let v1 = e
        .client(
            &e.token_store_named("root-token-2", json!({"path": "kv1", "version": "v1"}))
                .await,
        )
        .await;
    let err = v1
        .push_secret(
            &local(&[("pw", "x")]),
            &entry("theirs", Some("a"), Some("pw")),
        )
        .await
        .expect_err("v1 not managed");
    assert!(err.to_string().contains("not managed"), "{err}");
    let ours = entry("ours", Some("a"), Some("pw"));
    v1.push_secret(&local(&[("pw", "x")]), &ours)
        .await
        .expect("v1 create");
    let raw = e.bao.must("GET", "kv1/ours", None).expect("read v1");
    assert_eq!(
        raw["data"]["custom_metadata"]["managed-by"],
        "external-secrets"
    );
    assert_eq!(
        text(&v1.get_secret(&rref("ours", Some("a"))).await.expect("read")),
        "x"
    );
    v1.delete_secret(&ours).await.expect("v1 delete");
    let (status, _) = e.bao.api("GET", "kv1/ours", None).expect("gone");
    assert_eq!(status, 404);
}

#[tokio::test]
async fn check_and_set_from_the_store_or_the_mount() {
    let e = env().await;
    let src = local(&[("pw", "v1")]);
    // The store asks for CAS.
    let cl = e
        .client(
            &e.token_store(json!({"checkAndSet": {"required": true}}))
                .await,
        )
        .await;
    let pw = entry("app/cas", Some("pw"), Some("pw"));
    cl.push_secret(&src, &pw).await.expect("cas create");
    cl.push_secret(&local(&[("pw", "v2")]), &pw)
        .await
        .expect("cas update");
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/cas", Some("pw")))
                .await
                .expect("read")
        ),
        "v2"
    );
    // The mount requires CAS and the store does not say so.
    e.bao
        .must(
            "POST",
            "sys/mounts/strict",
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .expect("mount");
    e.bao
        .must("POST", "strict/config", Some(json!({"cas_required": true})))
        .expect("cas_required");
    let strict = e
        .client(
            &e.token_store_named("root-token-2", json!({"path": "strict"}))
                .await,
        )
        .await;
    let key = entry("app/x", Some("pw"), Some("pw"));
    strict
        .push_secret(&src, &key)
        .await
        .expect("create on a cas_required mount");
    strict
        .push_secret(&local(&[("pw", "v2")]), &key)
        .await
        .expect("update on a cas_required mount");
    assert_eq!(
        text(
            &strict
                .get_secret(&rref("app/x", Some("pw")))
                .await
                .expect("read")
        ),
        "v2"
    );
    strict
        .delete_secret(&entry("app/x", None, None))
        .await
        .expect("delete");
    // CAS on a KV v1 store is refused by validation.
    let bad = e.store(json!({"version": "v1", "checkAndSet": {"required": true}}));
    let err = e.vault().validate_store(&bad).expect_err("cas on v1");
    assert!(err.to_string().contains("checkAndSet"), "{err}");
}

/// Fails when an error shows any of `secrets`.
fn assert_clean(e: &ProviderError, secrets: &[&str]) {
    let all = everything_in(e);
    for s in secrets {
        assert!(!all.contains(s), "the error shows a secret: {all}");
    }
}

/// AppRole `name` with the reader policy and `extra` role settings; the Secret `name` holds
/// its role and secret IDs. Returns the secret ID.
async fn approle(e: &Env, name: &str, extra: Value) -> String {
    let (status, _) = e
        .bao
        .api("GET", "sys/auth/approle", None)
        .expect("auth list");
    if status == 404 || status == 400 {
        let _ = e
            .bao
            .api("POST", "sys/auth/approle", Some(json!({"type": "approle"})));
    }
    let mut role = json!({"token_policies": ["reader"]});
    if let (Some(r), Value::Object(x)) = (role.as_object_mut(), extra) {
        r.extend(x);
    }
    e.bao
        .must("POST", &format!("auth/approle/role/{name}"), Some(role))
        .expect("role");
    let role_id = e
        .bao
        .must("GET", &format!("auth/approle/role/{name}/role-id"), None)
        .expect("role id")["data"]["role_id"]
        .as_str()
        .expect("role id")
        .to_owned();
    let secret_id = e
        .bao
        .must(
            "POST",
            &format!("auth/approle/role/{name}/secret-id"),
            Some(json!({})),
        )
        .expect("secret id")["data"]["secret_id"]
        .as_str()
        .expect("secret id")
        .to_owned();
    e.secret(name, json!({"role-id": role_id, "secret-id": secret_id}))
        .await;
    secret_id
}

fn approle_store(e: &Env, name: &str) -> StoreInfo {
    e.store(json!({"auth": {"appRole": {
        "roleRef": {"name": name, "key": "role-id"},
        "secretRef": {"name": name, "key": "secret-id"}
    }}}))
}

#[tokio::test]
async fn policy_denial_names_the_path_without_a_new_login() {
    let e = env().await;
    reader_policy(&e);
    e.put("secret/data/other/x", json!({"v": "hidden-value"}));
    let secret_id = approle(&e, "esox", json!({})).await;
    let cl = e.client(&approle_store(&e, "esox")).await;
    let err = cl
        .get_secret(&rref("other/x", None))
        .await
        .expect_err("denied");
    assert!(matches!(err, ProviderError::Forbidden { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("secret/data/other/x"), "{msg}");
    assert!(msg.contains("permission denied"), "{msg}");
    assert!(msg.contains("policy must grant read"), "{msg}");
    assert_clean(&err, &[&secret_id, "hidden-value", e.bao.root_token()]);
    assert_eq!(
        e.logins(),
        1,
        "a valid token that lacks a policy is not replaced"
    );
    let err = cl
        .push_secret(
            &local(&[("pw", "x")]),
            &entry("app/new", Some("pw"), Some("pw")),
        )
        .await
        .expect_err("write denied");
    assert!(err.to_string().contains("secret/metadata/app/new"), "{err}");
}

#[tokio::test]
async fn bad_credentials_are_refused_without_showing_them() {
    let e = env().await;
    reader_policy(&e);
    let secret_id = approle(&e, "esox", json!({})).await;
    e.secret(
        "wrong",
        json!({"role-id": "nope-role", "secret-id": "wrong-secret-id-value"}),
    )
    .await;
    let err = e
        .vault()
        .new_client(&approle_store(&e, "wrong"), &e.c.ctx(Some(NS)))
        .await
        .expect("client (login is lazy)")
        .validate()
        .await
        .expect_err("bad role");
    assert!(matches!(err, ProviderError::Forbidden { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("appRole: login at auth/approle/login failed"),
        "{err}"
    );
    assert_clean(&err, &["wrong-secret-id-value", &secret_id]);
    // A Secret that does not exist names the field.
    let s = e.store(json!({"auth": {"userPass": {"username": "u", "secretRef": {"name": "absent", "key": "pw"}}}}));
    let err = e
        .vault()
        .new_client(&s, &e.c.ctx(Some(NS)))
        .await
        .err()
        .expect("no secret");
    assert!(
        err.to_string()
            .contains("spec.provider.vault.auth.userPass.secretRef"),
        "{err}"
    );
    // A method not built, a Kubernetes login with no token source outside a pod, and two
    // methods at once.
    let s = e.store(json!({"auth": {"ldap": {"username": "u"}}}));
    let err = e
        .vault()
        .new_client(&s, &e.c.ctx(Some(NS)))
        .await
        .err()
        .expect("not built");
    assert!(
        err.to_string()
            .contains("auth.ldap: this login method is not built"),
        "{err}"
    );
    let s = e.store(json!({"auth": {"kubernetes": {"role": "r"}}}));
    let err = e
        .vault()
        .new_client(&s, &e.c.ctx(Some(NS)))
        .await
        .err()
        .expect("no token outside a pod");
    assert!(
        err.to_string().contains(
            "spec.provider.vault.auth.kubernetes: neither serviceAccountRef nor secretRef is set"
        ),
        "{err}"
    );
    let s = e.store(json!({"auth": {"tokenSecretRef": {"name": "a", "key": "b"}, "userPass": {"username": "u"}}}));
    let err = e.vault().validate_store(&s).expect_err("two methods");
    assert!(
        err.to_string()
            .contains("several login methods (tokenSecretRef, userPass)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_replaced_by_one_login_and_the_read_retried() {
    let e = env().await;
    reader_policy(&e);
    e.put("secret/data/app/db", json!({"user": "admin"}));
    approle(&e, "esox", json!({})).await;
    let s = approle_store(&e, "esox");
    let cl = e.client(&s).await;
    cl.get_secret(&rref("app/db", None))
        .await
        .expect("first read");
    assert_eq!(e.logins(), 1);
    // Revoke every token the AppRole issued.
    let accessors = e
        .bao
        .must("LIST", "auth/token/accessors", None)
        .expect("accessors");
    for a in accessors["data"]["keys"].as_array().expect("keys") {
        let info = e
            .bao
            .must(
                "POST",
                "auth/token/lookup-accessor",
                Some(json!({"accessor": a})),
            )
            .expect("lookup");
        if info["data"]["path"] == "auth/approle/login" {
            e.bao
                .must(
                    "POST",
                    "auth/token/revoke-accessor",
                    Some(json!({"accessor": a})),
                )
                .expect("revoke");
        }
    }
    let v = cl
        .get_secret(&rref("app/db", Some("user")))
        .await
        .expect("read after revocation");
    assert_eq!(text(&v), "admin");
    assert_eq!(e.logins(), 2, "one new login");

    // A static token that was revoked is reported, not retried.
    let created = e
        .bao
        .must(
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["reader"]})),
        )
        .expect("token");
    let token = created["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_owned();
    e.secret("static", json!({"token": token})).await;
    let st = e
        .client(&e.store(json!({"auth": {"tokenSecretRef": {"name": "static", "key": "token"}}})))
        .await;
    st.get_secret(&rref("app/db", None))
        .await
        .expect("static read");
    e.bao
        .must("POST", "auth/token/revoke", Some(json!({"token": token})))
        .expect("revoke static");
    let err = st
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("revoked static token");
    assert!(matches!(err, ProviderError::Forbidden { .. }), "{err:?}");
    assert!(err.to_string().contains("expired or was revoked"), "{err}");
    assert_clean(&err, &[&token]);
    assert_eq!(e.logins(), 2);
}

#[tokio::test]
async fn tokens_are_renewed_before_expiry_and_replaced_at_their_max_ttl() {
    let e = env().await;
    reader_policy(&e);
    e.put("secret/data/app/db", json!({"user": "admin"}));
    approle(
        &e,
        "renewable",
        json!({"token_ttl": "6s", "token_max_ttl": "1h"}),
    )
    .await;
    let cl = e.client(&approle_store(&e, "renewable")).await;
    cl.get_secret(&rref("app/db", None)).await.expect("read");
    tokio::time::sleep(Duration::from_millis(4300)).await;
    cl.get_secret(&rref("app/db", None))
        .await
        .expect("read after 2/3 of the TTL");
    assert_eq!(e.count(CALL_RENEW_SELF), 1, "renewed once");
    assert_eq!(e.logins(), 1, "renewal is not a login");
    tokio::time::sleep(Duration::from_millis(4300)).await;
    cl.get_secret(&rref("app/db", None))
        .await
        .expect("read past the first TTL");
    assert_eq!(e.count(CALL_RENEW_SELF), 2);
    assert_eq!(e.logins(), 1, "still one login past the token's first TTL");

    // Near its max TTL a renewal grants too little: the session logs in again.
    approle(
        &e,
        "capped",
        json!({"token_ttl": "3s", "token_max_ttl": "3s"}),
    )
    .await;
    let capped = e.client(&approle_store(&e, "capped")).await;
    capped
        .get_secret(&rref("app/db", None))
        .await
        .expect("read");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    capped
        .get_secret(&rref("app/db", None))
        .await
        .expect("read near max TTL");
    assert_eq!(e.logins(), 3, "a new login instead of a short renewal");
}

#[tokio::test]
async fn sealed_and_stopped_servers_are_named() {
    let mut e = env().await;
    e.put("secret/data/app/db", json!({"user": "admin"}));
    let cl = e.client(&e.token_store(json!({})).await).await;
    e.bao.must("PUT", "sys/seal", None).expect("seal");
    let err = cl
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("sealed");
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("is sealed"), "{err}");
    assert!(err.to_string().contains(e.bao.addr()), "{err}");
    e.bao.stop();
    let err = cl
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("stopped");
    assert!(err.is_retryable(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("cannot reach the Vault server {}", e.bao.addr())),
        "{msg}"
    );
    assert!(msg.contains("connection refused"), "{msg}");
    assert_clean(&err, &[e.bao.root_token(), "admin"]);
}

#[tokio::test]
async fn mounts_of_the_wrong_kind_or_version_say_how_to_fix_them() {
    let e = env().await;
    e.put("secret/data/app/db", json!({"user": "admin"}));
    let v1_on_v2 = e
        .client(&e.token_store(json!({"version": "v1"})).await)
        .await;
    let err = v1_on_v2.validate().await.expect_err("version mismatch");
    assert_eq!(
        err.to_string(),
        "vault mount path \"secret\" uses kv version v2 but store is configured for kv version v1: set spec.provider.vault.version to v2"
    );
    let err = v1_on_v2
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("v1 read on v2");
    assert!(matches!(err, ProviderError::InvalidConfig(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("set spec.provider.vault.version to v2"),
        "{err}"
    );
    // A mount that does not exist: Vault answers the mount lookup with 403 whether the
    // mount is missing or the token may not see it, so validation passes as in ESO; reads
    // say what is wrong.
    let absent = e
        .client(&e.store(json!({"path": "nothing", "auth": {"tokenSecretRef": {"name": "root-token", "key": "token"}}})))
        .await;
    let err = absent
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("no mount read");
    assert!(matches!(err, ProviderError::InvalidConfig(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("no secrets engine is mounted at nothing"),
        "{err}"
    );
    assert!(err.to_string().contains("configured for KV v2"), "{err}");
    assert!(
        err.to_string()
            .contains("vault secrets enable -path=nothing kv-v2"),
        "{err}"
    );
}

#[tokio::test]
async fn tls_servers_are_verified_against_the_store_ca() {
    let bao = OpenBao::start_tls().expect("OpenBao with TLS starts");
    let ca = bao.ca_pem().expect("CA");
    bao.cli(&["kv", "put", "secret/app/db", "user=admin"])
        .expect("kv put");
    let e = env_with(bao).await;
    use base64::Engine as _;
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(&ca);
    let cl = e
        .client(&e.token_store(json!({"caBundle": ca_b64})).await)
        .await;
    assert_eq!(
        text(
            &cl.get_secret(&rref("app/db", Some("user")))
                .await
                .expect("TLS read")
        ),
        "admin"
    );
    // Without the CA the handshake fails, and the message says which field to set.
    let untrusted = e
        .client(&e.token_store_named("root-token-2", json!({})).await)
        .await;
    let err = untrusted
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("unknown CA");
    let msg = err.to_string();
    assert!(msg.contains("TLS handshake failed"), "{msg} {err:?}");
    assert!(msg.contains("spec.provider.vault.caBundle"), "{msg}");
}

struct Conformance(Env);

#[async_trait::async_trait]
impl esox_providers::conformance::Harness for Conformance {
    fn provider(&self) -> &dyn Provider {
        self.0.vault()
    }

    fn context(&self) -> esox_providers::ClientContext {
        self.0.c.ctx(Some(NS))
    }

    async fn store(&self, secrets: &[esox_providers::conformance::Fixture]) -> StoreInfo {
        for f in secrets {
            self.0
                .put(&format!("secret/data/{}", f.name), json!(f.fields));
            self.0
                .bao
                .must(
                    "POST",
                    &format!("secret/metadata/{}", f.name),
                    Some(json!({"custom_metadata": f.tags})),
                )
                .expect("tags");
        }
        self.0.token_store(json!({})).await
    }

    fn finds_by_tags(&self) -> bool {
        true
    }

    fn pushed_ref(&self, entry: &PushEntry) -> RemoteRef {
        rref(
            &entry.remote_ref.remote_key,
            entry.remote_ref.property.as_deref(),
        )
    }
}

#[tokio::test]
async fn vault_provider_passes_the_contract() {
    esox_providers::conformance::run(&Conformance(env().await)).await;
}

/// A one-route stand-in for Vault that records the headers of each request: OpenBao ignores
/// the Enterprise consistency headers, so what esox sends is checked on the wire here.
async fn recording_server() -> (String, Arc<Mutex<Vec<BTreeMap<String, String>>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let mut n = 0u32;
        while let Ok((mut conn, _)) = listener.accept().await {
            let record = record.clone();
            n += 1;
            let index = n;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(read) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let headers: BTreeMap<String, String> = head
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                            .collect();
                        let calls = {
                            let mut r = record.lock().expect("record");
                            r.push(headers);
                            r.len()
                        };
                        let body = r#"{"data":{"data":{"k":"v"},"metadata":{"version":1}}}"#;
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Vault-Index: idx-{index}-{calls}\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if conn.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn namespace_headers_and_consistency_headers_are_sent() {
    let c = cluster().await;
    c.namespace(NS).await;
    c.secret(
        NS,
        json!({"metadata": {"name": "tok"}, "stringData": {"token": "static-token-value"}}),
    )
    .await;
    let (addr, seen) = recording_server().await;
    let s = StoreInfo {
        kind: StoreKind::SecretStore,
        name: "vault".into(),
        namespace: Some(NS.into()),
        spec: serde_json::from_value(json!({"provider": {"vault": {
            "server": addr, "path": "secret", "namespace": "team-a",
            "headers": {"X-Team": "payments"},
            "readYourWrites": true, "forwardInconsistent": true,
            "auth": {"tokenSecretRef": {"name": "tok", "key": "token"}}
        }}}))
        .expect("spec"),
    };
    let vault = c.runtime.provider("vault").expect("vault");
    let cl = vault
        .new_client(&s, &c.ctx(Some(NS)))
        .await
        .expect("client");
    for _ in 0..2 {
        let v = cl
            .get_secret(&rref("app/db", Some("k")))
            .await
            .expect("read");
        assert_eq!(text(&v), "v");
    }
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 2);
    for h in &seen {
        assert_eq!(
            h.get("x-vault-namespace").map(String::as_str),
            Some("team-a")
        );
        assert_eq!(h.get("x-team").map(String::as_str), Some("payments"));
        assert_eq!(
            h.get("x-vault-inconsistent").map(String::as_str),
            Some("forward-active-node")
        );
        assert_eq!(
            h.get("x-vault-token").map(String::as_str),
            Some("static-token-value")
        );
    }
    assert_eq!(seen[0].get("x-vault-index"), None, "nothing seen yet");
    // The second request carries the index the first answer returned.
    assert_eq!(
        seen[1].get("x-vault-index").map(String::as_str),
        Some("idx-1-1")
    );
}

#[tokio::test]
async fn a_cluster_store_shares_one_login_across_namespaces_and_referent_ones_validate_unknown() {
    let e = env().await;
    reader_policy(&e);
    e.put("secret/data/app/db", json!({"user": "admin"}));
    approle(&e, "esox", json!({})).await;
    e.c.namespace("other").await;
    let cluster_store = |secret_ns: Option<&str>| StoreInfo {
        kind: StoreKind::ClusterSecretStore,
        name: "vault".into(),
        namespace: None,
        spec: serde_json::from_value(json!({"provider": {"vault": {
            "server": e.bao.addr(), "path": "secret",
            "auth": {"appRole": {
                "roleRef": {"name": "esox", "key": "role-id", "namespace": secret_ns},
                "secretRef": {"name": "esox", "key": "secret-id", "namespace": secret_ns}
            }}
        }}}))
        .expect("spec"),
    };
    let fixed = cluster_store(Some(NS));
    for ns in [NS, "other", NS, "other"] {
        let cl = e
            .vault()
            .new_client(&fixed, &e.c.ctx(Some(ns)))
            .await
            .expect("client");
        cl.get_secret(&rref("app/db", None)).await.expect("read");
    }
    let cl = e
        .vault()
        .new_client(&fixed, &e.c.ctx(None))
        .await
        .expect("client");
    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Ready
    );
    assert_eq!(
        e.logins(),
        1,
        "one login for every namespace using the store"
    );
    // Referent credentials (no namespace): validated alone the store is Unknown, as in ESO.
    let referent = cluster_store(None);
    let cl = e
        .vault()
        .new_client(&referent, &e.c.ctx(None))
        .await
        .expect("client");
    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Unknown
    );
    let err = cl
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("no namespace");
    assert!(matches!(err, ProviderError::InvalidConfig(_)), "{err:?}");
    let cl = e
        .vault()
        .new_client(&referent, &e.c.ctx(Some(NS)))
        .await
        .expect("client");
    cl.get_secret(&rref("app/db", None))
        .await
        .expect("read from the consuming namespace");
}

/// Captured log output, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Drives many failures and successes with known credentials and values, and checks that no
/// error (message, sources, debug form) and no log line at TRACE level shows any of them.
#[tokio::test]
async fn no_error_or_log_line_shows_a_token_secret_id_password_or_value() {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(log.clone())
        .finish();
    // Global, not scoped: a callsite first reached by a parallel test without a subscriber
    // would otherwise stay disabled here. The other tests' lines are scanned too.
    tracing::subscriber::set_global_default(subscriber).expect("only this test sets one");
    tracing::info!("probe");
    let mut e = env().await;
    reader_policy(&e);
    const VALUE: &str = "value-canary-7d1e";
    const PASSWORD: &str = "password-canary-93af";
    e.put("secret/data/app/db", json!({"user": VALUE, "pw": VALUE}));
    e.put("secret/data/other/x", json!({"v": VALUE}));
    let secret_id = approle(&e, "esox", json!({"token_ttl": "3s"})).await;
    e.bao
        .must(
            "POST",
            "sys/auth/userpass",
            Some(json!({"type": "userpass"})),
        )
        .expect("userpass");
    e.secret("wrong-pw", json!({"password": PASSWORD})).await;
    let root = e.bao.root_token().to_owned();
    let mut errors = Vec::new();

    let cl = e.client(&approle_store(&e, "esox")).await;
    cl.get_secret(&rref("app/db", Some("user")))
        .await
        .expect("read");
    errors.push(
        cl.get_secret(&rref("other/x", None))
            .await
            .expect_err("denied"),
    );
    errors.push(
        cl.get_secret(&rref("app/db", Some("nope")))
            .await
            .expect_err("property"),
    );
    errors.push(
        cl.get_secret_map(&rref("app/db", Some("user")))
            .await
            .expect_err("not an object"),
    );
    errors.push(
        cl.push_secret(
            &local(&[("pw", VALUE)]),
            &entry("app/db", Some("pw"), Some("pw")),
        )
        .await
        .expect_err("not managed / denied"),
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    cl.get_secret(&rref("app/db", None))
        .await
        .expect("read after renewal");
    let bad = e.store(json!({"auth": {"userPass": {"username": "nobody", "secretRef": {"name": "wrong-pw", "key": "password"}}}}));
    errors.push(
        e.client(&bad)
            .await
            .validate()
            .await
            .expect_err("bad password"),
    );
    let rooted = e.client(&e.token_store(json!({})).await).await;
    e.bao.must("PUT", "sys/seal", None).expect("seal");
    errors.push(
        rooted
            .get_secret(&rref("app/db", None))
            .await
            .expect_err("sealed"),
    );
    e.bao.stop();
    errors.push(
        rooted
            .get_secret(&rref("app/db", None))
            .await
            .expect_err("stopped"),
    );

    for err in &errors {
        assert_clean(err, &[VALUE, PASSWORD, &secret_id, &root]);
    }
    let text = String::from_utf8_lossy(&log.0.lock().expect("log")).into_owned();
    assert!(
        text.contains("logged in to Vault"),
        "the log was captured: {text}"
    );
    for s in [VALUE, PASSWORD, secret_id.as_str(), root.as_str()] {
        assert!(!text.contains(s), "a log line shows a secret: {text}");
    }
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let size = 17 << 20;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
                );
                if conn.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 1 << 20];
                for _ in 0..17 {
                    if conn.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let c = cluster().await;
    c.namespace(NS).await;
    c.secret(
        NS,
        json!({"metadata": {"name": "tok"}, "stringData": {"token": "t"}}),
    )
    .await;
    let s = StoreInfo {
        kind: StoreKind::SecretStore,
        name: "vault".into(),
        namespace: Some(NS.into()),
        spec: serde_json::from_value(json!({"provider": {"vault": {
            "server": addr, "path": "secret",
            "auth": {"tokenSecretRef": {"name": "tok", "key": "token"}}
        }}}))
        .expect("spec"),
    };
    let cl = c
        .runtime
        .provider("vault")
        .expect("vault")
        .new_client(&s, &c.ctx(Some(NS)))
        .await
        .expect("client");
    let err = cl
        .get_secret(&rref("app/db", None))
        .await
        .expect_err("too large");
    assert!(
        err.to_string().contains("larger than 16777216 bytes"),
        "{err}"
    );
}

/// `VaultClient::logical`, the door the VaultDynamicSecret generator uses to other engines.
#[tokio::test]
async fn logical_calls_reach_other_paths_with_the_session_token() {
    let e = env().await;
    reader_policy(&e);
    approle(&e, "esox", json!({})).await;
    let provider = esox_providers::vault::VaultProvider::default();
    let rooted = provider
        .client(&e.token_store(json!({})).await, &e.c.ctx(Some(NS)))
        .await
        .expect("client");
    let (status, body) = rooted
        .logical(http::Method::GET, "sys/mounts", None, None, "list mounts")
        .await
        .expect("logical");
    assert_eq!(status, http::StatusCode::OK);
    assert_eq!(body["data"]["secret/"]["type"], "kv");
    let reader = provider
        .client(&approle_store(&e, "esox"), &e.c.ctx(Some(NS)))
        .await
        .expect("client");
    let (status, body) = reader
        .logical(http::Method::GET, "sys/mounts", None, None, "list mounts")
        .await
        .expect("logical");
    assert_eq!(status, http::StatusCode::FORBIDDEN);
    let err = reader.logical_error("cannot list mounts", "sys/mounts", status, &body);
    assert!(matches!(err, ProviderError::Forbidden { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("grant the needed capability on sys/mounts"),
        "{err}"
    );
    assert_eq!(e.logins(), 1, "a denied logical call keeps the valid token");
}

/// `spec.tls`: the client certificate is presented on the TLS connection. OpenBao's cert auth
/// method logs in only with a certificate it trusts, so a login through `logical` proves it.
#[tokio::test]
async fn the_tls_client_certificate_is_presented() {
    let bao = OpenBao::start_tls().expect("OpenBao with TLS starts");
    let ca = bao.ca_pem().expect("CA");
    let dir = std::env::temp_dir().join(format!("esox-vault-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=esox-client"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (scripts/install-test-deps installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    bao.cli(&["auth", "enable", "cert"])
        .expect("enable cert auth");
    let cert_arg = format!("certificate=@{}", cert.display());
    bao.cli(&[
        "write",
        "auth/cert/certs/esox",
        &cert_arg,
        "token_policies=default",
    ])
    .expect("trust the client certificate");
    let cert_pem = std::fs::read_to_string(&cert).expect("cert");
    let key_pem = std::fs::read_to_string(&key).expect("key");
    let _ = std::fs::remove_dir_all(&dir);
    let e = env_with(bao).await;
    e.secret(
        "client-tls",
        json!({"tls.crt": cert_pem, "tls.key": key_pem}),
    )
    .await;
    use base64::Engine as _;
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(&ca);
    let provider = esox_providers::vault::VaultProvider::default();
    let login = |client: esox_providers::vault::VaultClient| async move {
        client
            .logical(
                http::Method::POST,
                "auth/cert/login",
                None,
                Some(json!({"name": "esox"})),
                "cert login",
            )
            .await
            .expect("request")
    };
    let with_cert = provider
        .client(
            &e.token_store(json!({
                "caBundle": ca_b64,
                "tls": {"certSecretRef": {"name": "client-tls", "key": "tls.crt"},
                        "keySecretRef": {"name": "client-tls", "key": "tls.key"}}
            }))
            .await,
            &e.c.ctx(Some(NS)),
        )
        .await
        .expect("client");
    let (status, body) = login(with_cert).await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert!(body["auth"]["client_token"].is_string());
    // Without `tls` no certificate is presented and the login is refused.
    let without = provider
        .client(
            &e.token_store_named("root-token-2", json!({"caBundle": ca_b64}))
                .await,
            &e.c.ctx(Some(NS)),
        )
        .await
        .expect("client");
    let (status, _) = login(without).await;
    assert!(status.is_client_error(), "{status}");
    // Only one of the pair is a configuration error naming the field.
    let half = e.store(json!({"tls": {"certSecretRef": {"name": "client-tls", "key": "tls.crt"}}}));
    let err = e.vault().validate_store(&half).expect_err("half a pair");
    assert!(err.to_string().contains("spec.provider.vault.tls"), "{err}");
}
