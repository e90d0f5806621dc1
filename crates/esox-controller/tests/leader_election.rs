//! Leader election end to end against the test cluster: replicas of esox share one Lease, only
//! the leader runs reconcilers, leadership moves on release, on expiry and on renewal failure,
//! and a foreign holder (an ESO replica writing the same Lease) is respected.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{apply, cluster, fake_store, wait_until};
use esox_controller::Context;
use esox_controller::leader::{
    LeaderElectionConfig, LeaderElector, LeaderError, LeaderStatus, run_controllers,
};
use esox_testcluster::FaultMatch;
use esox_testenv::Cluster;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::{oneshot, watch};

const LEASE: &str = "external-secrets-controller";
const NS: &str = "default";
const LEASE_DURATION: Duration = Duration::from_secs(2);
const RENEW_DEADLINE: Duration = Duration::from_millis(1500);
const RETRY: Duration = Duration::from_millis(200);

fn config(identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: LEASE_DURATION,
        renew_deadline: RENEW_DEADLINE,
        retry_period: RETRY,
        ..LeaderElectionConfig::new(LEASE, NS, identity)
    }
}

/// One esox replica: the elector with the controllers it runs while leading.
struct Replica {
    identity: String,
    status: watch::Receiver<LeaderStatus>,
    contexts: watch::Receiver<Option<Arc<Context>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), LeaderError>>,
}

impl Replica {
    fn start(cluster: &Cluster, client: &Client, identity: &str) -> Replica {
        let elector = LeaderElector::new(client.clone(), config(identity)).expect("valid settings");
        let status = elector.status();
        let (tx, contexts) = watch::channel(None);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let local = esox_providers::LocalCluster {
            url: cluster.url(),
            ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
        };
        let task = tokio::spawn(run_controllers(
            elector,
            client.clone(),
            esox_controller::Options::default(),
            local,
            async move {
                let _ = stop_rx.await;
            },
            tx,
        ));
        Replica {
            identity: identity.to_owned(),
            status,
            contexts,
            stop: Some(stop_tx),
            task,
        }
    }

    fn leading(&self) -> bool {
        self.status.borrow().leading
    }

    fn terms(&self) -> u64 {
        self.status.borrow().terms
    }

    fn context(&self) -> Option<Arc<Context>> {
        self.contexts.borrow().clone()
    }

    async fn wait_leading(&self, want: bool, timeout: Duration) -> bool {
        let me = self;
        wait_until(timeout, move || async move {
            (me.leading() == want).then_some(())
        })
        .await
        .is_some()
    }

    /// Asks the replica to shut down (as on SIGTERM) and waits for it.
    async fn shutdown(&mut self) -> Result<(), LeaderError> {
        let _ = self.stop.take().expect("running").send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the replica ends after a shutdown request")
            .expect("no panic")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn lease(client: &Client) -> Option<LeaseSpec> {
    Api::<Lease>::namespaced(client.clone(), NS)
        .get_opt(LEASE)
        .await
        .unwrap()
        .and_then(|l| l.spec)
}

fn external_secret(name: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: fake}}\n  data:\n    - {{secretKey: v, remoteRef: {{key: k}}}}\n"
    )
}

async fn synced(client: &Client, name: &str, timeout: Duration) -> bool {
    let api: Api<Secret> = Api::namespaced(client.clone(), "app");
    wait_until(timeout, || {
        let api = api.clone();
        async move { api.get_opt(name).await.ok().flatten().map(|_| ()) }
    })
    .await
    .is_some()
}

/// Whether the context's metrics show a reconcile of the ExternalSecret `name`.
fn reconciled_by(ctx: &Context, name: &str) -> bool {
    ctx.metrics.render().contains(&format!(
        "externalsecret_sync_calls_total{{name=\"{name}\",namespace=\"app\"}}"
    ))
}

