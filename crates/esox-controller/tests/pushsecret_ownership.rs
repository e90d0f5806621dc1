//! A PushSecret deletes only what it created, where it created it: the `remoteNamespace`
//! override is used for checks and deletion, remote Secrets that existed before the push are
//! never deleted, and entries `IfNotExists` left alone are not recorded as pushed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::time::Duration;

use common::{Env, apply, value};
use esox_api::v1alpha1::PushSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;
use ps_support::{ps_ready, remote_where, setup};

const WAIT: Duration = Duration::from_secs(15);

fn exists(present: bool) -> impl Fn(Option<&Secret>) -> bool {
    move |s: Option<&Secret>| s.is_some() == present
}

/// Deletes the PushSecret and waits until its finalizer has been released.
async fn delete_and_wait(env: &Env, name: &str) {
    let api: Api<PushSecret> = env.api("app");
    api.delete(name, &DeleteParams::default()).await.unwrap();
    let gone = common::wait_until(WAIT, || {
        let api = api.clone();
        async move { api.get_opt(name).await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "PushSecret {name} deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_namespace_override_is_checked_and_deleted_where_it_was_pushed() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Namespace
metadata: {{name: other}}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {{name: css}}
spec:
  provider:
    kubernetes:
      remoteNamespace: remote
      server:
        caProvider: {{type: ConfigMap, name: kube-root-ca.crt, key: ca.crt, namespace: app}}
      auth:
        token:
          bearerToken: {{name: admin-token, key: token, namespace: app}}
---
# Secrets of someone else, with the names the PushSecrets use, in the store's namespace.
apiVersion: v1
kind: Secret
metadata: {{name: shared, namespace: remote}}
stringData: {{mine: "not esox's"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: checked, namespace: remote}}
stringData: {{pw: "not esox's"}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {{name: moved, namespace: app}}
spec:
  deletionPolicy: Delete
  updatePolicy: IfNotExists
  secretStoreRefs: [{{name: css, kind: ClusterSecretStore}}]
  selector: {{secret: {{name: src}}}}
  data:
    - match: {{remoteRef: {{remoteKey: shared}}}}
      metadata: {META}
    - match: {{secretKey: password, remoteRef: {{remoteKey: checked, property: pw}}}}
      metadata: {META}
"#,
            META = r#"{apiVersion: kubernetes.external-secrets.io/v1alpha1, kind: PushSecretMetadata, spec: {remoteNamespace: other}}"#
        ),
    )
    .await;
    // IfNotExists looks where the push goes: `other/checked` is created although
    // `remote/checked` exists.
    assert!(remote_where(c, "other", "shared", WAIT, exists(true)).await);
    assert!(
        remote_where(c, "other", "checked", WAIT, |s| s
            .and_then(|s| value(s, "pw"))
            .is_some_and(|v| v == b"first"))
        .await,
        "IfNotExists checked other/checked, not remote/checked"
    );
    let (reason, message) = ps_ready(c, "app", "moved", "True", WAIT).await.unwrap();
    assert_eq!(reason, "Synced", "{message}");

    // Deletion removes the copies in `other` and nothing in `remote`.
    delete_and_wait(&env, "moved").await;
    assert!(remote_where(c, "other", "shared", WAIT, exists(false)).await);
    assert!(remote_where(c, "other", "checked", WAIT, exists(false)).await);
    let secrets: Api<Secret> = env.api("remote");
    let shared = secrets.get("shared").await.expect("remote/shared kept");
    assert_eq!(value(&shared, "mine").unwrap(), b"not esox's");
    let checked = secrets.get("checked").await.expect("remote/checked kept");
    assert_eq!(value(&checked, "pw").unwrap(), b"not esox's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_secrets_that_existed_before_the_push_are_never_deleted() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: pre-prop, namespace: remote}
stringData: {pw: old}
---
apiVersion: v1
kind: Secret
metadata: {name: pre-whole, namespace: remote}
stringData: {theirs: old}
---
apiVersion: v1
kind: Secret
metadata: {name: pre-edited, namespace: remote}
stringData: {pw: old}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: owner, namespace: app}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: pre-prop, property: pw}}
    - match: {remoteRef: {remoteKey: pre-whole}}
    - match: {secretKey: password, remoteRef: {remoteKey: pre-edited, property: pw}}
    - match: {secretKey: password, remoteRef: {remoteKey: fresh, property: pw}}
    - match: {secretKey: user, remoteRef: {remoteKey: fresh-edited, property: u}}
"#,
    )
    .await;
    ps_ready(c, "app", "owner", "True", WAIT)
        .await
        .expect("pushed");
    let secrets: Api<Secret> = env.api("remote");
    assert_eq!(
        value(&secrets.get("pre-prop").await.unwrap(), "pw").unwrap(),
        b"first"
    );

    // Removing the only pushed property of a pre-existing Secret from the spec takes the
    // property back but leaves the Secret; the same for a Secret esox created removes it.
    let ps_api: Api<PushSecret> = env.api("app");
    let patch = serde_json::json!({"spec": {"data": [
        {"match": {"secretKey": "password", "remoteRef": {"remoteKey": "pre-prop", "property": "pw"}}},
        {"match": {"remoteRef": {"remoteKey": "pre-whole"}}},
        {"match": {"secretKey": "password", "remoteRef": {"remoteKey": "fresh", "property": "pw"}}},
    ]}});
    ps_api
        .patch(
            "owner",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    assert!(
        remote_where(c, "remote", "fresh-edited", WAIT, exists(false)).await,
        "the Secret esox created is deleted with its only property"
    );
    assert!(
        remote_where(c, "remote", "pre-edited", WAIT, |s| s
            .is_some_and(|s| value(s, "pw").is_none()))
        .await,
        "the pre-existing Secret loses the pushed property and stays"
    );

    // Deleting the PushSecret: the same.
    delete_and_wait(&env, "owner").await;
    assert!(remote_where(c, "remote", "fresh", WAIT, exists(false)).await);
    let pre_prop = secrets.get("pre-prop").await.expect("pre-prop kept");
    assert_eq!(value(&pre_prop, "pw"), None, "the pushed property is gone");
    let pre_whole = secrets.get("pre-whole").await.expect("pre-whole kept");
    assert!(value(&pre_whole, "password").is_some());
    assert!(secrets.get_opt("pre-edited").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_if_not_exists_left_alone_are_not_recorded_nor_deleted() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: existing, namespace: remote}
stringData: {pw: old}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: keep, namespace: app}
spec:
  deletionPolicy: Delete
  updatePolicy: IfNotExists
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: existing, property: pw}}
    - match: {secretKey: password, remoteRef: {remoteKey: fresh, property: pw}}
