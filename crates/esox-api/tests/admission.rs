//! The CRDs installed into the API server (esox's in-memory one, or a real kube-apiserver with
//! `ESOX_TEST_KUBECONFIG`): the seed applies cleanly, and the rules that stand in for ESO's
//! webhook refuse what it refuses, with their messages.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::path::PathBuf;

use esox_testcluster::apply_yaml;
use esox_testenv::Cluster;

/// The cluster `ESOX_TEST_KUBECONFIG` chooses (a real kube-apiserver when set) with the CRDs.
async fn cluster_with_crds() -> (Cluster, kube::Client) {
    let cluster = Cluster::start().await.expect("start");
    let client = cluster.client().await.expect("client");
    esox_testenv::install_crds(&client)
        .await
        .unwrap_or_else(|e| panic!("CRDs refused: {e}"));
    (cluster, client)
}

fn es(version: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/{version}\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: default}}\nspec:\n{spec}"
    )
}

async fn refusal(client: &kube::Client, yaml: &str) -> String {
    match apply_yaml(client, yaml, None, "test").await {
        Ok(()) => panic!("admitted:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

async fn admit(client: &kube::Client, yaml: &str) {
    if let Err(e) = apply_yaml(client, yaml, None, "test").await {
        panic!("refused: {e}\n{yaml}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_manifests_apply_in_order() {
    let (_cluster, client) = cluster_with_crds().await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/seed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(e) = apply_yaml(&client, &text, Some("default"), "seed").await {
            panic!("{}: {e}", file.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_rules_refuse_duplicate_keys_and_secret_field_targets() {
    let (_cluster, client) = cluster_with_crds().await;
    let dup = "  data:\n  - {secretKey: a, remoteRef: {key: first}}\n  - {secretKey: a, remoteRef: {key: second}}\n";
    let bad_target = "  dataFrom: [{extract: {key: k}}]\n  target: {template: {templateFrom: [{literal: \"x: y\", target: type}]}}\n";
    for version in ["v1", "v1beta1"] {
        let message = refusal(&client, &es(version, "dup", dup)).await;
        // Kubernetes 1.37 leaves out the `"object": ` that earlier versions print.
        assert!(
            message.contains("spec: Invalid value: ")
                && message.contains(
                    "data[].secretKey must be unique while target.deletionPolicy is Retain"
                ),
            "{version}: {message}"
        );
        let message = refusal(&client, &es(version, "bad-target", bad_target)).await;
        assert!(
            message.contains("spec.target: Invalid value: ")
                && message
                    .contains("template.templateFrom[].target must be Data, Annotations or Labels"),
            "{version}: {message}"
        );
    }
    // What ESO admits: duplicates under deletionPolicy Delete, the three Secret fields in any case,
    // and nested paths for a v1 manifest target that is not a Secret.
    admit(
        &client,
        &es(
            "v1",
            "dup-delete",
            &format!("{dup}  target: {{deletionPolicy: Delete}}\n"),
        ),
    )
    .await;
    admit(
        &client,
        &es(
            "v1beta1",
            "targets",
            "  dataFrom: [{extract: {key: k}}]\n  target: {template: {templateFrom: [{literal: \"x: y\", target: labels}, {literal: \"x: y\", target: Annotations}, {literal: \"x: y\"}]}}\n",
        ),
    )
    .await;
    admit(
        &client,
        &es(
            "v1",
            "config-map",
            "  dataFrom: [{extract: {key: k}}]\n  target:\n    manifest: {apiVersion: v1, kind: ConfigMap}\n    template: {templateFrom: [{literal: \"x: y\", target: spec.config}]}\n",
        ),
    )
    .await;
}
