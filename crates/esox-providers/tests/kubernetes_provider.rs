//! The Kubernetes provider against esox-testcluster, an in-memory API server over HTTPS with
//! RBAC, TokenRequest, SelfSubject{Rules,Access}Review and the token controller.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Cluster, cluster, secret_rules, store, text};
use esox_api::v1::{ExternalSecretFind, FindName, MetadataPolicy, RemoteRef, StoreKind};
use esox_api::v1alpha1::PushSecretRemoteRef;
use esox_providers::{
    LocalSecret, ProviderError, PushEntry, SecretsClient, StoreInfo, ValidationResult,
};
use futures::StreamExt as _;
use serde_json::json;

fn rref(key: &str, property: Option<&str>) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        property: property.map(str::to_owned),
        ..Default::default()
    }
}

/// The PushSecret the entries of these tests belong to.
const OWNER: &str = "foo/ps";

fn remote(key: &str, property: Option<&str>) -> PushSecretRemoteRef {
    PushSecretRemoteRef {
        remote_key: key.into(),
        property: property.map(str::to_owned),
    }
}

/// The entry `delete_secret` and `secret_exists` are given for a remote key.
fn entry_for(key: &str, property: Option<&str>) -> PushEntry {
    PushEntry {
        remote_ref: remote(key, property),
        owner: Some(OWNER.into()),
        ..Default::default()
    }
}

async fn client(c: &Cluster, s: &StoreInfo, ns: Option<&str>) -> Box<dyn SecretsClient> {
    c.kubernetes()
        .new_client(s, &c.ctx(ns))
        .await
        .expect("client")
}

async fn client_err(c: &Cluster, s: &StoreInfo, ns: Option<&str>) -> ProviderError {
    match c.kubernetes().new_client(s, &c.ctx(ns)).await {
        Ok(_) => panic!("expected new_client to fail"),
        Err(e) => e,
    }
}

/// The seed's first case: a ClusterSecretStore on this cluster (no URL), CA from the
/// `kube-root-ca.crt` ConfigMap, a ServiceAccount in argocd that may read namespace foo.
async fn seed_cluster_store(c: &Cluster) -> StoreInfo {
    for ns in ["foo", "bar", "argocd"] {
        c.namespace(ns).await;
    }
    c.service_account("argocd", "external-secrets").await;
    c.grant(
        "foo",
        "eso-reader",
        secret_rules(),
        "argocd",
        "external-secrets",
    )
    .await;
    c.secret(
        "foo",
        json!({"metadata": {"name": "my-secret", "labels": {"team": "a"}, "annotations": {"note": "n"}},
               "stringData": {"username": "admin", "config": "{\"db\":{\"host\":\"h\",\"port\":5432}}"}}),
    )
    .await;
    // The namespace controller creates kube-root-ca.crt asynchronously.
    for _ in 0..100 {
        let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(c.admin.clone(), "foo");
        if api
            .get_opt("kube-root-ca.crt")
            .await
            .expect("get cm")
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store(
        StoreKind::ClusterSecretStore,
        "foo-secret-store",
        None,
        json!({
            "remoteNamespace": "foo",
            "server": {"caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt", "namespace": "foo"}},
            "auth": {"serviceAccount": {"name": "external-secrets", "namespace": "argocd"}}
        }),
    )
}

#[tokio::test]
async fn seed_cluster_store_reads_namespace_foo_for_bar() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    assert!(
        c.kubernetes()
            .validate_store(&s)
            .expect("valid store")
            .is_empty()
    );
    let cl = client(&c, &s, Some("bar")).await;

    let map = cl
        .get_secret_map(&rref("my-secret", None))
        .await
        .expect("extract");
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["config", "username"]);
    assert_eq!(text(&map["username"]), "admin");

    let v = cl
        .get_secret(&rref("my-secret", Some("username")))
        .await
        .expect("property");
    assert_eq!(text(&v), "admin");
    let v = cl
        .get_secret(&rref("my-secret", Some("config.db.port")))
        .await
        .expect("gjson");
    assert_eq!(text(&v), "5432");
    let v = cl
        .get_secret(&rref("my-secret", None))
        .await
        .expect("whole");
    assert_eq!(
        text(&v),
        r#"{"config":"{\"db\":{\"host\":\"h\",\"port\":5432}}","username":"admin"}"#
    );
    let fetch = RemoteRef {
        metadata_policy: Some(MetadataPolicy::Fetch),
        ..rref("my-secret", Some("labels.team"))
    };
    assert_eq!(text(&cl.get_secret(&fetch).await.expect("label")), "a");
    let e = cl
        .get_secret(&rref("my-secret", Some("nope")))
        .await
        .expect_err("no property");
    assert!(
        e.to_string().contains("property nope does not exist"),
        "{e}"
    );

    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Ready
    );
    let key = cl.watch_key().expect("watch key");
    assert_eq!(
        key,
        format!(
            "{}|foo|serviceAccount:argocd/external-secrets/",
            c.server.url()
        )
    );
}

