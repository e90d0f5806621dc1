//! A remote Secret that a PushSecret never pushed is created without being read first; one that
//! exists anyway still gets ESO's get-merge-update (the create is refused with 409).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Env, apply, value};
use esox_testcluster::FaultMatch;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use ps_support::{patch_source, ps_ready, setup};

/// The remote Secret as a list shows it: a GET of it may be made to fail on purpose.
async fn listed(client: &Client, name: &str) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), "remote");
    let list = api.list(&Default::default()).await.unwrap();
    list.items
        .into_iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
}

fn keys(s: &Secret) -> Vec<String> {
    s.data.iter().flatten().map(|(k, _)| k.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_remote_secret_is_created_without_a_read() {
    let env = Env::start_in_memory().await;
    setup(&env).await;
    let c = &env.client;
    // Reading the remote Secret fails: only a push that creates it without a GET succeeds.
    let fault = env.cluster.faults().fail(
        FaultMatch {
            verb: Some("get".into()),
            resource: Some("secrets".into()),
            namespace: Some("remote".into()),
            name: Some("fresh".into()),
        },
        500,
        None,
    );
    apply(
        c,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: fresh, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: fresh}}
"#,
    )
    .await;
    let (reason, message) = ps_ready(c, "app", "fresh", "True", Duration::from_secs(15))
        .await
        .expect("Ready without reading the remote Secret");
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("Synced", "PushSecret synced successfully")
    );
    let remote = listed(c, "fresh").await.expect("created");
    assert_eq!(value(&remote, "password").unwrap(), b"first");
    assert_eq!(remote.type_.as_deref(), Some("Opaque"));
    assert_eq!(
        remote.metadata.labels,
        Some(BTreeMap::from([("team".to_owned(), "a".to_owned())])),
        "the source's labels, as ESO's create gives them"
    );

    // Once pushed, the entry is in the status: a source change reads the remote Secret first
    // (ESO's path), so while reading fails the change cannot arrive, and it does once it can.
    assert_eq!(
        env.cluster.faults().hits(fault),
        0,
        "the first push made no GET"
    );
    patch_source(c, "app", "src", "password", "second").await;
    // Positive control that the change was acted on: the read failed twice, so the first
    // attempt is over (the second is its retry) and wrote nothing.
    let tried = common::wait_until(Duration::from_secs(15), || async {
        (env.cluster.faults().hits(fault) >= 2).then_some(())
    })
    .await;
    assert!(tried.is_some(), "the change is acted on and its read fails");
    let remote = listed(c, "fresh").await.expect("still there");
    assert_eq!(value(&remote, "password").unwrap(), b"first");
    env.cluster.faults().remove(fault);
    let arrived = common::wait_until(Duration::from_secs(70), || async {
        let s = listed(c, "fresh").await?;
        (value(&s, "password")? == b"second").then_some(())
    })
    .await;
    assert!(arrived.is_some(), "the change arrives once reads work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_remote_secret_still_gets_esos_merge() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        r#"
apiVersion: v1
kind: Secret
metadata:
  name: whole
  namespace: remote
  labels: {owner: someone-else}
  annotations: {note: kept}
stringData: {stale: x}
---
apiVersion: v1
kind: Secret
metadata: {name: prop, namespace: remote}
stringData: {other: untouched}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: existing, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: whole}}
    - match: {secretKey: password, remoteRef: {remoteKey: prop, property: pw}}
"#,
    )
    .await;
    ps_ready(c, "app", "existing", "True", Duration::from_secs(15))
        .await
        .expect("Ready");
    // Whole-Secret push: the data is replaced, the labels and annotations merged (ESO 5.4).
    let whole = listed(c, "whole").await.unwrap();
    let mut data = keys(&whole);
    data.sort();
    assert_eq!(data, ["password", "user"]);
    assert_eq!(
        whole.metadata.labels,
        Some(BTreeMap::from([
            ("owner".to_owned(), "someone-else".to_owned()),
            ("team".to_owned(), "a".to_owned()),
        ]))
    );
    assert_eq!(
        whole
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("note"))
            .map(String::as_str),
        Some("kept")
    );
    // Property push: only that key is written, the others stay.
    let prop = listed(c, "prop").await.unwrap();
    assert_eq!(value(&prop, "pw").unwrap(), b"first");
    assert_eq!(value(&prop, "other").unwrap(), b"untouched");
}
