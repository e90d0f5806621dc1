//! esox with exactly the Helm chart's RBAC: the controllers run with a token of the chart's own
//! ServiceAccount (`esox-system/esox`), bound only by the rules `deploy/esox.yaml` (the chart's
//! defaults) or `testdata/chart/scoped-team-a.yaml` (namespace-scoped mode) grant. The test API
//! server enforces RBAC as the real authorizer does (same rule matching, same 403 wording).
//! `scripts/render-manifests --check` keeps both files in sync with the chart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use esox_api::v1::ExternalSecret;
use esox_controller::{Options, runner};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};

const RBAC_KINDS: &[&str] = &[
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
];

/// The documents of a rendered chart file that make up the identity and RBAC of esox (the
/// Deployment, Service and PodDisruptionBudget are not served by the test API server).
fn rbac_documents(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("\n---\n")
        .filter(|doc| {
            RBAC_KINDS
                .iter()
                .any(|k| doc.lines().any(|l| l == format!("kind: {k}")))
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A token of the chart's ServiceAccount, issued through a service-account-token Secret.
async fn esox_client(cluster: &esox_testenv::Cluster, admin: &Client) -> Client {
    common::apply(
        admin,
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\nmetadata:\n  name: esox-token\n  namespace: esox-system\n  annotations: {kubernetes.io/service-account.name: esox}\n",
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "esox-system");
    let token = common::wait_until(Duration::from_secs(10), || async {
        common::value(&secrets.get("esox-token").await.ok()?, "token")
    })
    .await
    .expect("the token controller fills the token Secret");
    cluster
        .client_with_token(&String::from_utf8(token).unwrap())
        .await
        .unwrap()
}

fn local(cluster: &esox_testenv::Cluster) -> esox_providers::LocalCluster {
    esox_providers::LocalCluster {
        url: cluster.url(),
        ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
    }
}

const SOURCE: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: my-secret, namespace: foo}\nstringData: {username: harbor, password: first}\n";

/// The seed's first flow (a ClusterSecretStore authenticating as a ServiceAccount, its CA from
/// `kube-root-ca.crt`, an ExternalSecret copying a Secret across namespaces) and a
/// ClusterExternalSecret, with the chart's default RBAC and nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_cluster_role_is_enough_for_the_seed_flow_and_a_cluster_external_secret() {
    let (cluster, admin) = common::cluster().await;
    common::apply(&admin, &rbac_documents("deploy/esox.yaml")).await;
    let esox = esox_client(&cluster, &admin).await;
    common::apply(&admin, &common::seed("0-platform-prerequisites.yaml")).await;
    common::apply(&admin, SOURCE).await;
    common::apply(
        &admin,
        &common::seed("1-namespace-sync-clustersecretstore.yaml"),
    )
    .await;
    common::apply(
        &admin,
        &common::seed("2-namespace-sync-externalsecret.yaml"),
    )
    .await;
    common::apply(
        &admin,
        r#"
apiVersion: v1
kind: Namespace
metadata: {name: team-x, labels: {copy: "yes"}}
---
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: {name: fan-out}
spec:
  namespaceSelectors: [{matchLabels: {copy: "yes"}}]
  externalSecretSpec:
    refreshInterval: 1h
    secretStoreRef: {name: foo-secret-store, kind: ClusterSecretStore}
    target: {name: copied}
    dataFrom: [{extract: {key: my-secret}}]
"#,
    )
    .await;
    let (_ctx, shutdown, _task) = runner::start(esox, Options::default(), local(&cluster));

    let env_secret = |ns: &str, name: &str| {
        let api: Api<Secret> = Api::namespaced(admin.clone(), ns);
        let name = name.to_owned();
        async move {
            common::wait_until(Duration::from_secs(20), || async {
                let s = api.get(&name).await.ok()?;
                common::value(&s, "password")
            })
            .await
        }
    };
    let es: Api<ExternalSecret> = Api::namespaced(admin.clone(), "bar");
    let copied = env_secret("bar", "my-secret").await;
    let status = es.get("pull-my-secret").await.unwrap().status;
    assert_eq!(
        copied.as_deref(),
        Some(&b"first"[..]),
        "seed flow with the chart's RBAC; ExternalSecret status: {status:?}"
    );
    assert_eq!(
        env_secret("team-x", "copied").await.as_deref(),
        Some(&b"first"[..]),
        "ClusterExternalSecret with the chart's RBAC"
    );
    shutdown.trigger();
}

/// A rule taken out of the ClusterRole shows up in the status of the object that needed it,
/// naming the verb and the resource; esox keeps running and recovers once the rule is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_rule_is_named_in_the_status_and_esox_recovers_when_it_is_granted() {
    let (cluster, admin) = common::cluster().await;
    let full = rbac_documents("deploy/esox.yaml");
    // The chart's ClusterRole without "create" on Secrets: targets cannot be written.
    let secrets_rule = "resources: [\"secrets\"]\n    verbs: [\"get\", \"list\", \"watch\", \"create\", \"update\", \"delete\"]";
    assert!(
        full.contains(secrets_rule),
        "the chart's Secrets rule changed"
    );
    let without_create = full.replace(
        secrets_rule,
        "resources: [\"secrets\"]\n    verbs: [\"get\", \"list\", \"watch\", \"update\", \"delete\"]",
    );
    common::apply(&admin, &without_create).await;
    let esox = esox_client(&cluster, &admin).await;
    common::apply(&admin, &common::fake_store("app", &[("k", "v")])).await;
    common::apply(
        &admin,
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: es, namespace: app}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {name: fake, kind: SecretStore}\n  target: {name: out}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
    )
    .await;
    let (_ctx, shutdown, task) = runner::start(esox, Options::default(), local(&cluster));

    let refused = common::es_ready_where(&admin, "app", "es", |c| c.status == "False").await;
    let message = refused
        .and_then(|c| c.message)
        .expect("Ready=False with a message");
    assert!(
        message.contains("cannot create resource \"secrets\"")
            && message.contains("system:serviceaccount:esox-system:esox"),
        "the status names the refused verb, resource and identity: {message}"
    );
    assert!(!task.is_finished(), "esox keeps running after a 403");

    common::apply(&admin, &full).await;
    // The ExternalSecret retries with backoff (1 s, 2 s, 4 s ...): within 15 s it is Ready.
    let es: Api<ExternalSecret> = Api::namespaced(admin.clone(), "app");
    let ready = common::ready_where(
        &es,
        "es",
        Duration::from_secs(15),
        |es| Some(es.status?.conditions),
        |c| c.status == "True",
    )
    .await;
    assert!(ready.is_some(), "Ready once the rule is back");
    shutdown.trigger();
}

