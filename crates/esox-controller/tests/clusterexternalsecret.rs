//! ClusterExternalSecret: one ExternalSecret per selected namespace, following namespace changes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::{Duration, Instant};

use common::{Env, apply, fake_store};
use esox_api::v1::{ClusterExternalSecret, ExternalSecret};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};

async fn has_es(env: &Env, ns: &str, present: bool) -> Option<Duration> {
    let started = Instant::now();
    let api: Api<ExternalSecret> = env.api(ns);
    common::wait_until(Duration::from_secs(10), || {
        let api = api.clone();
        async move { (api.get_opt("shared").await.ok()?.is_some() == present).then_some(()) }
    })
    .await
    .map(|()| started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_secrets_follow_namespace_labels() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("team-a", &[("k", "v")])).await;
    apply(
        &env.client,
        r#"
apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {shared: "yes"}}
---
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: {name: shared}
spec:
  namespaceSelectors: [{matchLabels: {shared: "yes"}}]
  externalSecretMetadata: {labels: {from: ces}}
  externalSecretSpec:
    secretStoreRef: {name: fake}
    data: [{secretKey: k, remoteRef: {key: k}}]
"#,
    )
    .await;
    has_es(&env, "team-b", true)
        .await
        .expect("ExternalSecret created in the selected namespace");
    let es: ExternalSecret = env.api("team-b").get("shared").await.unwrap();
    assert_eq!(es.metadata.labels.unwrap()["from"], "ces");
    assert_eq!(
        es.metadata.owner_references.unwrap()[0].kind,
        "ClusterExternalSecret"
    );
    assert!(
        env.api::<ExternalSecret>("team-a")
            .get_opt("shared")
            .await
            .unwrap()
            .is_none()
    );

    // Labelling a namespace provisions it within a second; unlabelling removes the child.
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let label = |v: Option<&str>| serde_json::json!({"metadata": {"labels": {"shared": v}}});
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(label(Some("yes"))),
        )
        .await
        .unwrap();
    let took = has_es(&env, "team-a", true)
        .await
        .expect("provisioned after labelling");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    namespaces
        .patch(
            "team-b",
            &PatchParams::default(),
            &Patch::Merge(label(None)),
        )
        .await
        .unwrap();
    let took = has_es(&env, "team-b", false)
        .await
        .expect("removed after unlabelling");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    let ces: Api<ClusterExternalSecret> = Api::all(env.client.clone());
    let status = common::wait_until(Duration::from_secs(5), || {
        let ces = ces.clone();
        async move {
            let s = ces.get("shared").await.ok()?.status?;
            (s.provisioned_namespaces == ["team-a"]).then_some(s)
        }
    })
    .await
    .expect("status lists the provisioned namespaces");
    assert_eq!(status.conditions[0].status, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_external_secret_is_reported_not_overwritten() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    let foreign = ExternalSecret::new(
        "shared",
        serde_json::from_value(serde_json::json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "mine", "remoteRef": {"key": "k"}}]})).unwrap(),
    );
    env.api::<ExternalSecret>("app")
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    apply(&env.client, "apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\nmetadata: {name: shared}\nspec:\n  namespaces: [app]\n  externalSecretSpec:\n    secretStoreRef: {name: fake}\n    data: [{secretKey: k, remoteRef: {key: k}}]\n").await;
    let ces: Api<ClusterExternalSecret> = Api::all(env.client.clone());
    let status = common::wait_until(Duration::from_secs(10), || {
        let ces = ces.clone();
        async move {
            ces.get("shared")
                .await
                .ok()?
                .status
                .filter(|s| !s.failed_namespaces.is_empty())
        }
    })
    .await
    .expect("failure reported");
    assert_eq!(status.failed_namespaces[0].namespace, "app");
    assert_eq!(
        status.failed_namespaces[0].reason.as_deref(),
        Some("external secret already exists in namespace")
    );
    assert_eq!(
        status.conditions[0].message.as_deref(),
        Some("one or more namespaces failed")
    );
    let es: ExternalSecret = env.api("app").get("shared").await.unwrap();
    assert_eq!(
        es.spec.data[0].secret_key, "mine",
        "the foreign ExternalSecret is untouched"
    );
}
