//! esox with exactly the Helm chart's RBAC: the controllers run with a token of the chart's own
//! ServiceAccount (`esox-system/esox`), bound only by the rules `deploy/esox.yaml` (the chart's
//! defaults) or `testdata/chart/scoped-team-a.yaml` (namespace-scoped mode) grant. The test API
//! server enforces RBAC as the real authorizer does (same rule matching, same 403 wording).
//! `scripts/render-manifests --check` keeps both files in sync with the chart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use esox_api::v1::ExternalSecret;
use esox_api::v1alpha1::PushSecret;
use esox_controller::{Options, runner};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
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

/// Namespace-scoped mode with the chart's Roles only: the served namespace works (sync, a
/// PushSecret with its finalizer, and a deleted target is recreated at once, which needs the
/// namespaced Secret watch to be allowed), another namespace is not touched, and a ClusterSecretStore is refused with a
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
    common::apply(
        &admin,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: src, namespace: team-a}\nstringData: {k: v}\n---\napiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata: {name: ps, namespace: team-a}\nspec:\n  refreshInterval: 1h\n  deletionPolicy: Delete\n  secretStoreRefs: [{name: fake, kind: SecretStore}]\n  selector: {secret: {name: src}}\n  data: [{match: {secretKey: k, remoteRef: {remoteKey: pushed}}}]\n",
    )
    .await;
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
    let pushed = common::ready_where(
        &Api::<PushSecret>::namespaced(admin.clone(), "team-a"),
        "ps",
        Duration::from_secs(15),
        |ps| Some(ps.status?.conditions),
        |c| c.status == "True",
    )
    .await;
    assert!(pushed.is_some(), "a PushSecret in team-a pushes");

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

// ---------------------------------------------------------------------------------------------
// Every rule of the chart's ClusterRole is needed.
// ---------------------------------------------------------------------------------------------

/// Where a refused request shows: the status of the object whose behaviour needed it, an Event,
/// or, for a request no object's status can carry (a list or watch, the Event itself, a status
/// write, the cleanup of a deleted object), esox's log.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shows {
    Status(&'static str),
    Log,
}

/// What esox is given to do in one case (all in the case's namespace, or cluster-scoped objects
/// named after it).
#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// A fake SecretStore and an ExternalSecret copying one key.
    Sync,
    /// The target exists, unowned; creationPolicy Merge updates it.
    Merge,
    /// deletionPolicy Delete: esox adds its finalizer.
    DeletePolicy,
    /// deletionPolicy Delete, the provider has nothing for the ExternalSecret, and the target
    /// esox created earlier is there: esox deletes it.
    DeleteEmptyTarget,
    /// A SecretStore esox has not seen (it does not exist): read from the API server.
    MissingStore,
    /// A ClusterSecretStore esox has not seen.
    MissingClusterStore,
    /// template.templateFrom a ConfigMap.
    TemplateConfigMap,
    /// dataFrom a generator of that kind (Password, UUID, Fake, SSHKey, VaultDynamicSecret,
    /// ClusterGenerator).
    Generator(&'static str),
    /// A fake ClusterSecretStore and an ExternalSecret using it.
    ClusterStore,
    /// A ClusterSecretStore whose conditions do not admit the namespace.
    ClusterStoreConditions,
    /// A kubernetes SecretStore authenticating as a ServiceAccount, its CA from a ConfigMap.
    ServiceAccountStore,
    /// A PushSecret pushing a Secret to a fake store.
    Push,
    /// A PushSecret with deletionPolicy Delete: esox adds its finalizer.
    PushDeletePolicy,
    /// A ClusterExternalSecret selecting the case's namespace.
    ClusterExternalSecret,
    /// A ClusterExternalSecret whose ExternalSecret exists with another spec.
    ClusterExternalSecretUpdate,
    /// A ClusterExternalSecret whose status lists the namespace, which it no longer selects.
    ClusterExternalSecretLeft,
    /// A ClusterPushSecret selecting the case's namespace.
    ClusterPushSecret,
    /// A ClusterPushSecret whose PushSecret exists with another spec.
    ClusterPushSecretUpdate,
    /// A ClusterPushSecret whose status lists the namespace, which it no longer selects.
    ClusterPushSecretLeft,
}

