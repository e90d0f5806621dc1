//! A change made while no esox process watches reaches its target once one watches again: the
//! seed's namespace copy, with `esox run` processes killed with SIGKILL (nothing released, no
//! clean-up: a crash or an evicted pod) and started again, alone or as two replicas with
//! leader election. Runs on the real control plane when `ESOX_TEST_KUBECONFIG` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

/// Short leases so the test takes seconds; the guarantee scales with them (lease + 5 s).
const LEASE: Duration = Duration::from_secs(4);

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// An `esox run` process, killed if the test ends early.
struct Esox(Child);

impl Esox {
    fn start(kubeconfig: &Path, elected: bool) -> Esox {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_esox"));
        cmd.args(["run", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--metrics-addr", &free_addr().to_string()])
            .args(["--health-addr", &free_addr().to_string()])
            .stdout(Stdio::null())
            // ESOX_TEST_ESOX_LOGS=1 shows the processes' logs (with RUST_LOG) when debugging.
            .stderr(if std::env::var_os("ESOX_TEST_ESOX_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        if elected {
            cmd.args([
                "--enable-leader-election",
                "--leader-election-namespace=default",
                &format!("--leader-election-lease-duration={}s", LEASE.as_secs()),
                "--leader-election-renew-deadline=3s",
                "--leader-election-retry-period=500ms",
            ]);
        }
        Esox(cmd.spawn().expect("esox runs"))
    }

    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }
}

impl Drop for Esox {
    fn drop(&mut self) {
        self.kill();
    }
}

fn seed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/seed")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn apply(client: &Client, yaml: &str) {
    esox_testcluster::apply_yaml(client, yaml, None, "test")
        .await
        .unwrap();
}

/// The seed's copy from `foo` to `bar`, with a second, never-changed source and target beside
/// it, on a fresh cluster; returns the cluster, an admin client and esox's kubeconfig.
async fn seed_copy(dir: &Path) -> (esox_testenv::Cluster, Client, std::path::PathBuf) {
    let cluster = esox_testenv::Cluster::start().await.unwrap();
    let client = cluster.client().await.unwrap();
    esox_testenv::install_crds(&client).await.unwrap();
    apply(&client, &seed("0-platform-prerequisites.yaml")).await;
    apply(
        &client,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: my-secret, namespace: foo}\nstringData: {username: harbor, password: first}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: steady, namespace: foo}\nstringData: {token: unchanged}\n",
    )
    .await;
    apply(&client, &seed("1-namespace-sync-clustersecretstore.yaml")).await;
    apply(&client, &seed("2-namespace-sync-externalsecret.yaml")).await;
    apply(
        &client,
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: steady, namespace: bar}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {name: foo-secret-store, kind: ClusterSecretStore}\n  target: {name: steady}\n  dataFrom: [{extract: {key: steady}}]\n",
    )
    .await;
    let kubeconfig = dir.join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    (cluster, client, kubeconfig)
}

async fn set_password(client: &Client, value: &str) {
    let source: Api<Secret> = Api::namespaced(client.clone(), "foo");
    let patch = serde_json::json!({"stringData": {"password": value}});
    source
        .patch("my-secret", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Waits until `bar/my-secret` holds `value`; returns the instant it was seen.
async fn arrives(client: &Client, value: &str, within: Duration) -> Option<Instant> {
    let bar: Api<Secret> = Api::namespaced(client.clone(), "bar");
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(s) = bar.get("my-secret").await
            && s.data
                .as_ref()
                .and_then(|d| d.get("password"))
                .is_some_and(|v| v.0 == value.as_bytes())
        {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

async fn resource_version(client: &Client, name: &str) -> Option<String> {
    let bar: Api<Secret> = Api::namespaced(client.clone(), "bar");
    bar.get_opt(name).await.ok()??.metadata.resource_version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_esox_was_killed_arrives_within_5_s_of_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_cluster, client, kubeconfig) = seed_copy(dir.path()).await;
    let mut esox = Esox::start(&kubeconfig, false);
    assert!(
        arrives(&client, "first", Duration::from_secs(30))
            .await
            .is_some(),
        "the seed's copy is made"
    );
    let steady = {
        let mut rv = None;
        for _ in 0..200 {
            rv = resource_version(&client, "steady").await;
            if rv.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rv.expect("the steady copy is made")
    };
    esox.kill();

    set_password(&client, "while-killed").await;
    // Positive control: with esox dead nothing copies.
    assert!(
        arrives(&client, "while-killed", Duration::from_secs(1))
            .await
            .is_none()
    );
    let started = Instant::now();
    let _esox = Esox::start(&kubeconfig, false);
    let arrived = arrives(&client, "while-killed", Duration::from_secs(15)).await;
    let took = arrived.map(|at| at - started);
    println!("change made while esox was killed arrived {took:?} after its start");
    assert!(
        took.is_some_and(|t| t <= Duration::from_secs(5)),
        "arrived {took:?} after esox started, more than 5 s"
    );
    assert_eq!(
        resource_version(&client, "steady").await.as_ref(),
        Some(&steady),
        "a target whose source did not change was rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_the_killed_leader_held_the_lease_arrives_within_lease_plus_5_s() {
    let dir = tempfile::tempdir().unwrap();
    let (_cluster, client, kubeconfig) = seed_copy(dir.path()).await;
    let mut first = Esox::start(&kubeconfig, true);
    assert!(
        arrives(&client, "first", Duration::from_secs(30))
            .await
            .is_some(),
        "the leader makes the seed's copy"
    );
    // The standby starts after the first leads, so the leader is known.
    let _second = Esox::start(&kubeconfig, true);
    // The standby must have read the Lease before the kill (a candidate counts the lease from
    // its first sight of it); no signal shows that read, so it gets one second. The bound
    // asserted below is counted from the kill, so this wait cannot make the test pass.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    first.kill();
    set_password(&client, "during-failover").await;
    let arrived = arrives(&client, "during-failover", LEASE + Duration::from_secs(15)).await;
    let took = arrived.map(|at| at - killed);
    println!("change made while the killed leader held the lease arrived {took:?} after the kill");
    assert!(
        took.is_some_and(|t| t <= LEASE + Duration::from_secs(5)),
        "arrived {took:?} after the leader was killed, more than lease ({LEASE:?}) + 5 s"
    );
    // The new leader watches: the next change arrives at once.
    set_password(&client, "after-failover").await;
    let next = Instant::now();
    let arrived = arrives(&client, "after-failover", Duration::from_secs(5)).await;
    println!(
        "next change under the new leader arrived in {:?}",
        arrived.map(|at| at - next)
    );
    assert!(arrived.is_some(), "the new leader's source watch runs");
}
