//! Two `esox run` processes with `--enable-leader-election` against one test cluster: only the
//! leader syncs and shows reconcile metrics; on SIGTERM it releases the Lease and the standby
//! takes over, its `/metrics` following the new term.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::PostParams;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// An `esox run` process, killed if the test ends early.
struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One replica; returns the process and its metrics address.
fn replica(kubeconfig: &std::path::Path) -> (Replica, SocketAddr) {
    let metrics = free_addr();
    let health = free_addr();
    let child = Command::new(env!("CARGO_BIN_EXE_esox"))
        .args(["run", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--metrics-addr", &metrics.to_string()])
        .args(["--health-addr", &health.to_string()])
        .args([
            "--enable-leader-election",
            "--leader-election-lease-duration=2s",
            "--leader-election-renew-deadline=1500ms",
            "--leader-election-retry-period=200ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("esox runs");
    (Replica(child), metrics)
}

/// The body of `GET /metrics`, or "" while the server is not up.
fn scrape(addr: SocketAddr) -> String {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

fn shows(addr: SocketAddr, name: &str) -> bool {
    scrape(addr).contains(&format!(
        "externalsecret_sync_calls_total{{name=\"{name}\",namespace=\"app\"}}"
    ))
}

async fn until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn until_async<F: std::future::Future<Output = bool>>(
    timeout: Duration,
    mut f: impl FnMut() -> F,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn apply(client: &kube::Client, yaml: &str) {
    esox_testcluster::apply_yaml(client, yaml, None, "test")
        .await
        .unwrap();
}

fn external_secret(name: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  secretStoreRef: {{name: fake}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_the_standby_takes_over_on_sigterm() {
    let cluster = esox_testcluster::TestCluster::start(Default::default())
        .await
        .unwrap();
    let client = cluster.client().await.unwrap();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for crd in esox_api::crd::all(&Default::default()) {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    // The objects below are applied once their kinds are served.
    let external_secrets: Api<esox_api::v1::ExternalSecret> = Api::all(client.clone());
    let stores: Api<esox_api::v1::SecretStore> = Api::all(client.clone());
    let served = until_async(Duration::from_secs(10), || async {
        external_secrets.list(&Default::default()).await.is_ok()
            && stores.list(&Default::default()).await.is_ok()
    })
    .await;
    assert!(served, "the CRDs are served");
    apply(
        &client,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: fake, namespace: app}\nspec:\n  provider:\n    fake:\n      data: [{key: k, value: v}]\n",
    )
    .await;
    apply(&client, &external_secret("first")).await;

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    let mut replicas = vec![replica(&kubeconfig), replica(&kubeconfig)];
    let led = until(Duration::from_secs(15), || {
        replicas.iter().any(|(_, m)| shows(*m, "first"))
    })
    .await;
    assert!(led, "one replica leads and syncs");
    let leader_at = replicas
        .iter()
        .position(|(_, m)| shows(*m, "first"))
        .unwrap();
    let (mut leader, leader_metrics) = replicas.remove(leader_at);
    let (standby, standby_metrics) = replicas.remove(0);
    let idle = scrape(standby_metrics);
    assert!(
        idle.contains("standby") && !idle.contains("externalsecret_sync_calls_total{"),
        "the standby runs no controllers: {idle}"
    );
    let gauge = |value: u8| {
        format!("leader_election_master_status{{name=\"external-secrets-controller\"}} {value}\n")
    };
    assert!(idle.contains(&gauge(0)), "{idle}");
    let leading = scrape(leader_metrics);
    assert!(leading.contains(&gauge(1)), "{leading}");

    // SIGTERM: the leader releases the Lease; the standby leads and its /metrics follow.
    let killed = Command::new("kill")
        .args(["-TERM", &leader.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let took_over = Instant::now();
    let metrics_follow = until(Duration::from_secs(10), || shows(standby_metrics, "first")).await;
    println!("standby leading after SIGTERM: {:?}", took_over.elapsed());
    apply(&client, &external_secret("second")).await;
    let synced = until(Duration::from_secs(10), || shows(standby_metrics, "second")).await;
    let now_leading = scrape(standby_metrics).contains(&gauge(1));
    let exited = leader.0.wait().unwrap();
    drop(standby);
    cluster.shutdown();
    assert!(exited.success(), "the old leader exits cleanly: {exited:?}");
    assert!(metrics_follow, "the new leader's /metrics show its term");
    assert!(synced, "the new leader syncs a new ExternalSecret");
    assert!(now_leading, "the new leader's gauge is 1");
}