/// One verb on one resource of the chart's ClusterRole, the behaviour that needs it, and where
/// its refusal shows.
struct Case {
    group: &'static str,
    resource: &'static str,
    verb: &'static str,
    scenario: Scenario,
    shows: Shows,
    /// Needs the OwnerReferencesPermissionEnforcement admission plugin (blockOwnerDeletion),
    /// which the in-memory server does not have.
    real_only: bool,
}

const ESO: &str = "external-secrets.io";
const GEN: &str = "generators.external-secrets.io";

const fn case(
    group: &'static str,
    resource: &'static str,
    verb: &'static str,
    scenario: Scenario,
    shows: Shows,
) -> Case {
    Case {
        group,
        resource,
        verb,
        scenario,
        shows,
        real_only: false,
    }
}

const fn owner_ref(
    group: &'static str,
    resource: &'static str,
    scenario: Scenario,
    shows: Shows,
) -> Case {
    Case {
        group,
        resource,
        verb: "update",
        scenario,
        shows,
        real_only: true,
    }
}

use Scenario as S;
use Shows::{Log, Status};

/// The table: every verb of every rule of the chart's ClusterRole (checked against the rendered
/// ClusterRole below, so a rule added to the chart without a case fails the test).
const CASES: &[Case] = &[
    // ExternalSecrets: the controller's watch; the finalizer of deletionPolicy Delete; the
    // children of ClusterExternalSecrets (read, created, updated, deleted).
    case(ESO, "externalsecrets", "list", S::Sync, Log),
    case(ESO, "externalsecrets", "watch", S::Sync, Log),
    case(ESO, "externalsecrets", "patch", S::DeletePolicy, Log),
    case(
        ESO,
        "externalsecrets",
        "get",
        S::ClusterExternalSecret,
        Status("ClusterExternalSecret"),
    ),
    case(
        ESO,
        "externalsecrets",
        "create",
        S::ClusterExternalSecret,
        Status("ClusterExternalSecret"),
    ),
    case(
        ESO,
        "externalsecrets",
        "update",
        S::ClusterExternalSecretUpdate,
        Status("ClusterExternalSecret"),
    ),
    case(
        ESO,
        "externalsecrets",
        "delete",
        S::ClusterExternalSecretLeft,
        Log,
    ),
    case(ESO, "externalsecrets/status", "patch", S::Sync, Log),
    owner_ref(
        ESO,
        "externalsecrets/finalizers",
        S::Sync,
        Status("ExternalSecret"),
    ),
    // SecretStores.
    case(ESO, "secretstores", "list", S::Sync, Log),
    case(ESO, "secretstores", "watch", S::Sync, Log),
    case(
        ESO,
        "secretstores",
        "get",
        S::MissingStore,
        Status("ExternalSecret"),
    ),
    case(ESO, "secretstores/status", "patch", S::Sync, Log),
    // PushSecrets, and the children of ClusterPushSecrets.
    case(ESO, "pushsecrets", "list", S::Push, Log),
    case(ESO, "pushsecrets", "watch", S::Push, Log),
    case(ESO, "pushsecrets", "patch", S::PushDeletePolicy, Log),
    case(
        ESO,
        "pushsecrets",
        "get",
        S::ClusterPushSecret,
        Status("ClusterPushSecret"),
    ),
    case(
        ESO,
        "pushsecrets",
        "create",
        S::ClusterPushSecret,
        Status("ClusterPushSecret"),
    ),
    case(
        ESO,
        "pushsecrets",
        "update",
        S::ClusterPushSecretUpdate,
        Status("ClusterPushSecret"),
    ),
    case(
        ESO,
        "pushsecrets",
        "delete",
        S::ClusterPushSecretLeft,
        Status("ClusterPushSecret"),
    ),
    case(ESO, "pushsecrets/status", "patch", S::Push, Log),
    // Generators.
    case(
        GEN,
        "passwords",
        "get",
        S::Generator("Password"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "uuids",
        "get",
        S::Generator("UUID"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "fakes",
        "get",
        S::Generator("Fake"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "sshkeys",
        "get",
        S::Generator("SSHKey"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "webhooks",
        "get",
        S::Generator("Webhook"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "mfas",
        "get",
        S::Generator("MFA"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "vaultdynamicsecrets",
        "get",
        S::Generator("VaultDynamicSecret"),
        Status("ExternalSecret"),
    ),
    case(
        GEN,
        "clustergenerators",
        "get",
        S::Generator("ClusterGenerator"),
        Status("ExternalSecret"),
    ),
    // Secrets.
    case("", "secrets", "get", S::Push, Status("PushSecret")),
    case("", "secrets", "list", S::Sync, Log),
    // The watch of managed Secrets (metadata only), which brings a changed target back.
    case("", "secrets", "watch", S::Sync, Log),
    case("", "secrets", "create", S::Sync, Status("ExternalSecret")),
    case("", "secrets", "update", S::Merge, Status("ExternalSecret")),
    case(
        "",
        "secrets",
        "delete",
        S::DeleteEmptyTarget,
        Status("ExternalSecret"),
    ),
    case(
        "",
        "configmaps",
        "get",
        S::TemplateConfigMap,
        Status("ExternalSecret"),
    ),
    case(
        "",
        "serviceaccounts/token",
        "create",
        S::ServiceAccountStore,
        Status("SecretStore"),
    ),
    case("events.k8s.io", "events", "create", S::Sync, Log),
    // ClusterSecretStores.
    case(ESO, "clustersecretstores", "list", S::ClusterStore, Log),
    case(ESO, "clustersecretstores", "watch", S::ClusterStore, Log),
    case(
        ESO,
        "clustersecretstores",
        "get",
        S::MissingClusterStore,
        Status("ExternalSecret"),
    ),
    case(
        ESO,
        "clustersecretstores/status",
        "patch",
        S::ClusterStore,
        Log,
    ),
    // ClusterExternalSecrets.
    case(
        ESO,
        "clusterexternalsecrets",
        "list",
        S::ClusterExternalSecret,
        Log,
    ),
    case(
        ESO,
        "clusterexternalsecrets",
        "watch",
        S::ClusterExternalSecret,
        Log,
    ),
    case(
        ESO,
        "clusterexternalsecrets",
        "patch",
        S::ClusterExternalSecret,
        Log,
    ),
    case(
        ESO,
        "clusterexternalsecrets/status",
        "patch",
        S::ClusterExternalSecret,
        Log,
    ),
    // ClusterPushSecrets.
    case(ESO, "clusterpushsecrets", "list", S::ClusterPushSecret, Log),
    case(
        ESO,
        "clusterpushsecrets",
        "watch",
        S::ClusterPushSecret,
        Log,
    ),
    case(
        ESO,
        "clusterpushsecrets/status",
        "patch",
        S::ClusterPushSecret,
        Log,
    ),
    // Namespaces.
    case(
        "",
        "namespaces",
        "get",
        S::ClusterStoreConditions,
        Status("ExternalSecret"),
    ),
    case("", "namespaces", "list", S::ClusterStore, Log),
    // The watch of namespace labels (metadata only) that ClusterExternalSecrets select by.
    case("", "namespaces", "watch", S::ClusterExternalSecret, Log),
];

/// A ClusterRole's rules as the API server returns them.
type Rules = Vec<PolicyRule>;

/// The rules without `verb` on `group`/`resource` (a rule naming several resources keeps the
/// others; a rule left with no verb goes).
fn without(rules: &Rules, group: &str, resource: &str, verb: &str) -> Rules {
    let mut out = Vec::new();
    for rule in rules {
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        if !groups.iter().any(|g| g == group) || !resources.iter().any(|r| r == resource) {
            out.push(rule.clone());
            continue;
        }
        let others: Vec<String> = resources
            .iter()
            .filter(|r| *r != resource)
            .cloned()
            .collect();
        if !others.is_empty() {
            out.push(PolicyRule {
                resources: Some(others),
                ..rule.clone()
            });
        }
        let verbs: Vec<String> = rule.verbs.iter().filter(|v| *v != verb).cloned().collect();
        if !verbs.is_empty() {
            out.push(PolicyRule {
                resources: Some(vec![resource.to_owned()]),
                verbs,
                ..rule.clone()
            });
        }
    }
    out
}

/// Every (group, resource, verb) the rules grant.
fn granted(rules: &Rules) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for g in rule.api_groups.iter().flatten() {
            for r in rule.resources.iter().flatten() {
                for v in &rule.verbs {
                    out.insert((g.clone(), r.clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// A token of the chart's ServiceAccount from the TokenRequest API, as the kubelet gets one.
async fn token_request(admin: &Client) -> String {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "esox-system");
    let body = serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    });
    let issued: serde_json::Value = accounts
        .create_subresource("token", "esox", &PostParams::default(), &body)
        .await
        .expect("TokenRequest for esox-system/esox");
    issued["status"]["token"].as_str().unwrap().to_owned()
}

/// What esox logs, for the refusals only a log can carry. Installed once per process; every
/// case reads what was written after it started.
fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(buffer))
            .try_init();
        buffer
    })
}

struct LogWriter(&'static Mutex<Vec<u8>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const ESO_KINDS: &[(&str, &str, &str, bool)] = &[
    ("ExternalSecret", "externalsecrets", "v1", true),
    ("SecretStore", "secretstores", "v1", true),
    ("PushSecret", "pushsecrets", "v1alpha1", true),
    ("ClusterSecretStore", "clustersecretstores", "v1", false),
    (
        "ClusterExternalSecret",
        "clusterexternalsecrets",
        "v1",
        false,
    ),
    ("ClusterPushSecret", "clusterpushsecrets", "v1alpha1", false),
];

fn eso_api(client: &Client, kind: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let (kind, plural, version, _) = ESO_KINDS.iter().find(|k| k.0 == kind).unwrap();
    let ar = ApiResource {
        group: ESO.to_owned(),
        version: (*version).to_owned(),
        api_version: format!("{ESO}/{version}"),
        kind: (*kind).to_owned(),
        plural: (*plural).to_owned(),
    };
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Where the case's refusal shows: (source, text) for the status of every esox object of the
/// case (namespaced ones in `ns`, cluster-scoped ones named after it) and for the log lines
/// written since `log_from`.
async fn evidence(admin: &Client, ns: &str, log_from: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (kind, _, _, namespaced) in ESO_KINDS {
        let api = eso_api(admin, kind, namespaced.then_some(ns));
        for obj in api.list(&ListParams::default()).await.unwrap() {
            let name = obj.metadata.name.clone().unwrap_or_default();
            if !namespaced && !name.contains(ns) {
                continue;
            }
            if let Some(status) = obj.data.get("status") {
                // Unescaped, so that a message reads as the API server wrote it.
                let text = status.to_string().replace("\\\"", "\"");
                out.push((format!("{kind} {name} status"), text));
            }
        }
    }
    let logs = captured_logs().lock().unwrap()[log_from..].to_vec();
    for line in String::from_utf8_lossy(&logs).lines() {
        out.push(("log".to_owned(), line.to_owned()));
    }
    out
}

fn yaml_scenario(scenario: Scenario, ns: &str) -> String {
    let namespace = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{case: {ns}}}}}\n---\n"
    );
    let store = format!(
        "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: fake, namespace: {ns}}}\nspec: {{provider: {{fake: {{data: [{{key: k, value: v}}]}}}}}}\n---\n"
    );
    let es = |extra: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: es, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: fake, kind: SecretStore}}\n  target: {{name: out{extra}}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n---\n"
        )
    };
    let source = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: src, namespace: {ns}}}\nstringData: {{k: v}}\n---\n"
    );
    let ps = |extra: &str| {
        format!(
            "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata: {{name: ps, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  secretStoreRefs: [{{name: fake, kind: SecretStore}}]\n  selector: {{secret: {{name: src}}}}\n  data: [{{match: {{secretKey: k, remoteRef: {{remoteKey: pushed-{ns}}}}}}}]\n{extra}---\n"
        )
    };
    let css = |conditions: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {{name: css-{ns}}}\nspec:\n  provider: {{fake: {{data: [{{key: k, value: v}}]}}}}\n{conditions}---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: es, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: css-{ns}, kind: ClusterSecretStore}}\n  target: {{name: out}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n---\n"
        )
    };
    let ces = |selected: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\nmetadata: {{name: ces-{ns}}}\nspec:\n  externalSecretName: child\n  namespaceSelectors: [{{matchLabels: {{case: {selected}}}}}]\n  externalSecretSpec:\n    refreshInterval: 1h\n    secretStoreRef: {{name: fake, kind: SecretStore}}\n    target: {{name: out}}\n    data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n---\n"
        )
    };
    let cps = |selected: &str| {
        format!(
            "apiVersion: external-secrets.io/v1alpha1\nkind: ClusterPushSecret\nmetadata: {{name: cps-{ns}}}\nspec:\n  pushSecretName: child\n  namespaceSelectors: [{{matchLabels: {{case: {selected}}}}}]\n  pushSecretSpec:\n    refreshInterval: 1h\n    secretStoreRefs: [{{name: fake, kind: SecretStore}}]\n    selector: {{secret: {{name: src}}}}\n    data: [{{match: {{secretKey: k, remoteRef: {{remoteKey: pushed-{ns}}}}}}}]\n---\n"
        )
    };
    let generator_es = |kind: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: es, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  target: {{name: out}}\n  dataFrom:\n    - sourceRef:\n        generatorRef: {{apiVersion: generators.external-secrets.io/v1alpha1, kind: {kind}, name: gen-{ns}}}\n---\n"
        )
    };
    let body = match scenario {
        S::Sync => format!("{store}{}", es("")),
        S::Merge => format!(
            "{store}apiVersion: v1\nkind: Secret\nmetadata: {{name: out, namespace: {ns}}}\nstringData: {{other: x}}\n---\n{}",
            es(", creationPolicy: Merge")
        ),
        S::DeletePolicy => format!("{store}{}", es(", deletionPolicy: Delete")),
        S::DeleteEmptyTarget => format!(
            "{store}apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: es, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: fake, kind: SecretStore}}\n  target: {{name: out, deletionPolicy: Delete}}\n  dataFrom: [{{find: {{name: {{regexp: '^nothing$'}}}}}}]\n---\n"
        ),
        S::MissingStore => es("").replace("name: fake, kind", "name: absent, kind"),
        S::MissingClusterStore => es("").replace(
            "name: fake, kind: SecretStore",
            &format!("name: absent-{ns}, kind: ClusterSecretStore"),
        ),
        S::TemplateConfigMap => format!(
            "{store}apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: tpl, namespace: {ns}}}\ndata: {{t: 'x-{{{{ .k }}}}'}}\n---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: es, namespace: {ns}}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: fake, kind: SecretStore}}\n  target:\n    name: out\n    template:\n      templateFrom: [{{configMap: {{name: tpl, items: [{{key: t}}]}}}}]\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n---\n"
        ),
        S::Generator("ClusterGenerator") => format!(
            "apiVersion: generators.external-secrets.io/v1alpha1\nkind: ClusterGenerator\nmetadata: {{name: gen-{ns}}}\nspec:\n  kind: UUID\n  generator: {{uuidSpec: {{}}}}\n---\n{}",
            generator_es("ClusterGenerator")
        ),
        S::Generator(kind) => {
            let spec = match kind {
                "Fake" => "{data: {k: v}}",
                "Webhook" => "{url: 'http://127.0.0.1:9/x', result: {}}",
                "MFA" => "{secret: {name: seed, key: k}}",
                // Refused before Vault is called, so no server is needed.
                "VaultDynamicSecret" => "{path: p, provider: {server: 'http://127.0.0.1:9'}}",
                _ => "{}",
            };
            format!(
                "apiVersion: generators.external-secrets.io/v1alpha1\nkind: {kind}\nmetadata: {{name: gen-{ns}, namespace: {ns}}}\nspec: {spec}\n---\n{}",
                generator_es(kind)
            )
        }
        S::ClusterStore => css(""),
        S::ClusterStoreConditions => css("  conditions: [{namespaces: [elsewhere]}]\n"),
        S::ServiceAccountStore => format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: reader, namespace: {ns}}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: reader, namespace: {ns}}}\nrules:\n  - {{apiGroups: [''], resources: [secrets], verbs: [get, list, watch]}}\n  - {{apiGroups: [authorization.k8s.io], resources: [selfsubjectrulesreviews], verbs: [create]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: reader, namespace: {ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}\nsubjects: [{{kind: ServiceAccount, name: reader, namespace: {ns}}}]\n---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: k8s, namespace: {ns}}}\nspec:\n  provider:\n    kubernetes:\n      remoteNamespace: {ns}\n      server:\n        caProvider: {{type: ConfigMap, name: kube-root-ca.crt, key: ca.crt}}\n      auth:\n        serviceAccount: {{name: reader}}\n---\n"
        ),
        S::Push => format!("{store}{source}{}", ps("")),
        S::PushDeletePolicy => format!("{store}{source}{}", ps("  deletionPolicy: Delete\n")),
        S::ClusterExternalSecret | S::ClusterExternalSecretUpdate => {
            format!("{store}{}", ces(ns))
        }
        S::ClusterExternalSecretLeft => format!("{store}{}", ces("nowhere")),
        S::ClusterPushSecret | S::ClusterPushSecretUpdate => {
            format!("{store}{source}{}", cps(ns))
        }
        S::ClusterPushSecretLeft => format!("{store}{source}{}", cps("nowhere")),
    };
    format!("{namespace}{body}")
}