#[tokio::test]
async fn not_found_is_no_secret_only_for_extract() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    let cl = client(&c, &s, Some("bar")).await;
    let e = cl
        .get_secret(&rref("absent", None))
        .await
        .expect_err("missing");
    assert!(!e.is_no_secret(), "data[] keeps a plain error, as ESO: {e}");
    assert!(e.to_string().contains("absent"), "{e}");
    let e = cl
        .get_secret_map(&rref("absent", None))
        .await
        .expect_err("missing");
    assert!(e.is_no_secret(), "{e}");
}

#[tokio::test]
async fn find_by_name_and_by_tags() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    c.secret(
        "foo",
        json!({"metadata": {"name": "db-a", "labels": {"app": "db"}}, "stringData": {"k": "1"}}),
    )
    .await;
    c.secret(
        "foo",
        json!({"metadata": {"name": "db-b"}, "stringData": {"k": "2"}}),
    )
    .await;
    let cl = client(&c, &s, Some("bar")).await;
    let by_name = ExternalSecretFind {
        name: Some(FindName {
            regexp: "^db-".into(),
        }),
        ..Default::default()
    };
    let found = cl.get_all_secrets(&by_name).await.expect("find name");
    assert_eq!(found.keys().collect::<Vec<_>>(), vec!["db-a", "db-b"]);
    assert_eq!(text(&found["db-b"]), r#"{"k":"2"}"#);
    let by_tags = ExternalSecretFind {
        tags: BTreeMap::from([("app".to_owned(), "db".to_owned())]),
        ..Default::default()
    };
    let found = cl.get_all_secrets(&by_tags).await.expect("find tags");
    assert_eq!(found.keys().collect::<Vec<_>>(), vec!["db-a"]);
    let e = cl
        .get_all_secrets(&ExternalSecretFind::default())
        .await
        .expect_err("no operator");
    assert!(e.to_string().contains("unexpected find operator"), "{e}");
}

/// The seed's cross-cluster case: a Dev cluster's service-account-token Secret (token and
/// ca.crt) copied into the Platform cluster, used by a SecretStore with a bearer token.
async fn cross_cluster(platform: &Cluster, dev: &Cluster) -> StoreInfo {
    dev.namespace("foo").await;
    dev.service_account("foo", "eso-service-account").await;
    dev.grant(
        "foo",
        "eso-role",
        secret_rules(),
        "foo",
        "eso-service-account",
    )
    .await;
    dev.secret(
        "foo",
        json!({"metadata": {"name": "eso-token", "annotations": {"kubernetes.io/service-account.name": "eso-service-account"}},
               "type": "kubernetes.io/service-account-token"}),
    )
    .await;
    let filled = dev.filled_token_secret("foo", "eso-token").await;
    let data = filled.data.expect("token data");
    platform.namespace("foo").await;
    platform
        .secret(
            "foo",
            json!({"metadata": {"name": "eso-token"}, "type": "Opaque", "data": {
                "token": serde_json::to_value(&data["token"]).expect("b64"),
                "ca.crt": serde_json::to_value(&data["ca.crt"]).expect("b64"),
            }}),
        )
        .await;
    store(
        StoreKind::SecretStore,
        "foo-secret-store-dev",
        Some("foo"),
        json!({
            "remoteNamespace": "foo",
            "server": {"url": dev.server.url(), "caProvider": {"type": "Secret", "name": "eso-token", "key": "ca.crt"}},
            "auth": {"token": {"bearerToken": {"name": "eso-token", "key": "token"}}}
        }),
    )
}

fn local_secret() -> LocalSecret {
    LocalSecret {
        name: "my-secret".into(),
        namespace: "foo".into(),
        type_: "Opaque".into(),
        data: BTreeMap::from([
            ("username".to_owned(), b"admin".to_vec()),
            ("password".to_owned(), b"s3cr3t".to_vec()),
        ]),
        labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
        annotations: BTreeMap::new(),
    }
}

