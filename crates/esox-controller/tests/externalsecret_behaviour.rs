//! ExternalSecret behaviours, one test each, end to end against the test cluster with the fake
//! provider.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::{Duration, Instant};

use common::{Env, apply, fake_store, value};
use esox_api::v1::ExternalSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_with_property_and_default_target_name() {
    let env = Env::start().await;
    apply(
        &env.client,
        &fake_store("app", &[("db", r#"{"user":"admin","pass":"s3cr3t"}"#)]),
    )
    .await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db-creds, namespace: app, labels: {team: a}}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: fake}
  data:
    - {secretKey: password, remoteRef: {key: db, property: pass}}
    - {secretKey: user, remoteRef: {key: db, property: user}}
"#,
    )
    .await;
    let s = env
        .secret_where("app", "db-creds", |_| true)
        .await
        .expect("target named like the ExternalSecret");
    assert_eq!(value(&s, "password").unwrap(), b"s3cr3t");
    assert_eq!(value(&s, "user").unwrap(), b"admin");
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    let labels = s.metadata.labels.clone().unwrap();
    assert_eq!(
        labels["team"], "a",
        "the ExternalSecret's labels are copied when there is no template"
    );
    assert_eq!(
        labels["reconcile.external-secrets.io/created-by"],
        esox_core::hash::created_by_hash("app", "db-creds")
    );
    let (reason, _) = env.es_ready("app", "db-creds", "True").await.unwrap();
    assert_eq!(reason, "SecretSynced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_shape_the_secret_with_precedence() {
    let env = Env::start().await;
    apply(
        &env.client,
        &fake_store(
            "app",
            &[
                ("registry", r#"{"user":"bot","token":"t0k"}"#),
                ("plain", "v"),
            ],
        ),
    )
    .await;
    apply(&env.client, r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: tpl, namespace: app}
data:
  config.yaml: |
    from-configmap: "{{ .user }}"
    overridden: "configmap"
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: pull, namespace: app}
spec:
  secretStoreRef: {name: fake}
  dataFrom: [{extract: {key: registry}}]
  target:
    template:
      type: kubernetes.io/dockerconfigjson
      metadata:
        labels: {owner: "{{ .user }}"}
        annotations: {note: static}
      templateFrom:
        - configMap: {name: tpl, items: [{key: config.yaml, templateAs: KeysAndValues}]}
      data:
        .dockerconfigjson: '{"auths":{"reg.example":{"auth":"{{ printf "%s:%s" .user .token | b64enc }}"}}}'
        overridden: "template.data"
"#).await;
    let s = env
        .secret_where("app", "pull", |_| true)
        .await
        .expect("templated target");
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
    assert_eq!(
        String::from_utf8(value(&s, ".dockerconfigjson").unwrap()).unwrap(),
        r#"{"auths":{"reg.example":{"auth":"Ym90OnQwaw=="}}}"#
    );
    assert_eq!(value(&s, "from-configmap").unwrap(), b"bot");
    assert_eq!(
        value(&s, "overridden").unwrap(),
        b"template.data",
        "template.data beats templateFrom"
    );
    assert!(
        value(&s, "user").is_none(),
        "mergePolicy Replace drops the raw keys"
    );
    assert_eq!(s.metadata.labels.as_ref().unwrap()["owner"], "bot");
    assert_eq!(s.metadata.annotations.as_ref().unwrap()["note"], "static");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_error_names_the_template_and_keeps_the_target() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", r#"{"a":"1"}"#)])).await;
    let es = r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: t, namespace: app}
spec:
  secretStoreRef: {name: fake}
  dataFrom: [{extract: {key: k}}]
  target:
    template:
      data: {out: "{{ .a }}"}
"#;
    apply(&env.client, es).await;
    env.secret_where("app", "t", |s| value(s, "out").as_deref() == Some(b"1"))
        .await
        .expect("first render");
    apply(
        &env.client,
        &es.replace("{{ .a }}", "line one\\n{{ .missing }}"),
    )
    .await;
    let (reason, message) = env
        .es_ready("app", "t", "False")
        .await
        .expect("template error surfaces");
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.contains("template: out:2:") && message.contains("missing"),
        "{message}"
    );
    let s: Secret = env.api("app").get("t").await.unwrap();
    assert_eq!(
        value(&s, "out").unwrap(),
        b"1",
        "a broken template never touches the target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_at_once() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "value")])).await;
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: d, namespace: app}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    env.secret_where("app", "d", |_| true).await.unwrap();
    let secrets: kube::Api<Secret> = env.api("app");
    secrets
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"k": "tampered"}})),
        )
        .await
        .unwrap();
    env.secret_where("app", "d", |s| value(s, "k").as_deref() == Some(b"value"))
        .await
        .expect("edit reverted");
    secrets.delete("d", &DeleteParams::default()).await.unwrap();
    env.secret_where("app", "d", |s| value(s, "k").as_deref() == Some(b"value"))
        .await
        .expect("deleted target recreated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_policy_keeps_foreign_keys_and_never_creates() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "from-store")])).await;
    let es = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: m, namespace: app}\nspec:\n  secretStoreRef: {name: fake}\n  target: {name: shared, creationPolicy: Merge}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n";
    apply(&env.client, es).await;
    let (reason, _) = env.es_ready("app", "m", "True").await.unwrap();
    assert_eq!(reason, "SecretMissing");
    let secrets: kube::Api<Secret> = env.api("app");
    assert!(secrets.get_opt("shared").await.unwrap().is_none());
    let existing: Secret = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "shared"}, "stringData": {"foreign": "keep"}}),
    )
    .unwrap();
    secrets
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();
    let s = env
        .secret_where("app", "shared", |s| value(s, "k").is_some())
        .await
        .expect("merged");
    assert_eq!(value(&s, "foreign").unwrap(), b"keep");
    assert!(s.metadata.owner_references.unwrap_or_default().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_outlives_its_external_secret() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: o, namespace: app}\nspec:\n  secretStoreRef: {name: fake}\n  target: {creationPolicy: Orphan}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    let s = env.secret_where("app", "o", |_| true).await.unwrap();
    assert!(s.metadata.owner_references.unwrap_or_default().is_empty());
    let es: kube::Api<ExternalSecret> = env.api("app");
    es.delete("o", &DeleteParams::default()).await.unwrap();
    let gone = common::wait_until(Duration::from_secs(10), || {
        let es = es.clone();
        async move { es.get_opt("o").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "the finalizer was released");
    let secrets: kube::Api<Secret> = env.api("app");
    assert!(secrets.get_opt("o").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_store_fails_clearly_then_recovers_when_it_appears() {
    let env = Env::start().await;
    apply(&env.client, "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e, namespace: app}\nspec:\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    let (reason, message) = env
        .es_ready("app", "e", "False")
        .await
        .expect("error condition");
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.starts_with("could not get secret data from provider"),
        "{message}"
    );
    assert!(
        message.contains("SecretStore \"fake\"") && message.contains("does not exist"),
        "{message}"
    );
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = env.api("app");
    let warned = common::wait_until(Duration::from_secs(5), || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("UpdateFailed") && e.type_.as_deref() == Some("Warning")
            })
        }
    })
    .await;
    assert!(warned.is_some(), "a Warning event UpdateFailed");
    // The store appears: the ExternalSecret recovers without waiting for its backoff.
    let started = std::time::Instant::now();
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    env.secret_where("app", "e", |s| value(s, "k").as_deref() == Some(b"v"))
        .await
        .expect("recovered");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "recovery took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_of_another_controller_class_are_left_alone() {
    let env = Env::start().await;
    apply(
        &env.client,
        &fake_store("app", &[("k", "v")]).replace(
            "spec:\n  provider:",
            "spec:\n  controller: other\n  provider:",
        ),
    )
    .await;
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: c, namespace: app}\nspec:\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    // Positive control, applied after the unmanaged one: the same ExternalSecret on a store of
    // esox's class is synced, so the controller runs and has seen both.
    apply(
        &env.client,
        &fake_store("app", &[("k", "v")]).replace("name: fake", "name: ours"),
    )
    .await;
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: control, namespace: app}\nspec:\n  secretStoreRef: {name: ours}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    let synced = Instant::now();
    env.es_ready("app", "control", "True")
        .await
        .expect("the control on esox's class syncs");
    env.secret_where("app", "control", |s| value(s, "k").as_deref() == Some(b"v"))
        .await
        .expect("the control's Secret is written");
    // Nothing must happen to `c`: give it as long again as the control took (at least 0.5 s).
    tokio::time::sleep(synced.elapsed().max(Duration::from_millis(500))).await;
    let es: ExternalSecret = env.api("app").get("c").await.unwrap();
    assert!(
        es.status
            .map(|s| s.conditions)
            .unwrap_or_default()
            .is_empty(),
        "no conditions on an unmanaged ExternalSecret"
    );
    let secrets: kube::Api<Secret> = env.api("app");
    assert!(secrets.get_opt("c").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_target_removes_the_old_secret() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    let es = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: r, namespace: app}\nspec:\n  secretStoreRef: {name: fake}\n  target: {name: first}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n";
    apply(&env.client, es).await;
    env.secret_where("app", "first", |_| true).await.unwrap();
    apply(&env.client, &es.replace("name: first", "name: second")).await;
    env.secret_where("app", "second", |_| true)
        .await
        .expect("new target");
    let secrets: kube::Api<Secret> = env.api("app");
    let gone = common::wait_until(Duration::from_secs(5), || {
        let secrets = secrets.clone();
        async move { secrets.get_opt("first").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "the old target was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_writes_nothing() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: s, namespace: app}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    // Positive control in the same window: an ExternalSecret refreshed every second is written
    // again (its status' refreshTime), so the controller is running while `s` stays untouched.
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: control, namespace: app}\nspec:\n  refreshInterval: 1s\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    env.es_ready("app", "s", "True").await.unwrap();
    env.es_ready("app", "control", "True").await.unwrap();
    let es_api: kube::Api<ExternalSecret> = env.api("app");
    let secrets: kube::Api<Secret> = env.api("app");
    let before = (
        es_api.get("s").await.unwrap().metadata.resource_version,
        secrets.get("s").await.unwrap().metadata.resource_version,
    );
    let control_before = es_api
        .get("control")
        .await
        .unwrap()
        .metadata
        .resource_version;
    // Nothing must happen to `s`: three refreshes of the control.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = (
        es_api.get("s").await.unwrap().metadata.resource_version,
        secrets.get("s").await.unwrap().metadata.resource_version,
    );
    assert_eq!(
        before, after,
        "neither the ExternalSecret nor its Secret was rewritten"
    );
    assert_ne!(
        es_api
            .get("control")
            .await
            .unwrap()
            .metadata
            .resource_version,
        control_before,
        "the control refreshing every second was written in the same window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_eso_created_is_taken_over_without_a_rewrite() {
    // The cluster as ESO leaves it: the ExternalSecret and the Secret ESO wrote for it, with
    // ESO's label, hash annotation, created-by label, controller reference and field manager.
    let (cluster, client) = common::cluster().await;
    apply(&client, &fake_store("app", &[("k", "v")])).await;
    apply(&client, "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: adopt, namespace: app}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    let es_api: kube::Api<ExternalSecret> = kube::Api::namespaced(client.clone(), "app");
    let uid = es_api.get("adopt").await.unwrap().metadata.uid.unwrap();
    // Hashes computed outside esox (Python's hashlib.sha3_224): of Go's "%+v" of the data
    // map, and of "<namespace>/<name>".
    let eso_written: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": "adopt",
            "labels": {
                "reconcile.external-secrets.io/managed": "true",
                "reconcile.external-secrets.io/created-by": "e5a2cddc98c281faea00460ded78851d458d3174a0e1901a7484260a",
            },
            "annotations": {
                "reconcile.external-secrets.io/data-hash": "a5ed8ea1c1be40fdb1975cb0a6fd52a4803c7f13cc97721399013172",
            },
            "ownerReferences": [{
                "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "name": "adopt", "uid": uid, "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "type": "Opaque",
        "data": {"k": "dg=="},
    }))
    .unwrap();
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), "app");
    let pp = PostParams {
        field_manager: Some("externalsecrets.external-secrets.io/adopt".to_owned()),
        ..Default::default()
    };
    let before = secrets
        .create(&pp, &eso_written)
        .await
        .unwrap()
        .metadata
        .resource_version;

    // esox starts and takes over.
    let (_ctx, shutdown, _task) = esox_controller::runner::start(
        client.clone(),
        esox_controller::Options::default(),
        esox_providers::LocalCluster {
            url: cluster.url(),
            ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
        },
    );
    let ready = common::es_ready_where(&client, "app", "adopt", |c| c.status == "True").await;
    shutdown.trigger();
    assert_eq!(
        ready.expect("Ready after the takeover").reason.as_deref(),
        Some("SecretSynced")
    );
    let after = secrets.get("adopt").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before,
        "the Secret ESO wrote was taken over as it is: {:?}",
        after.metadata
    );
    assert_eq!(value(&after, "k").unwrap(), b"v");
}