/// What the scenario needs besides its manifests: a child that esox made earlier (with another
/// spec), and a parent whose status says so.
async fn prepare(admin: &Client, scenario: Scenario, ns: &str) {
    if let S::DeleteEmptyTarget = scenario {
        let es: Api<ExternalSecret> = Api::namespaced(admin.clone(), ns);
        let uid = es.get("es").await.unwrap().metadata.uid.unwrap();
        common::apply(
            admin,
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: out\n  namespace: {ns}\n  labels: {{reconcile.external-secrets.io/managed: 'true'}}\n  ownerReferences: [{{apiVersion: external-secrets.io/v1, kind: ExternalSecret, name: es, uid: {uid}, controller: true}}]\nstringData: {{k: v}}\n"
            ),
        )
        .await;
        return;
    }
    let (kind, child_kind, child_version, child_spec) = match scenario {
        S::ClusterExternalSecretUpdate | S::ClusterExternalSecretLeft => (
            "ClusterExternalSecret",
            "ExternalSecret",
            "v1",
            "{refreshInterval: 2h, secretStoreRef: {name: fake, kind: SecretStore}, target: {name: out}, data: [{secretKey: k, remoteRef: {key: k}}]}",
        ),
        S::ClusterPushSecretUpdate | S::ClusterPushSecretLeft => (
            "ClusterPushSecret",
            "PushSecret",
            "v1alpha1",
            "{refreshInterval: 2h, secretStoreRefs: [{name: fake, kind: SecretStore}], selector: {secret: {name: src}}, data: [{match: {secretKey: k, remoteRef: {remoteKey: other}}}]}",
        ),
        _ => return,
    };
    let prefix = if kind == "ClusterExternalSecret" {
        "ces"
    } else {
        "cps"
    };
    let parents = eso_api(admin, kind, None);
    let parent = parents.get(&format!("{prefix}-{ns}")).await.unwrap();
    let uid = parent.metadata.uid.clone().unwrap();
    let name = parent.metadata.name.clone().unwrap();
    let parent_version = if kind == "ClusterExternalSecret" {
        "v1"
    } else {
        "v1alpha1"
    };
    common::apply(
        admin,
        &format!(
            "apiVersion: external-secrets.io/{child_version}\nkind: {child_kind}\nmetadata:\n  name: child\n  namespace: {ns}\n  ownerReferences: [{{apiVersion: external-secrets.io/{parent_version}, kind: {kind}, name: {name}, uid: {uid}, controller: true}}]\nspec: {child_spec}\n"
        ),
    )
    .await;
    if matches!(
        scenario,
        S::ClusterExternalSecretLeft | S::ClusterPushSecretLeft
    ) {
        let name_field = if kind == "ClusterExternalSecret" {
            "externalSecretName"
        } else {
            "pushSecretName"
        };
        parents
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": {name_field: "child", "provisionedNamespaces": [ns]}})),
            )
            .await
            .unwrap();
    }
}