#[tokio::test]
async fn cross_cluster_bearer_token_push_delete_exists() {
    let platform = cluster().await;
    let dev = cluster().await;
    let s = cross_cluster(&platform, &dev).await;
    assert!(
        platform
            .kubernetes()
            .validate_store(&s)
            .expect("valid")
            .is_empty()
    );
    let cl = client(&platform, &s, Some("foo")).await;
    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Ready
    );

    // Whole Secret.
    let whole = PushEntry {
        secret_key: None,
        remote_ref: remote("my-secret", None),
        metadata: None,
        never_pushed: false,
        owner: Some(OWNER.into()),
    };
    cl.push_secret(&local_secret(), &whole)
        .await
        .expect("push whole");
    let pushed = dev
        .get_secret("foo", "my-secret")
        .await
        .expect("pushed to dev");
    let data = pushed.data.clone().expect("data");
    assert_eq!(data["password"].0, b"s3cr3t");
    assert_eq!(pushed.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        pushed.metadata.labels.as_ref().expect("labels")["app"],
        "web"
    );
    assert!(
        platform.get_secret("foo", "my-secret").await.is_none(),
        "nothing written locally"
    );

    // Pushing the same again changes nothing (no Update, same resourceVersion).
    cl.push_secret(&local_secret(), &whole)
        .await
        .expect("push again");
    let again = dev
        .get_secret("foo", "my-secret")
        .await
        .expect("still there");
    assert_eq!(
        again.metadata.resource_version,
        pushed.metadata.resource_version
    );

    // One property.
    let prop = PushEntry {
        secret_key: Some("password".into()),
        remote_ref: remote("other", Some("pw")),
        metadata: None,
        never_pushed: false,
        owner: Some(OWNER.into()),
    };
    cl.push_secret(&local_secret(), &prop)
        .await
        .expect("push property");
    let other = dev.get_secret("foo", "other").await.expect("other");
    assert_eq!(
        other.data.expect("data").keys().collect::<Vec<_>>(),
        vec!["pw"]
    );
    assert!(
        cl.secret_exists(&entry_for("other", Some("pw")))
            .await
            .expect("exists")
    );
    assert!(
        !cl.secret_exists(&entry_for("other", Some("nope")))
            .await
            .expect("exists")
    );
    assert!(
        cl.secret_exists(&entry_for("my-secret", None))
            .await
            .expect("exists")
    );

    // Read back through the store.
    let v = cl
        .get_secret(&rref("other", Some("pw")))
        .await
        .expect("read back");
    assert_eq!(text(&v), "s3cr3t");

    // Delete a property of a Secret with several keys: only that key goes.
    cl.delete_secret(&entry_for("my-secret", Some("username")))
        .await
        .expect("delete key");
    let after = dev.get_secret("foo", "my-secret").await.expect("kept");
    assert_eq!(
        after.data.expect("data").keys().collect::<Vec<_>>(),
        vec!["password"]
    );
    // Delete whole Secrets; deleting again is fine.
    cl.delete_secret(&entry_for("my-secret", None))
        .await
        .expect("delete");
    cl.delete_secret(&entry_for("my-secret", None))
        .await
        .expect("delete again");
    assert!(dev.get_secret("foo", "my-secret").await.is_none());
    assert!(
        !cl.secret_exists(&entry_for("my-secret", None))
            .await
            .expect("exists")
    );

    // A secretKey without property is refused, as in ESO.
    let bad = PushEntry {
        secret_key: Some("password".into()),
        remote_ref: remote("x", None),
        metadata: None,
        never_pushed: false,
        owner: Some(OWNER.into()),
    };
    let e = cl
        .push_secret(&local_secret(), &bad)
        .await
        .expect_err("needs property");
    assert!(e.to_string().contains("requires property"), "{e}");
}

#[tokio::test]
async fn remote_namespace_override_needs_a_cluster_store() {
    let platform = cluster().await;
    let dev = cluster().await;
    let s = cross_cluster(&platform, &dev).await;
    let cl = client(&platform, &s, Some("foo")).await;
    let entry = PushEntry {
        secret_key: None,
        remote_ref: remote("my-secret", None),
        metadata: Some(
            json!({"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
                              "spec": {"remoteNamespace": "elsewhere"}}),
        ),
        never_pushed: false,
        owner: Some(OWNER.into()),
    };
    let e = cl
        .push_secret(&local_secret(), &entry)
        .await
        .expect_err("SecretStore");
    assert!(
        e.to_string()
            .contains("only supported with ClusterSecretStore"),
        "{e}"
    );
}

