//! One replica's side of the election: reads and writes the Lease, acquires and holds it.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::random_u64;
use super::{
    Attempt, Decision, JITTER_FACTOR, LeaderElectionConfig, LeaderError, LeaderRecord, decide,
    jittered, lease_valid, now_micro,
};

/// What the elector publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaderStatus {
    /// This replica holds the lease (its controllers run, or are about to).
    pub leading: bool,
    /// The holder last seen in the Lease; `None` before the first read or when nobody holds it.
    pub leader: Option<String>,
    /// Leadership terms this replica has started.
    pub terms: u64,
}

/// Why a leadership term ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum TermEnd {
    /// Shutdown was asked for; the lease is still ours.
    Stopped,
    /// The lease could not be renewed in time or another replica took it.
    Lost(String),
}

/// One replica's side of the election.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    /// The record as last seen change, and when (by this replica's clock).
    observed: Option<(LeaderRecord, Instant)>,
    /// The Lease as last read or written: its resourceVersion guards the next update.
    lease: Option<Lease>,
    status: watch::Sender<LeaderStatus>,
}

impl LeaderElector {
    /// An elector on the Lease of `config`; the settings are checked here.
    pub fn new(client: kube::Client, config: LeaderElectionConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            lease: None,
            status: watch::channel(LeaderStatus::default()).0,
        })
    }

    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// Follows leadership changes of this replica.
    pub fn status(&self) -> watch::Receiver<LeaderStatus> {
        self.status.subscribe()
    }

    /// Whether the record last seen names this replica (client-go's `IsLeader`).
    pub fn is_leader(&self) -> bool {
        self.observed
            .as_ref()
            .is_some_and(|(r, _)| r.holder_identity == self.config.identity)
    }

    fn lease_ref(&self) -> String {
        format!("{}/{}", self.config.namespace, self.config.lease_name)
    }

    fn api_error(&self, source: kube::Error) -> LeaderError {
        LeaderError::Api {
            lease: self.lease_ref(),
            source: Box::new(source),
        }
    }

    fn timeout_error(&self, after: Duration) -> LeaderError {
        LeaderError::Timeout {
            lease: self.lease_ref(),
            after,
        }
    }

    /// Remembers `record`, restarting the validity clock only when it changed.
    fn observe(&mut self, record: LeaderRecord, now: Instant) {
        if self.observed.as_ref().is_none_or(|(r, _)| *r != record) {
            self.observed = Some((record, now));
        }
        let leader = self
            .observed
            .as_ref()
            .map(|(r, _)| r.holder_identity.clone())
            .filter(|h| !h.is_empty());
        self.status.send_if_modified(|s| {
            if s.leader == leader {
                return false;
            }
            tracing::info!(
                lease = %self.config.lease_name,
                leader = leader.as_deref().unwrap_or("<none>"),
                "new leader observed"
            );
            s.leader = leader;
            true
        });
    }

    pub(super) fn set_leading(&self, leading: bool) {
        self.status.send_if_modified(|s| {
            if s.leading == leading {
                return false;
            }
            s.leading = leading;
            if leading {
                s.terms += 1;
            }
            true
        });
    }

    /// Writes `record` over the Lease last read, guarded by its resourceVersion.
    async fn update(&mut self, record: &LeaderRecord) -> Result<(), LeaderError> {
        let Some(mut lease) = self.lease.clone() else {
            return Err(LeaderError::Config(
                "internal: a Lease update needs a Lease read first".into(),
            ));
        };
        record.write_to(lease.spec.get_or_insert_with(LeaseSpec::default));
        let written = self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
            .map_err(|e| self.api_error(e))?;
        self.lease = Some(written);
        Ok(())
    }

    async fn create(&mut self, record: &LeaderRecord) -> Result<(), LeaderError> {
        let mut spec = LeaseSpec::default();
        record.write_to(&mut spec);
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.lease_name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        };
        let created = self
            .api
            .create(&PostParams::default(), &lease)
            .await
            .map_err(|e| self.api_error(e))?;
        self.lease = Some(created);
        Ok(())
    }

    /// One round of client-go's `tryAcquireOrRenew`: the leader first tries a blind renewal of
    /// the Lease it last wrote; otherwise read, decide, then create or update.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaderError> {
        let now = Instant::now();
        let stamp = now_micro();
        let mut desired = LeaderRecord {
            holder_identity: self.config.identity.clone(),
            lease_duration_seconds: self.config.lease_duration_seconds(),
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: 0,
        };

        if self.is_leader()
            && let Some((old, at)) = self.observed.clone()
            && lease_valid(at, old.lease_duration_seconds, now)
        {
            desired.acquire_time = old.acquire_time.clone();
            desired.lease_transitions = old.lease_transitions;
            match self.update(&desired).await {
                Ok(()) => {
                    self.observe(desired, now);
                    return Ok(Attempt::Held);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "optimistic lease renewal failed; reading the lease")
                }
            }
        }

        let Some(current) = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|e| self.api_error(e))?
        else {
            self.create(&desired).await?;
            self.observe(desired, now);
            return Ok(Attempt::Held);
        };
        let old = LeaderRecord::from_spec(current.spec.as_ref());
        self.lease = Some(current);
        self.observe(old.clone(), now);
        let observed_at = self.observed.as_ref().map_or(now, |(_, at)| *at);
        match decide(&old, observed_at, &self.config.identity, now) {
            Decision::Wait => return Ok(Attempt::HeldBy(old.holder_identity)),
            Decision::Renew => {
                desired.acquire_time = old.acquire_time;
                desired.lease_transitions = old.lease_transitions;
            }
            Decision::TakeOver => {
                desired.lease_transitions = old.lease_transitions.saturating_add(1);
            }
        }
        self.update(&desired).await?;
        self.observe(desired, now);
        Ok(Attempt::Held)
    }

    /// Gives the lease up if the record still names this replica: empty holder and a one-second
    /// duration (client-go's `ReleaseOnCancel`). Returns whether it wrote the release.
    pub async fn release(&mut self) -> Result<bool, LeaderError> {
        let limit = self.config.renew_deadline;
        let result = tokio::time::timeout(limit, self.release_now()).await;
        self.set_leading(false);
        result.unwrap_or_else(|_| Err(self.timeout_error(limit)))
    }

    async fn release_now(&mut self) -> Result<bool, LeaderError> {
        let now = Instant::now();
        let Some(current) = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|e| self.api_error(e))?
        else {
            return Ok(false);
        };
        let old = LeaderRecord::from_spec(current.spec.as_ref());
        self.lease = Some(current);
        if old.holder_identity != self.config.identity {
            self.observe(old, now);
            return Ok(false);
        }
        let stamp = now_micro();
        let released = LeaderRecord {
            holder_identity: String::new(),
            lease_duration_seconds: 1,
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: old.lease_transitions,
        };
        self.update(&released).await?;
        self.observe(released, now);
        Ok(true)
    }

    /// Tries every (jittered) retry period until this replica holds the lease; `None` when
    /// `stop` completed first. Returns when the winning attempt started.
    pub(super) async fn acquire<S: Future<Output = ()>>(
        &mut self,
        stop: &mut std::pin::Pin<&mut S>,
    ) -> Option<Instant> {
        tracing::info!(
            lease = %self.config.lease_name,
            namespace = %self.config.namespace,
            identity = %self.config.identity,
            "attempting to acquire the leader lease"
        );
        let limit = self.config.renew_deadline;
        loop {
            let started = Instant::now();
            let attempt = tokio::select! {
                r = tokio::time::timeout(limit, self.try_acquire_or_renew()) => r,
                () = stop.as_mut() => return None,
            };
            match attempt {
                Ok(Ok(Attempt::Held)) => return Some(started),
                Ok(Ok(Attempt::HeldBy(holder))) => {
                    tracing::debug!(%holder, "the lease is held by another replica")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "could not acquire the leader lease"),
                Err(_) => tracing::warn!(
                    error = %self.timeout_error(limit),
                    "could not acquire the leader lease"
                ),
            }
            let wait = jittered(self.config.retry_period, JITTER_FACTOR, random_u64());
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.as_mut() => return None,
            }
        }
    }

    /// Renews every retry period while leading. Ends when `stop` completes, or when no renewal
    /// succeeded within the renew deadline of the last one, or as soon as another replica is
    /// seen holding the lease. `last_renew` is kept up to date for the caller.
    pub(super) async fn hold<S: Future<Output = ()>>(
        &mut self,
        stop: &mut std::pin::Pin<&mut S>,
        last_renew: &mut Instant,
    ) -> TermEnd {
        let retry = self.config.retry_period;
        let deadline_after = self.config.renew_deadline;
        loop {
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = stop.as_mut() => return TermEnd::Stopped,
            }
            let deadline = *last_renew + deadline_after;
            loop {
                let started = Instant::now();
                if started >= deadline {
                    return TermEnd::Lost(format!(
                        "the lease was not renewed within the renew deadline ({deadline_after:?})"
                    ));
                }
                let attempt = tokio::select! {
                    r = tokio::time::timeout_at(deadline, self.try_acquire_or_renew()) => r,
                    () = stop.as_mut() => return TermEnd::Stopped,
                };
                match attempt {
                    Ok(Ok(Attempt::Held)) => {
                        *last_renew = started;
                        break;
                    }
                    Ok(Ok(Attempt::HeldBy(holder))) => {
                        return TermEnd::Lost(format!("{holder} holds the lease now"));
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "could not renew the leader lease"),
                    Err(_) => {
                        return TermEnd::Lost(format!(
                            "no answer from the API server within the renew deadline ({deadline_after:?})"
                        ));
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep_until((Instant::now() + retry).min(deadline)) => {}
                    () = stop.as_mut() => return TermEnd::Stopped,
                }
            }
        }
    }
}