/// A Lease written the way client-go's LeaseLock writes it, by a holder esox does not know.
fn foreign_lease(holder: &str, transitions: i32) -> Lease {
    let now = MicroTime(jiff::Timestamp::now());
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(2),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_exactly_one_runs_the_controllers() {
    let (cluster, client) = cluster().await;
    apply(&client, &fake_store("app", &[("k", "v1")])).await;
    apply(&client, &external_secret("one")).await;
    let a = Replica::start(&cluster, &client, "a");
    let b = Replica::start(&cluster, &client, "b");
    let (ra, rb) = (&a, &b);
    wait_until(Duration::from_secs(5), move || async move {
        (ra.leading() || rb.leading()).then_some(())
    })
    .await
    .expect("one replica leads");
    assert!(synced(&client, "one", Duration::from_secs(10)).await);
    // Over several renewals: never two leaders, and only the leader has controllers.
    for _ in 0..20 {
        assert!(a.leading() ^ b.leading(), "exactly one leader");
        assert!(
            a.context().is_some() ^ b.context().is_some(),
            "exactly one replica runs controllers"
        );
        // Nothing must change over several renewal periods: renewals are clock-driven, and
        // the leader's sync of "one" above is the positive control.
        tokio::time::sleep(RETRY / 2).await;
    }
    let (leader, follower) = if a.leading() { (&a, &b) } else { (&b, &a) };
    assert!(reconciled_by(&leader.context().unwrap(), "one"));
    assert!(follower.context().is_none());
    assert_eq!(leader.terms(), 1, "no leadership flapping");
    assert_eq!(follower.terms(), 0);
    assert_eq!(
        follower.status.borrow().leader.as_deref(),
        Some(leader.identity.as_str()),
        "the follower sees who leads"
    );
    let spec = lease(&client).await.expect("the lease exists");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(leader.identity.as_str())
    );
    assert_eq!(spec.lease_duration_seconds, Some(2));
    assert_eq!(
        spec.lease_transitions,
        Some(0),
        "created, never handed over"
    );
    assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());
    assert!(
        spec.renew_time.unwrap().0 > spec.acquire_time.unwrap().0,
        "the leader renews"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_lease_is_taken_over_within_the_lease_duration() {
    let (cluster, client) = cluster().await;
    apply(&client, &fake_store("app", &[("k", "v1")])).await;
    apply(&client, &external_secret("one")).await;
    let mut a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    assert!(synced(&client, "one", Duration::from_secs(10)).await);
    let b = Replica::start(&cluster, &client, "b");
    // b observes a's lease before a goes away.
    let rb = &b;
    wait_until(Duration::from_secs(5), move || async move {
        (rb.status.borrow().leader.as_deref() == Some("a")).then_some(())
    })
    .await
    .expect("b sees a leading");
    assert!(!b.leading());

    let stopped = Instant::now();
    a.shutdown().await.expect("clean shutdown");
    assert!(a.context().is_none(), "a's controllers are gone");
    assert!(b.wait_leading(true, LEASE_DURATION).await);
    let failover = stopped.elapsed();
    eprintln!("failover after release: {failover:?}");
    assert!(
        failover < LEASE_DURATION,
        "release hands over before the lease would expire: {failover:?}"
    );
    apply(&client, &external_secret("two")).await;
    assert!(synced(&client, "two", Duration::from_secs(10)).await);
    assert!(reconciled_by(&b.context().unwrap(), "two"));
    let spec = lease(&client).await.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1), "one hand-over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_the_lease_like_client_go() {
    let (cluster, client) = cluster().await;
    let mut a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    let before = lease(&client).await.unwrap();
    a.shutdown().await.expect("clean shutdown");
    assert!(!a.leading());
    let spec = lease(&client).await.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(""), "holder cleared");
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.lease_transitions, before.lease_transitions);
    assert!(spec.renew_time.unwrap().0 >= before.renew_time.unwrap().0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_holder_is_respected_while_it_renews_and_taken_over_after() {
    let (cluster, client) = common::cluster_in_memory().await;
    apply(&client, &fake_store("app", &[("k", "v1")])).await;
    apply(&client, &external_secret("one")).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    leases
        .create(&PostParams::default(), &foreign_lease("eso-7d9f_1234", 4))
        .await
        .unwrap();
    // The foreign holder renews every 0.5 s for 3 s, longer than its 2 s lease.
    let renewer = {
        let leases = leases.clone();
        tokio::spawn(async move {
            let end = Instant::now() + Duration::from_secs(3);
            while Instant::now() < end {
                // The simulated foreign holder is itself a clock: it renews every 0.5 s.
                tokio::time::sleep(Duration::from_millis(500)).await;
                let mut l = leases.get(LEASE).await.unwrap();
                let spec = l.spec.as_mut().unwrap();
                spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
                leases
                    .replace(LEASE, &PostParams::default(), &l)
                    .await
                    .unwrap();
            }
        })
    };
    let a = Replica::start(&cluster, &client, "a");
    let started = Instant::now();
    while !renewer.is_finished() {
        assert!(!a.leading(), "a valid foreign lease is respected");
        assert!(a.context().is_none());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    renewer.await.unwrap();
    assert_eq!(
        a.status.borrow().leader.as_deref(),
        Some("eso-7d9f_1234"),
        "a sees the foreign leader"
    );
    let last_foreign_renewal = Instant::now();
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    let waited = last_foreign_renewal.elapsed();
    eprintln!(
        "takeover after the foreign holder stopped renewing: {waited:?} (started {:?} ago)",
        started.elapsed()
    );
    assert!(
        waited >= LEASE_DURATION - Duration::from_millis(600),
        "not before the foreign lease expired: {waited:?}"
    );
    let spec = lease(&client).await.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_transitions, Some(5), "one more transition");
    assert!(synced(&client, "one", Duration::from_secs(10)).await);
}

/// The leader loses the lease, stops its controllers, stays alive as a candidate, and leads
/// again with fresh controllers once the API server answers.
async fn loses_and_regains(cluster: &Cluster, client: &Client, a: &Replica) {
    let first = a.context().expect("controllers while leading");
    let lost_at = Instant::now();
    assert!(
        a.wait_leading(false, RENEW_DEADLINE + Duration::from_secs(2))
            .await,
        "the leader stops leading when it cannot renew"
    );
    eprintln!(
        "leadership given up {:?} after the fault",
        lost_at.elapsed()
    );
    assert!(a.context().is_none(), "controllers stopped");
    assert!(!a.task.is_finished(), "the replica does not exit");
    // Nothing reconciles while nobody leads.
    apply(client, &external_secret("late")).await;
    assert!(!synced(client, "late", Duration::from_secs(1)).await);
    assert!(!a.leading());
    cluster.faults().clear();
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    assert_eq!(a.terms(), 2, "a second term");
    assert!(synced(client, "late", Duration::from_secs(10)).await);
    let second = a.context().expect("fresh controllers");
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(reconciled_by(&second, "late"));
    // The second term counts on from the first: /metrics never goes back to zero.
    assert!(
        sync_calls(&second, "one") >= sync_calls(&first, "one") && sync_calls(&first, "one") > 0.0,
        "reconcile counters restarted with the term"
    );
    // Each term is on record as client-go records it: a Normal LeaderElection Event on the Lease.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), NS);
    let announced = common::wait_until(Duration::from_secs(5), || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            let n = list
                .items
                .iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("LeaderElection")
                        && e.type_.as_deref() == Some("Normal")
                        && e.note.as_deref() == Some("a became leader")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(LEASE)
                })
                .count();
            (n >= 2).then_some(n)
        }
    })
    .await;
    assert!(announced.is_some(), "one LeaderElection Event per term");
}