#[tokio::test]
async fn validation_denied_without_secret_permissions() {
    let c = cluster().await;
    c.namespace("foo").await;
    c.namespace("app").await;
    c.service_account("app", "nobody").await;
    let s = store(
        StoreKind::SecretStore,
        "s",
        Some("app"),
        json!({"remoteNamespace": "foo", "server": {"url": "kubernetes.default.svc"},
               "auth": {"serviceAccount": {"name": "nobody"}}}),
    );
    let cl = client(&c, &s, None).await;
    let e = cl.validate().await.expect_err("denied");
    assert!(matches!(e, ProviderError::Forbidden { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("client is not allowed to get secrets"),
        "{e}"
    );
    let e = cl
        .get_secret(&rref("anything", None))
        .await
        .expect_err("forbidden read");
    assert!(matches!(e, ProviderError::Forbidden { .. }), "{e:?}");
}

#[tokio::test]
async fn validation_unknown_when_the_review_fails() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    let cl = client(&c, &s, Some("bar")).await;
    c.server.faults().fail(
        esox_testcluster::FaultMatch {
            verb: Some("create".into()),
            resource: Some("selfsubjectrulesreviews".into()),
            ..Default::default()
        },
        500,
        None,
    );
    assert_eq!(
        cl.validate().await.expect("unknown"),
        ValidationResult::Unknown
    );
    let (result, reason) = cl.validate_with_reason().await.expect("unknown");
    assert_eq!(result, ValidationResult::Unknown);
    let reason = reason.expect("a reason");
    assert!(
        reason.contains("could not verify if client is valid"),
        "{reason}"
    );
    assert!(reason.contains("answered 500 InternalError"), "{reason}");
}

#[tokio::test]
async fn referent_cluster_store_validates_without_a_namespace() {
    let c = cluster().await;
    for ns in ["app", "foo"] {
        c.namespace(ns).await;
    }
    c.service_account("app", "reader").await;
    c.grant("foo", "r", secret_rules(), "app", "reader").await;
    c.secret(
        "foo",
        json!({"metadata": {"name": "x"}, "stringData": {"k": "v"}}),
    )
    .await;
    let s = store(
        StoreKind::ClusterSecretStore,
        "referent",
        None,
        json!({"remoteNamespace": "foo", "auth": {"serviceAccount": {"name": "reader"}}}),
    );
    let unbound = client(&c, &s, None).await;
    assert_eq!(
        unbound.validate().await.expect("valid"),
        ValidationResult::Ready
    );
    let e = unbound
        .get_secret(&rref("x", None))
        .await
        .expect_err("needs namespace");
    assert!(e.to_string().contains("referent"), "{e}");
    assert!(unbound.watch_key().is_none());
    // From namespace app, the ServiceAccount app/reader is used.
    let bound = client(&c, &s, Some("app")).await;
    assert_eq!(
        text(&bound.get_secret(&rref("x", Some("k"))).await.expect("read")),
        "v"
    );
}

#[tokio::test]
async fn wrong_ca_gives_a_clear_tls_error() {
    let platform = cluster().await;
    let dev = cluster().await;
    let s = cross_cluster(&platform, &dev).await;
    // Same store, but it trusts the platform cluster's CA instead of dev's.
    let mut wrong = s.clone();
    let k = wrong.spec.provider.kubernetes.as_mut().expect("k8s");
    let server = k.server.as_mut().expect("server");
    server.ca_provider = None;
    server.ca_bundle = Some(esox_api::meta::Base64Bytes(
        platform.server.ca_pem().as_bytes().to_vec(),
    ));
    let cl = client(&platform, &wrong, Some("foo")).await;
    let e = cl
        .get_secret(&rref("eso-token", None))
        .await
        .expect_err("TLS");
    assert!(matches!(e, ProviderError::Unavailable { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("TLS verification of"), "{msg}");
    assert!(msg.to_ascii_lowercase().contains("certificate"), "{msg}");
    assert!(msg.contains("caBundle or caProvider"), "{msg}");
    assert_eq!(
        cl.validate().await.expect("unknown"),
        ValidationResult::Unknown
    );
}

#[tokio::test]
async fn missing_credentials_are_named() {
    let platform = cluster().await;
    let dev = cluster().await;
    let s = cross_cluster(&platform, &dev).await;
    let mut missing_key = s.clone();
    let k = missing_key.spec.provider.kubernetes.as_mut().expect("k8s");
    k.auth
        .as_mut()
        .expect("auth")
        .token
        .as_mut()
        .expect("token")
        .bearer_token
        .key = "nope".into();
    let e = client_err(&platform, &missing_key, Some("foo")).await;
    assert_eq!(
        e.to_string(),
        "spec.provider.kubernetes.auth.token.bearerToken: secret foo/eso-token has no key nope"
    );
    let mut missing_secret = s.clone();
    let k = missing_secret
        .spec
        .provider
        .kubernetes
        .as_mut()
        .expect("k8s");
    k.auth
        .as_mut()
        .expect("auth")
        .token
        .as_mut()
        .expect("token")
        .bearer_token
        .name = "gone".into();
    let e = client_err(&platform, &missing_secret, Some("foo")).await;
    assert!(
        e.to_string()
            .contains("cannot get Kubernetes secret foo/gone"),
        "{e}"
    );
    let mut no_auth = s.clone();
    no_auth.spec.provider.kubernetes.as_mut().expect("k8s").auth = None;
    let e = client_err(&platform, &no_auth, Some("foo")).await;
    assert!(e.to_string().contains("no auth provider given"), "{e}");
}

#[tokio::test]
async fn kubeconfig_from_auth_ref() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    // A kubeconfig holding a token of the argocd ServiceAccount, kept in namespace bar.
    let sa_client = client(&c, &s, Some("bar")).await;
    drop(sa_client);
    c.secret(
        "argocd",
        json!({"metadata": {"name": "sa-token", "annotations": {"kubernetes.io/service-account.name": "external-secrets"}},
               "type": "kubernetes.io/service-account-token"}),
    )
    .await;
    let filled = c.filled_token_secret("argocd", "sa-token").await;
    let token = text(&filled.data.expect("data")["token"].0);
    c.secret(
        "bar",
        json!({"metadata": {"name": "kc"}, "stringData": {"config": c.server.kubeconfig_with_token(&token)}}),
    )
    .await;
    let kc_store = store(
        StoreKind::SecretStore,
        "kc",
        Some("bar"),
        json!({"remoteNamespace": "foo", "authRef": {"name": "kc", "key": "config"}}),
    );
    let cl = client(&c, &kc_store, None).await;
    assert_eq!(
        text(
            &cl.get_secret(&rref("my-secret", Some("username")))
                .await
                .expect("read")
        ),
        "admin"
    );
    assert_eq!(
        cl.watch_key().expect("key"),
        format!("{}|foo|kubeconfig:bar/kc/config", c.server.url())
    );
    // An exec plugin in a user's kubeconfig is refused.
    c.secret(
        "bar",
        json!({"metadata": {"name": "kc-exec"}, "stringData": {"config": format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/true\n",
            c.server.url())}}),
    )
    .await;
    let exec_store = store(
        StoreKind::SecretStore,
        "kc-exec",
        Some("bar"),
        json!({"remoteNamespace": "foo", "authRef": {"name": "kc-exec", "key": "config"}}),
    );
    let e = client_err(&c, &exec_store, None).await;
    assert!(e.to_string().contains("exec credential plugin"), "{e}");
}

#[tokio::test]
async fn watch_reports_changed_secret_names() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    let cl = client(&c, &s, Some("bar")).await;
    let mut changes = cl
        .watch()
        .expect("watchable")
        .filter_map(|e| async move {
            match e {
                esox_providers::RemoteEvent::Changed(c) => Some(c),
                esox_providers::RemoteEvent::Listed => None,
            }
        })
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("initial list in time")
        .expect("stream open");
    assert_eq!(first.key, "my-secret");
    c.secret(
        "foo",
        json!({"metadata": {"name": "new-one"}, "stringData": {"a": "b"}}),
    )
    .await;
    let next = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ch) = changes.next().await {
            if ch.key == "new-one" {
                return Some(ch);
            }
        }
        None
    })
    .await
    .expect("change in time");
    assert_eq!(next.expect("stream open").key, "new-one");

    // The watch survives the server ending every watch stream.
    c.server.cut_watches();
    c.secret(
        "foo",
        json!({"metadata": {"name": "after-cut"}, "stringData": {"a": "b"}}),
    )
    .await;
    let after = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ch) = changes.next().await {
            if ch.key == "after-cut" {
                return Some(ch);
            }
        }
        None
    })
    .await
    .expect("change after the cut in time");
    assert_eq!(after.expect("stream open").key, "after-cut");
}