/// Removes what a case made, finalizers first (no esox runs to release them).
async fn clean_up(admin: &Client, ns: &str) {
    for (kind, _, _, namespaced) in ESO_KINDS {
        let api = eso_api(admin, kind, namespaced.then_some(ns));
        for obj in api.list(&ListParams::default()).await.unwrap() {
            let name = obj.metadata.name.clone().unwrap_or_default();
            if !namespaced && !name.contains(ns) {
                continue;
            }
            let _ = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
                )
                .await;
            let _ = api.delete(&name, &DeleteParams::background()).await;
        }
    }
    let _ = Api::<Namespace>::all(admin.clone())
        .delete(ns, &DeleteParams::background())
        .await;
}

/// The issue's test: each verb of each rule of the chart's ClusterRole is taken out in turn, and
/// esox, running with a token of the chart's ServiceAccount, then fails at the behaviour the
/// table names, with the API server's refusal (the verb and the resource) in the place the
/// table names. The table covers every verb the chart grants, so no rule is unused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_of_the_charts_cluster_role_is_needed() {
    let logs = captured_logs();
    let (cluster, admin) = common::cluster().await;
    common::apply(&admin, &rbac_documents("deploy/esox.yaml")).await;
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let chart_rules = roles.get("esox").await.unwrap().rules.unwrap_or_default();

    let tabled: BTreeSet<(String, String, String)> = CASES
        .iter()
        .map(|c| (c.group, c.resource, c.verb))
        .map(|(g, r, v)| (g.to_owned(), r.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        granted(&chart_rules),
        tabled,
        "the table and the chart's ClusterRole name the same verbs (left: the chart)"
    );

    let token = token_request(&admin).await;
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    for (i, c) in CASES.iter().enumerate() {
        if c.real_only && !cluster.is_real() {
            continue;
        }
        let case_started = std::time::Instant::now();
        let ns = format!("rule-{i}");
        let rules = without(&chart_rules, c.group, c.resource, c.verb);
        roles
            .patch(
                "esox",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"rules": rules})),
            )
            .await
            .unwrap();
        common::apply(&admin, &yaml_scenario(c.scenario, &ns)).await;
        prepare(&admin, c.scenario, &ns).await;

        let log_from = logs.lock().unwrap().len();
        let esox = cluster.client_with_token(&token).await.unwrap();
        let (_ctx, shutdown, task) = runner::start(esox, Options::default(), local(&cluster));
        // The admission plugin's refusal of blockOwnerDeletion does not name the resource (the
        // RBAC authorizer gives it no reason); it is the only refusal of that text.
        let refused = if c.resource.ends_with("/finalizers") {
            "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on".to_owned()
        } else {
            format!("cannot {} resource \"{}\"", c.verb, c.resource)
        };
        let wanted = |source: &str| match c.shows {
            Shows::Status(kind) => source.starts_with(&format!("{kind} ")),
            Shows::Log => source == "log",
        };
        let found = common::wait_until(Duration::from_secs(15), || async {
            evidence(&admin, &ns, log_from)
                .await
                .into_iter()
                .find(|(source, text)| wanted(source) && text.contains(&refused))
        })
        .await;
        let alive = !task.is_finished();
        shutdown.trigger();
        // Shutdown must not wait on a refused list or watch, which retries for ever.
        let stopped = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_ok();
        match found {
            Some((source, text)) if alive && stopped => println!(
                "{} {} {}: {source} after {:?}: {}",
                c.verb,
                c.resource,
                if c.group.is_empty() {
                    "(core)"
                } else {
                    c.group
                },
                case_started.elapsed(),
                text.chars().take(300).collect::<String>()
            ),
            _ => {
                let seen: Vec<String> = evidence(&admin, &ns, log_from)
                    .await
                    .into_iter()
                    .filter(|(s, t)| s != "log" || t.contains("forbidden") || t.contains("refused"))
                    .map(|(s, t)| format!("  {s}: {}", t.chars().take(400).collect::<String>()))
                    .collect();
                failures.push(format!(
                    "without {} on {} ({:?}, esox alive: {alive}, stopped within 5 s of shutdown: {stopped}): expected {refused:?} in {:?}; seen:\n{}",
                    c.verb,
                    c.resource,
                    c.scenario,
                    c.shows,
                    seen.join("\n")
                ));
            }
        }
        clean_up(&admin, &ns).await;
    }
    println!("{} cases in {:?}", CASES.len(), started.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The README's permissions table names exactly the verbs of the table above (which the test
/// above holds equal to the chart's ClusterRole), plus the leader-election Lease of the Role.
#[test]
fn the_readmes_permissions_table_matches_the_charts_rules() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let section = readme
        .split("### Permissions")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README has a Permissions section");
    let mut in_readme = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let group = match cells[1].trim_matches('`') {
            "core" => "",
            g => g,
        };
        for resource in cells[2].split(", ") {
            for verb in cells[3].split(", ") {
                in_readme.insert((
                    group.to_owned(),
                    resource.trim_matches('`').to_owned(),
                    verb.to_owned(),
                ));
            }
        }
    }
    let mut expected: BTreeSet<(String, String, String)> = CASES
        .iter()
        .map(|c| (c.group, c.resource, c.verb))
        .map(|(g, r, v)| (g.to_owned(), r.to_owned(), v.to_owned()))
        .collect();
    for verb in ["get", "create", "update"] {
        expected.insert(("coordination.k8s.io".into(), "leases".into(), verb.into()));
    }
    assert_eq!(in_readme, expected, "left: the README's table");
}