/// `externalsecret_sync_calls_total` of the ExternalSecret `name`, 0 when absent.
fn sync_calls(ctx: &Context, name: &str) -> f64 {
    let prefix = format!("externalsecret_sync_calls_total{{name=\"{name}\",namespace=\"app\"}} ");
    ctx.metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_renewals_stop_the_controllers_without_exiting() {
    let (cluster, client) = common::cluster_in_memory().await;
    apply(&client, &fake_store("app", &[("k", "v1")])).await;
    apply(&client, &external_secret("one")).await;
    let a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    assert!(synced(&client, "one", Duration::from_secs(10)).await);
    for verb in ["get", "update"] {
        cluster.faults().fail(
            FaultMatch {
                verb: Some(verb.into()),
                resource: Some("leases".into()),
                ..Default::default()
            },
            503,
            None,
        );
    }
    loses_and_regains(&cluster, &client, &a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_lease_updates_stop_the_controllers_without_exiting() {
    // ESO #1725: etcd compaction makes renewals slower than the renew deadline.
    let (cluster, client) = common::cluster_in_memory().await;
    apply(&client, &fake_store("app", &[("k", "v1")])).await;
    apply(&client, &external_secret("one")).await;
    let a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    assert!(synced(&client, "one", Duration::from_secs(10)).await);
    cluster.faults().delay(
        FaultMatch {
            verb: Some("update".into()),
            resource: Some("leases".into()),
            ..Default::default()
        },
        Duration::from_secs(3),
        None,
    );
    loses_and_regains(&cluster, &client, &a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_taken_by_another_holder_stops_the_controllers_at_once() {
    let (cluster, client) = cluster().await;
    apply(&client, &fake_store("app", &[("k", "v1")])).await;
    let a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let mut l = leases.get(LEASE).await.unwrap();
    let intruder = foreign_lease("intruder", 7);
    l.spec = intruder.spec;
    leases
        .replace(LEASE, &PostParams::default(), &l)
        .await
        .unwrap();
    let replaced = Instant::now();
    assert!(a.wait_leading(false, RENEW_DEADLINE).await);
    let gave_up = replaced.elapsed();
    eprintln!("gave up {gave_up:?} after another holder took the lease");
    assert!(
        // Waiting for the renew deadline instead would take at least 1.3 s here.
        gave_up < Duration::from_secs(1),
        "seeing another holder ends the term at the next renewal: {gave_up:?}"
    );
    assert!(a.context().is_none());
    assert_eq!(a.status.borrow().leader.as_deref(), Some("intruder"));
    // The intruder never renews: after its lease duration a leads again.
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    assert_eq!(a.terms(), 2);
    let spec = lease(&client).await.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_transitions, Some(8));
    assert!(!a.task.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_lease_is_recreated_by_the_leader() {
    // client-go: a leader that finds no Lease creates it again and keeps leading.
    let (cluster, client) = cluster().await;
    let a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    leases.delete(LEASE, &Default::default()).await.unwrap();
    let c = &client;
    let back = wait_until(
        Duration::from_secs(3),
        move || async move { lease(c).await },
    )
    .await
    .expect("recreated");
    assert_eq!(back.holder_identity.as_deref(), Some("a"));
    assert!(a.leading());
    assert_eq!(a.terms(), 1, "the term goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_candidates_never_both_win() {
    // Many electors, no controllers: resourceVersion guards every write.
    let (_cluster, client) = cluster().await;
    let mut electors = Vec::new();
    for i in 0..4 {
        let mut e = LeaderElector::new(client.clone(), config(&format!("c{i}"))).unwrap();
        electors.push(tokio::spawn(async move {
            let r = e.try_acquire_or_renew().await;
            (e.is_leader(), r.is_ok())
        }));
    }
    let mut winners = 0;
    for h in electors {
        let (leader, _) = h.await.unwrap();
        winners += usize::from(leader);
    }
    assert_eq!(winners, 1, "exactly one candidate holds the new lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_lost_its_term_frees_the_lease_on_shutdown() {
    let (cluster, client) = common::cluster_in_memory().await;
    let mut a = Replica::start(&cluster, &client, "a");
    assert!(a.wait_leading(true, Duration::from_secs(5)).await);
    let fault = cluster.faults().fail(
        FaultMatch {
            verb: Some("update".into()),
            resource: Some("leases".into()),
            ..Default::default()
        },
        500,
        None,
    );
    assert!(a.wait_leading(false, Duration::from_secs(4)).await);
    assert_eq!(
        lease(&client).await.unwrap().holder_identity.as_deref(),
        Some("a"),
        "the record still names the former leader"
    );
    // The candidate is between attempts: the shutdown request arrives before it retries.
    cluster.faults().remove(fault);
    a.shutdown().await.expect("clean shutdown");
    let spec = lease(&client).await.unwrap();
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(""),
        "freed for others"
    );
    assert_eq!(spec.lease_duration_seconds, Some(1));
}
