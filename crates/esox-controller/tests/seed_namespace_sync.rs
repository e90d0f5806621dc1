//! The first half of the seed, applied unchanged: a ClusterSecretStore with the Kubernetes
//! provider reading namespace `foo`, and an ExternalSecret copying `my-secret` into `bar`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::{Duration, Instant};

use esox_api::v1::{ClusterSecretStore, ExternalSecret};
use esox_controller::{Options, runner};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};

/// The Secret to share, on top of `testdata/seed/0-platform-prerequisites.yaml`.
const SOURCE: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: my-secret, namespace: foo}
stringData: {username: harbor, password: first}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_copy_from_foo_to_bar_follows_the_source_within_a_second() {
    let (cluster, client) = common::cluster().await;
    common::apply(&client, &common::seed("0-platform-prerequisites.yaml")).await;
    common::apply(&client, SOURCE).await;
    common::apply(
        &client,
        &common::seed("1-namespace-sync-clustersecretstore.yaml"),
    )
    .await;
    common::apply(
        &client,
        &common::seed("2-namespace-sync-externalsecret.yaml"),
    )
    .await;

    let local = esox_providers::LocalCluster {
        url: cluster.url(),
        ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
    };
    let (_ctx, shutdown, task) = runner::start(client.clone(), Options::default(), local);

    let css: Api<ClusterSecretStore> = Api::all(client.clone());
    let ready = common::wait_until(Duration::from_secs(15), || {
        let css = css.clone();
        async move {
            let s = css.get("foo-secret-store").await.ok()?;
            let c = s
                .status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")?;
            (c.status == "True").then_some(c)
        }
    })
    .await;
    let store = css.get("foo-secret-store").await.unwrap();
    assert!(
        ready.is_some(),
        "store never became Ready: {:?}",
        store.status
    );
    assert_eq!(ready.unwrap().reason.as_deref(), Some("Valid"));

    let bar: Api<Secret> = Api::namespaced(client.clone(), "bar");
    let copied = common::wait_until(Duration::from_secs(15), || {
        let bar = bar.clone();
        async move { bar.get("my-secret").await.ok() }
    })
    .await;
    let es: Api<ExternalSecret> = Api::namespaced(client.clone(), "bar");
    let status = es.get("pull-my-secret").await.unwrap().status;
    let copied =
        copied.unwrap_or_else(|| panic!("target never created; ExternalSecret status: {status:?}"));
    let data = copied.data.clone().unwrap();
    assert_eq!(data["username"].0, b"harbor");
    assert_eq!(data["password"].0, b"first");
    let labels = copied.metadata.labels.clone().unwrap();
    assert_eq!(labels["reconcile.external-secrets.io/managed"], "true");
    assert_eq!(
        copied.metadata.annotations.as_ref().unwrap()["reconcile.external-secrets.io/data-hash"],
        esox_core::hash::data_hash(
            &[
                ("password".to_owned(), b"first".to_vec()),
                ("username".to_owned(), b"harbor".to_vec())
            ]
            .into()
        )
    );
    let owner = &copied.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ExternalSecret", "pull-my-secret", Some(true))
    );
    // The target is written before the status: wait for the status rather than read it once.
    common::es_ready_where(&client, "bar", "pull-my-secret", |c| c.status == "True")
        .await
        .expect("the ExternalSecret becomes Ready");
    let status = es.get("pull-my-secret").await.unwrap().status.unwrap();
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("True", Some("SecretSynced"))
    );
    assert_eq!(status.binding.unwrap().name, "my-secret");

    // The source changes; with refreshInterval 1h ESO would wait an hour. esox follows at once.
    let foo: Api<Secret> = Api::namespaced(client.clone(), "foo");
    let mut delays = Vec::new();
    for round in 0..5 {
        let value = format!("rotated-{round}");
        let started = Instant::now();
        let patch = serde_json::json!({"stringData": {"password": value}});
        foo.patch("my-secret", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        let arrived = common::wait_until(Duration::from_secs(5), || {
            let bar = bar.clone();
            let value = value.clone();
            async move {
                let s = bar.get("my-secret").await.ok()?;
                (s.data?.get("password")?.0 == value.as_bytes()).then_some(())
            }
        })
        .await;
        assert!(arrived.is_some(), "round {round}: the change never arrived");
        delays.push(started.elapsed());
    }
    let worst = delays.iter().max().unwrap();
    println!("source change to target: {delays:?}");
    assert!(*worst < Duration::from_secs(1), "a change took {worst:?}");

    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