/// Namespace-scoped mode with the chart's Roles only: the served namespace works (sync, and a
/// deleted target is recreated at once, which needs the namespaced Secret watch to be
/// allowed), another namespace is not touched, and a ClusterSecretStore is refused with a
/// message saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_mode_works_with_the_charts_roles_only() {
    let (cluster, admin) = common::cluster().await;
    let rbac = rbac_documents("testdata/chart/scoped-team-a.yaml");
    assert!(
        !rbac.contains("kind: ClusterRole"),
        "scoped RBAC has Roles only"
    );
    common::apply(
        &admin,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: esox-system}\n",
    )
    .await;
    common::apply(&admin, &common::fake_store("team-a", &[("k", "a")])).await;
    common::apply(&admin, &common::fake_store("team-b", &[("k", "b")])).await;
    common::apply(&admin, &rbac).await;
    let esox = esox_client(&cluster, &admin).await;
    let es = |ns: &str, name: &str, kind: &str, store: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: {store}, kind: {kind}}}\n  target: {{name: {name}-out}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n"
        )
    };
    common::apply(&admin, &es("team-a", "es", "SecretStore", "fake")).await;
    common::apply(
        &admin,
        &es("team-a", "uses-cluster", "ClusterSecretStore", "any"),
    )
    .await;
    common::apply(&admin, &es("team-b", "es", "SecretStore", "fake")).await;
    let options = Options {
        namespace: Some("team-a".to_owned()),
        ..Options::default()
    }
    .scoped();
    let (_ctx, shutdown, task) = runner::start(esox, options, local(&cluster));

    let a: Api<Secret> = Api::namespaced(admin.clone(), "team-a");
    let synced = common::wait_until(Duration::from_secs(15), || async {
        common::value(&a.get("es-out").await.ok()?, "k")
    })
    .await;
    assert_eq!(synced.as_deref(), Some(&b"a"[..]), "team-a is served");

    let refused =
        common::es_ready_where(&admin, "team-a", "uses-cluster", |c| c.status == "False").await;
    let message = refused.and_then(|c| c.message).unwrap_or_default();
    assert!(
        message.contains("ClusterSecretStores are not processed") && message.contains("team-a"),
        "{message}"
    );

    // The watch of managed Secrets in team-a brings a deleted target back at once.
    a.delete("es-out", &DeleteParams::default()).await.unwrap();
    let recreated = common::wait_until(Duration::from_secs(5), || async {
        common::value(&a.get("es-out").await.ok()?, "k")
    })
    .await;
    assert!(
        recreated.is_some(),
        "a deleted target is recreated within 5 s"
    );

    // Nothing happened in team-b: no target, no status, no finalizer.
    let b_es: Api<ExternalSecret> = Api::namespaced(admin.clone(), "team-b");
    let untouched = b_es.get("es").await.unwrap();
    assert!(untouched.status.is_none(), "{:?}", untouched.status);
    assert!(
        untouched.metadata.finalizers.unwrap_or_default().is_empty(),
        "no finalizer outside the served namespace"
    );
    let b: Api<Secret> = Api::namespaced(admin.clone(), "team-b");
    assert!(b.get_opt("es-out").await.unwrap().is_none());
    // A change in team-b is not picked up either.
    b_es.patch(
        "es",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"force-sync": "1"}}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b.get_opt("es-out").await.unwrap().is_none());
    assert!(!task.is_finished(), "esox keeps running");
    shutdown.trigger();
}
