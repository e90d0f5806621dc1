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

/// An `esox run` process, killed if the test ends early, and where it serves `/metrics`.
struct Esox(Child, SocketAddr);

impl Esox {
    fn start(kubeconfig: &Path, elected: bool) -> Esox {
        let metrics = free_addr();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_esox"));
        cmd.args(["run", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--metrics-addr", &metrics.to_string()])
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
        Esox(cmd.spawn().expect("esox runs"), metrics)
    }

    /// Reads of single remote secrets this process made through its providers (ESO's
    /// `externalsecret_provider_api_calls_count`, call `GetSecret`, every status).
    fn provider_reads(&self) -> u64 {
        use std::io::{Read as _, Write as _};
        let mut conn = std::net::TcpStream::connect(self.1).expect("esox serves /metrics");
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: esox\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text.lines()
            .filter(|l| {
                l.starts_with("externalsecret_provider_api_calls_count{")
                    && l.contains("call=\"GetSecret\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }

    /// SIGTERM, as a rolling update or `kubectl delete pod` sends: esox stops its work and
    /// releases its lease.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM was not delivered");
    }

    /// Whether the process has ended.
    fn exited(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_some()
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
    let start = Instant::now();
    while start.elapsed() < within {
        if holds(client, value).await {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

/// Whether `bar/my-secret` holds `value` now.
async fn holds(client: &Client, value: &str) -> bool {
    let bar: Api<Secret> = Api::namespaced(client.clone(), "bar");
    bar.get("my-secret").await.is_ok_and(|s| {
        s.data
            .as_ref()
            .and_then(|d| d.get("password"))
            .is_some_and(|v| v.0 == value.as_bytes())
    })
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
    // Once its source's watch has listed, the steady target records the source version it
    // was built from (what spares the next process a read).
    let bar: Api<Secret> = Api::namespaced(client.clone(), "bar");
    let mut recorded = false;
    for _ in 0..200 {
        recorded = bar.get_opt("steady").await.ok().flatten().is_some_and(|s| {
            s.metadata
                .annotations
                .is_some_and(|a| a.contains_key("esox.io/source-versions"))
        });
        if recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recorded, "the steady target records its source's version");
    let steady_es = ready_external_secret_version(&client, "steady").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let steady = resource_version(&client, "steady").await.unwrap();
    let steady_es = {
        let now = ready_external_secret_version(&client, "steady").await;
        assert_eq!(now, steady_es, "the steady ExternalSecret settled");
        now
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
    let esox = Esox::start(&kubeconfig, false);
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
    // Nor its ExternalSecret's status: a restart writes nothing for what did not change.
    assert_eq!(
        ready_external_secret_version(&client, "steady").await,
        steady_es,
        "the status of an ExternalSecret whose source did not change was rewritten"
    );
    // And reads only the source that changed: the steady target records the source version it
    // was built from, which the new process compares with its watch instead of reading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reads = esox.provider_reads();
    println!("provider reads after the restart: {reads} (one source changed, one did not)");
    assert_eq!(
        reads, 1,
        "after a restart esox read {reads} remote secrets; only the changed one needs a read"
    );
}

/// The resourceVersion of ExternalSecret `bar/<name>` once it is Ready.
async fn ready_external_secret_version(client: &Client, name: &str) -> String {
    let api: Api<esox_api::v1::ExternalSecret> = Api::namespaced(client.clone(), "bar");
    for _ in 0..200 {
        if let Ok(es) = api.get(name).await
            && es.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        {
            return es.metadata.resource_version.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ExternalSecret bar/{name} did not become Ready");
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

/// The leader Lease's holder, as esox's elector writes it (empty when released).
async fn lease_holder(client: &Client) -> Option<String> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), "default");
    leases
        .get_opt("external-secrets-controller")
        .await
        .ok()??
        .spec?
        .holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_during_a_sigterm_hand_over_arrives_within_5_s() {
    let dir = tempfile::tempdir().unwrap();
    let (_cluster, client, kubeconfig) = seed_copy(dir.path()).await;
    let mut first = Esox::start(&kubeconfig, true);
    assert!(
        arrives(&client, "first", Duration::from_secs(30))
            .await
            .is_some(),
        "the leader makes the seed's copy"
    );
    let old_leader = lease_holder(&client)
        .await
        .expect("the leader holds the lease");
    let _second = Esox::start(&kubeconfig, true);
    // As above: the standby reads the Lease once before the hand-over.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let terminated = Instant::now();
    first.terminate();
    set_password(&client, "during-hand-over").await;
    // The hand-over as the Lease and the processes show it: when the old leader let go of the
    // lease, when its process ended and when the new leader took the lease.
    let (mut released, mut exited, mut taken) = (None, None, None);
    let mut arrived = None;
    while terminated.elapsed() < Duration::from_secs(15) && (taken.is_none() || arrived.is_none()) {
        let holder = lease_holder(&client).await;
        let at = terminated.elapsed();
        if released.is_none() && holder.as_deref() != Some(old_leader.as_str()) {
            released = Some(at);
        }
        if taken.is_none()
            && holder
                .as_ref()
                .is_some_and(|h| !h.is_empty() && *h != old_leader)
        {
            taken = Some(at);
        }
        if exited.is_none() && first.exited() {
            exited = Some(at);
        }
        if arrived.is_none() && holds(&client, "during-hand-over").await {
            arrived = Some(at);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "SIGTERM hand-over: lease let go after {released:?}, old process ended after {exited:?}, new leader took the lease after {taken:?}, the change arrived after {arrived:?}"
    );
    assert!(
        arrived.is_some_and(|t| t <= Duration::from_secs(5)),
        "the change made during a SIGTERM hand-over arrived {arrived:?} after SIGTERM, more than 5 s"
    );
    // A released lease is taken at once instead of after it expires.
    assert!(
        taken.is_some_and(|t| t < LEASE),
        "the new leader took the lease {taken:?} after SIGTERM: the old one did not release it"
    );
    // The old leader stops its controllers before it lets go of the lease, so the new leader
    // cannot start while the old one still writes.
    assert!(
        released <= taken,
        "the lease changed hands ({taken:?}) before the old leader let go of it ({released:?})"
    );
}

/// A TCP relay between esox and the API server that can cut esox off while the API server
/// itself keeps running (a network cut, or the API server unreachable from esox's side only):
/// while cut, every relayed connection is closed and new ones are closed at once.
struct Relay {
    addr: SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = {
            let (cut, connections) = (cut.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: closed at once
                    }
                    let upstream = upstream.clone();
                    let relay = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(relay);
                }
            })
        };
        Relay {
            addr,
            cut,
            connections,
            accept,
        }
    }

    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_esox_was_cut_off_from_the_api_server_for_10_s_arrive_within_5_s() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, client, kubeconfig) = seed_copy(dir.path()).await;
    // esox reaches the API server through the relay; the test itself does not.
    let url = cluster.url();
    let upstream = url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let relay = Relay::start(upstream.clone()).await;
    let relayed = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .replace(&upstream, &relay.addr.to_string());
    assert!(
        relayed.contains(&relay.addr.to_string()),
        "kubeconfig server {url}"
    );
    let relayed_path = dir.path().join("relayed-kubeconfig");
    std::fs::write(&relayed_path, relayed).unwrap();
    let esox = Esox::start(&relayed_path, false);
    assert!(
        arrives(&client, "first", Duration::from_secs(30))
            .await
            .is_some(),
        "the seed's copy is made"
    );
    // Settled: both targets made and their sources' watch listed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reads_before = esox.provider_reads();

    let cut = Instant::now();
    relay.cut();
    set_password(&client, "while-cut-off").await;
    // Positive control: esox cannot see the change while it is cut off.
    assert!(
        arrives(&client, "while-cut-off", Duration::from_secs(2))
            .await
            .is_none(),
        "the change arrived while esox was cut off: the relay did not cut it off"
    );
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(cut.elapsed())).await;
    relay.restore();
    let back = Instant::now();
    let arrived = arrives(&client, "while-cut-off", Duration::from_secs(15)).await;
    let took = arrived.map(|at| at - back);
    println!("change made during a 10 s cut arrived {took:?} after the API server answered again");
    assert!(
        took.is_some_and(|t| t <= Duration::from_secs(5)),
        "the change made while cut off arrived {took:?} after reconnection, more than 5 s"
    );
    // The re-list after the cut reads only the source that changed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reads = esox.provider_reads() - reads_before;
    println!("provider reads after the cut: {reads} (one source changed, one did not)");
    assert_eq!(
        reads, 1,
        "after the cut esox read {reads} remote secrets; only the changed one needs a read"
    );
    set_password(&client, "after-reconnection").await;
    let changed = Instant::now();
    let arrived = arrives(&client, "after-reconnection", Duration::from_secs(5)).await;
    let took = arrived.map(|at| at - changed);
    println!("next change after the cut arrived in {took:?}");
    assert!(
        took.is_some(),
        "a change made after reconnection did not arrive within 5 s"
    );
}