#[tokio::test]
async fn client_certificate_auth() {
    let c = cluster().await;
    for ns in ["app", "foo"] {
        c.namespace(ns).await;
    }
    let cert = c
        .server
        .issue_client_cert("cert-reader", &[])
        .expect("client cert");
    c.grant_user("foo", "cert-reader", secret_rules(), "cert-reader")
        .await;
    c.secret(
        "foo",
        json!({"metadata": {"name": "x"}, "stringData": {"k": "v"}}),
    )
    .await;
    c.secret(
        "app",
        json!({"metadata": {"name": "client-tls"}, "type": "kubernetes.io/tls",
               "stringData": {"tls.crt": cert.cert_pem, "tls.key": cert.key_pem}}),
    )
    .await;
    let s = store(
        StoreKind::SecretStore,
        "cert",
        Some("app"),
        json!({"remoteNamespace": "foo", "server": {"url": c.server.url(),
                 "caBundle": base64_of(c.server.ca_pem())},
               "auth": {"cert": {"clientCert": {"name": "client-tls", "key": "tls.crt"},
                                 "clientKey": {"name": "client-tls", "key": "tls.key"}}}}),
    );
    assert!(c.kubernetes().validate_store(&s).expect("valid").is_empty());
    let cl = client(&c, &s, Some("app")).await;
    assert_eq!(
        text(&cl.get_secret(&rref("x", Some("k"))).await.expect("read")),
        "v"
    );
    assert_eq!(
        cl.validate().await.expect("validate"),
        ValidationResult::Ready
    );
    assert_eq!(
        cl.watch_key().expect("key"),
        format!("{}|foo|cert:app/client-tls/tls.crt", c.server.url())
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn push_carries_type_and_merges_metadata() {
    let platform = cluster().await;
    let dev = cluster().await;
    let s = cross_cluster(&platform, &dev).await;
    // An existing remote Secret with metadata of its own.
    dev.secret(
        "foo",
        json!({"metadata": {"name": "registry", "labels": {"owner": "dev"}, "annotations": {"keep": "me"}},
               "type": "kubernetes.io/dockerconfigjson",
               "stringData": {".dockerconfigjson": "{\"auths\":{}}"}}),
    )
    .await;
    let cl = client(&platform, &s, Some("foo")).await;
    let local = LocalSecret {
        name: "registry".into(),
        namespace: "foo".into(),
        type_: "kubernetes.io/dockerconfigjson".into(),
        data: BTreeMap::from([(
            ".dockerconfigjson".to_owned(),
            br#"{"auths":{"r.example":{}}}"#.to_vec(),
        )]),
        labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
        annotations: BTreeMap::new(),
    };
    let entry = PushEntry {
        secret_key: None,
        remote_ref: remote("registry", None),
        metadata: Some(
            json!({"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
                              "spec": {"labels": {"pushed-by": "esox"}}}),
        ),
        never_pushed: false,
        owner: Some(OWNER.into()),
    };
    cl.push_secret(&local, &entry).await.expect("push");
    let got = dev.get_secret("foo", "registry").await.expect("remote");
    assert_eq!(got.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
    let labels = got.metadata.labels.expect("labels");
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        vec![
            ("app".to_owned(), "web".to_owned()),
            ("owner".to_owned(), "dev".to_owned()),
            ("pushed-by".to_owned(), "esox".to_owned()),
        ]
    );
    assert_eq!(got.metadata.annotations.expect("annotations")["keep"], "me");
    assert_eq!(
        got.data.expect("data")[".dockerconfigjson"].0,
        br#"{"auths":{"r.example":{}}}"#
    );
    // Metadata of another kind is refused with the field named.
    let bad = PushEntry {
        metadata: Some(json!({"apiVersion": "v1", "kind": "PushSecretMetadata", "spec": {}})),
        ..entry
    };
    let e = cl
        .push_secret(&local, &bad)
        .await
        .expect_err("bad metadata");
    assert!(e.to_string().contains("unexpected apiVersion"), "{e}");
}

#[tokio::test]
async fn extract_with_property_json_encodes_fields() {
    let c = cluster().await;
    let s = seed_cluster_store(&c).await;
    let cl = client(&c, &s, Some("bar")).await;
    let map = cl
        .get_secret_map(&rref("my-secret", Some("config")))
        .await
        .expect("extract property");
    assert_eq!(map.keys().collect::<Vec<_>>(), vec!["db"]);
    assert_eq!(text(&map["db"]), r#"{"host":"h","port":5432}"#);
    let e = cl
        .get_secret_map(&rref("my-secret", Some("username")))
        .await
        .expect_err("not JSON");
    assert_eq!(
        e.to_string(),
        "failed to unmarshal secret: invalid JSON format"
    );
}

#[tokio::test]
async fn only_secrets_created_for_the_pushsecret_are_deleted_whole() {
    const MARK: &str = "pushsecret.external-secrets.io/created-by";
    let platform = cluster().await;
    let dev = cluster().await;
    let s = cross_cluster(&platform, &dev).await;
    let cl = client(&platform, &s, Some("foo")).await;
    let mark_of = |secret: &k8s_openapi::api::core::v1::Secret| {
        secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(MARK).cloned())
    };
    // A source carrying someone's mark does not hand it over.
    let mut local = local_secret();
    local
        .annotations
        .insert(MARK.to_owned(), "elsewhere/other".to_owned());
    let replace = json!({"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
                         "spec": {"targetMergePolicy": "Replace", "annotations": {"a": "b"}}});
    let whole = PushEntry {
        remote_ref: remote("made", None),
        metadata: Some(replace),
        never_pushed: true,
        owner: Some(OWNER.into()),
        ..Default::default()
    };
    cl.push_secret(&local, &whole).await.expect("create");
    let made = dev.get_secret("foo", "made").await.expect("created");
    assert_eq!(mark_of(&made).as_deref(), Some(OWNER));
    // An update whose metadata replaces the annotations keeps the mark, and an unchanged push
    // does not write.
    local.data.insert("password".into(), b"changed".to_vec());
    cl.push_secret(
        &local,
        &PushEntry {
            never_pushed: false,
            ..whole.clone()
        },
    )
    .await
    .expect("update");
    let updated = dev.get_secret("foo", "made").await.expect("kept");
    assert_eq!(mark_of(&updated).as_deref(), Some(OWNER));
    assert_eq!(updated.metadata.annotations.as_ref().expect("a")["a"], "b");
    cl.push_secret(
        &local,
        &PushEntry {
            never_pushed: false,
            ..whole.clone()
        },
    )
    .await
    .expect("again");
    let again = dev.get_secret("foo", "made").await.expect("kept");
    assert_eq!(
        again.metadata.resource_version,
        updated.metadata.resource_version
    );

    // Another PushSecret's delete leaves it; its creator's delete removes it.
    let other = PushEntry {
        owner: Some("foo/another".into()),
        ..whole.clone()
    };
    cl.delete_secret(&other).await.expect("not ours: no-op");
    assert!(dev.get_secret("foo", "made").await.is_some());
    cl.delete_secret(&whole).await.expect("ours");
    assert!(dev.get_secret("foo", "made").await.is_none());

    // A Secret that existed before: a whole push over it is left in place on delete; a
    // property push loses only its property, even when it is the only one.
    dev.secret(
        "foo",
        json!({"metadata": {"name": "theirs"}, "stringData": {"pw": "old"}}),
    )
    .await;
    let prop = PushEntry {
        secret_key: Some("password".into()),
        remote_ref: remote("theirs", Some("pw")),
        never_pushed: true,
        owner: Some(OWNER.into()),
        ..Default::default()
    };
    cl.push_secret(&local, &prop).await.expect("into theirs");
    let theirs = dev.get_secret("foo", "theirs").await.expect("theirs");
    assert_eq!(mark_of(&theirs), None, "not created by esox: no mark");
    cl.delete_secret(&prop)
        .await
        .expect("take the property back");
    let theirs = dev.get_secret("foo", "theirs").await.expect("still there");
    assert!(theirs.data.unwrap_or_default().is_empty());
    let whole_over = PushEntry {
        remote_ref: remote("theirs", None),
        owner: Some(OWNER.into()),
        ..Default::default()
    };
    cl.push_secret(&local, &whole_over).await.expect("whole");
    cl.delete_secret(&whole_over).await.expect("left in place");
    assert!(dev.get_secret("foo", "theirs").await.is_some());
}
