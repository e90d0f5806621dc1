//! What runs while this replica leads: a term starts the controllers on acquisition and stops
//! them, before another replica may lead, when the lease is lost or esox shuts down.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use esox_providers::LocalCluster;
use tokio::sync::watch;
use tokio::time::Instant;

use super::elector::TermEnd;
use super::{LeaderElector, LeaderError};
use crate::context::{Context, Options};

/// What runs while this replica leads: started on each acquisition, stopped when the term ends.
pub struct LeaderTerm {
    stop: Box<dyn FnOnce() + Send>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderTerm {
    /// `stop` asks the work to end; `task` completes when it has.
    pub fn new(stop: impl FnOnce() + Send + 'static, task: tokio::task::JoinHandle<()>) -> Self {
        Self {
            stop: Box::new(stop),
            task,
        }
    }

    /// Asks the work to stop and waits until `abort_at`, then aborts it: after that instant
    /// another replica may lead.
    async fn end(self, abort_at: Instant) {
        (self.stop)();
        let mut task = self.task;
        if tokio::time::timeout_at(abort_at, &mut task).await.is_err() {
            tracing::warn!("the controllers did not stop in time; aborting them");
            task.abort();
            let _ = task.await;
        }
    }
}

/// Runs `start`'s work only while this replica holds the lease, until `stop` completes. A lost
/// lease stops the work and makes the replica a candidate again; it never ends this function.
/// On `stop` the work is stopped first, then the lease is released.
pub async fn run_while_leading(
    mut elector: LeaderElector,
    stop: impl Future<Output = ()>,
    mut start: impl FnMut() -> LeaderTerm,
) -> Result<(), LeaderError> {
    let mut stop = pin!(stop);
    let lease = elector.config().lease_name.clone();
    let identity = elector.config().identity.clone();
    // Controllers must be gone before another replica may take over: a lease duration after the
    // last renewal by its clock, less a retry period of margin for clock rates and latency.
    let keep_for = elector
        .config()
        .lease_duration
        .saturating_sub(elector.config().retry_period);
    loop {
        let Some(mut last_renew) = elector.acquire(&mut stop).await else {
            // A replica that lost its term may still be named in the record: free it for the
            // others rather than make them wait a lease duration.
            if elector.is_leader() {
                match elector.release().await {
                    Ok(true) => tracing::info!(%lease, "released the leader lease"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not release the leader lease"),
                }
            }
            return Ok(());
        };
        tracing::info!(%lease, %identity, "became leader; starting the controllers");
        elector.set_leading(true);
        let term = start();
        let end = elector.hold(&mut stop, &mut last_renew).await;
        match end {
            TermEnd::Stopped => {
                tracing::info!(%lease, "shutting down: stopping the controllers, then releasing the lease");
                term.end(last_renew + keep_for).await;
                match elector.release().await {
                    Ok(true) => tracing::info!(%lease, "released the leader lease"),
                    Ok(false) => tracing::info!(%lease, "the lease was no longer ours to release"),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not release the leader lease; followers take over once it expires")
                    }
                }
                return Ok(());
            }
            TermEnd::Lost(why) => {
                tracing::info!(%lease, reason = %why, "lost the leader lease; stopping the controllers and standing as a candidate again");
                elector.set_leading(false);
                term.end(last_renew + keep_for).await;
            }
        }
    }
}

/// Runs esox's controllers ([`crate::runner::start`]) only while this replica leads, with fresh
/// controllers for each term, until `stop` completes. `contexts` sees each term's context, and
/// `None` while following.
pub async fn run_controllers(
    elector: LeaderElector,
    client: kube::Client,
    options: Options,
    local_cluster: LocalCluster,
    stop: impl Future<Output = ()>,
    contexts: watch::Sender<Option<Arc<Context>>>,
) -> Result<(), LeaderError> {
    let contexts = Arc::new(contexts);
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let config = elector.config().clone();
    let recorder = crate::events::Recorder::new(client.clone(), LEADER_EVENT_COMPONENT);
    let result = run_while_leading(elector, stop, || {
        let recorder = recorder.clone();
        let config = config.clone();
        tokio::spawn(async move { announce_leader(&recorder, &config).await });
        let (ctx, shutdown, task) = crate::runner::start_with_metrics(
            client.clone(),
            options.clone(),
            local_cluster.clone(),
            metrics.clone(),
        );
        contexts.send_replace(Some(ctx));
        let contexts = contexts.clone();
        LeaderTerm::new(
            move || {
                shutdown.trigger();
                contexts.send_replace(None);
            },
            task,
        )
    })
    .await;
    contexts.send_replace(None);
    result
}

/// The component of the leader election Events (controller-runtime reports them under the
/// manager's recorder; ESO's dashboards filter on the reason).
const LEADER_EVENT_COMPONENT: &str = "external-secrets";

/// client-go's Normal `LeaderElection` Event on the Lease, "<identity> became leader": each
/// change of leader is on record in the Lease's namespace (`kubectl events`).
async fn announce_leader(recorder: &crate::events::Recorder, config: &super::LeaderElectionConfig) {
    let regarding = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("coordination.k8s.io/v1".into()),
        kind: Some("Lease".into()),
        namespace: Some(config.namespace.clone()),
        name: Some(config.lease_name.clone()),
        ..Default::default()
    };
    let event = crate::events::Event {
        type_: crate::events::EventType::Normal,
        reason: "LeaderElection".into(),
        note: Some(format!("{} became leader", config.identity)),
        action: "Acquire".into(),
        secondary: None,
    };
    recorder.publish(&event, &regarding).await;
}