"#,
    )
    .await;
    ps_ready(c, "app", "keep", "True", WAIT)
        .await
        .expect("synced");
    let ps: PushSecret = env.api("app").get("keep").await.unwrap();
    let synced = &ps.status.unwrap().synced_push_secrets["SecretStore/k8s"];
    assert!(synced.contains_key("fresh/pw"), "{synced:?}");
    assert!(!synced.contains_key("existing/pw"), "{synced:?}");

    delete_and_wait(&env, "keep").await;
    assert!(remote_where(c, "remote", "fresh", WAIT, exists(false)).await);
    let existing: Secret = env.api("remote").get("existing").await.unwrap();
    assert_eq!(value(&existing, "pw").unwrap(), b"old");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finalizer_goes_only_on_push_secrets_of_our_stores() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: theirs, namespace: app}
spec:
  controller: someone-else
  provider:
    fake: {data: []}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: foreign, namespace: app}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{name: theirs}]
  selector: {secret: {name: src}}
  data: [{match: {secretKey: password, remoteRef: {remoteKey: foreign-copy}}}]
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: ours, namespace: app}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data: [{match: {secretKey: password, remoteRef: {remoteKey: ours-copy, property: pw}}}]
"#,
    )
    .await;
    let finalizer = "pushsecret.externalsecrets.io/finalizer".to_owned();
    let api: Api<PushSecret> = env.api("app");
    // Positive control: ours is pushed and finalized.
    ps_ready(c, "app", "ours", "True", WAIT)
        .await
        .expect("ours synced");
    let ours = api.get("ours").await.unwrap();
    assert!(
        ours.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&finalizer)
    );
    let foreign = api.get("foreign").await.unwrap();
    assert!(
        !foreign
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&finalizer),
        "a PushSecret whose stores belong to another controller gets no finalizer from esox"
    );
    assert!(foreign.status.is_none(), "and is left alone");
}
