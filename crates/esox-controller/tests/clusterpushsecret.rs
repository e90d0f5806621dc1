//! ClusterPushSecret: one PushSecret per selected namespace, following namespace labels.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::{Duration, Instant};

use common::{Env, apply};
use esox_api::v1alpha1::{ClusterPushSecret, PushSecret};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams};

async fn has_ps(env: &Env, ns: &str, present: bool) -> Option<Duration> {
    let started = Instant::now();
    let api: Api<PushSecret> = env.api(ns);
    common::wait_until(Duration::from_secs(10), || {
        let api = api.clone();
        async move { (api.get_opt("pushed").await.ok()?.is_some() == present).then_some(()) }
    })
    .await
    .map(|()| started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_secrets_follow_namespace_labels() {
    let env = Env::start().await;
    apply(
        &env.client,
        r#"
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b, labels: {push: "yes"}}
---
apiVersion: external-secrets.io/v1alpha1
kind: ClusterPushSecret
metadata: {name: cps}
spec:
  pushSecretName: pushed
  namespaceSelectors: [{matchLabels: {push: "yes"}}]
  pushSecretMetadata: {labels: {from: cps}}
  pushSecretSpec:
    secretStoreRefs: [{name: store}]
    selector: {secret: {name: src}}
    data: [{match: {remoteRef: {remoteKey: r}}}]
"#,
    )
    .await;
    has_ps(&env, "team-b", true)
        .await
        .expect("PushSecret created in the selected namespace");
    let ps: PushSecret = env.api("team-b").get("pushed").await.unwrap();
    assert_eq!(ps.metadata.labels.unwrap()["from"], "cps");
    let owner = &ps.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("ClusterPushSecret", Some(true))
    );
    assert!(
        env.api::<PushSecret>("team-a")
            .get_opt("pushed")
            .await
            .unwrap()
            .is_none()
    );

    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let label = |v: Option<&str>| serde_json::json!({"metadata": {"labels": {"push": v}}});
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(label(Some("yes"))),
        )
        .await
        .unwrap();
    let took = has_ps(&env, "team-a", true)
        .await
        .expect("provisioned after labelling");
    println!("ClusterPushSecret: labelled namespace provisioned in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    namespaces
        .patch(
            "team-b",
            &PatchParams::default(),
            &Patch::Merge(label(None)),
        )
        .await
        .unwrap();
    let took = has_ps(&env, "team-b", false)
        .await
        .expect("removed after unlabelling");
    println!("ClusterPushSecret: unlabelled namespace cleaned in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    let cps: Api<ClusterPushSecret> = Api::all(env.client.clone());
    let status = common::wait_until(Duration::from_secs(5), || {
        let cps = cps.clone();
        async move {
            let s = cps.get("cps").await.ok()?.status?;
            (s.provisioned_namespaces == ["team-a"]).then_some(s)
        }
    })
    .await
    .expect("status lists the provisioned namespaces");
    assert_eq!(status.push_secret_name.as_deref(), Some("pushed"));
    assert_eq!(status.conditions[0].status, "True");
    let ns: Namespace = namespaces.get("team-a").await.unwrap();
    assert!(
        ns.metadata.finalizers.unwrap_or_default().is_empty(),
        "no namespace finalizers"
    );
}
