//! Leader election over a `coordination.k8s.io/v1` Lease, so that only one of several replicas
//! runs the reconcilers.
//!
//! The protocol is the one of client-go's `leaderelection` package with its `LeaseLock` (which
//! ESO uses through controller-runtime), so esox and ESO replicas pointed at the same Lease name
//! exclude each other during a migration:
//! - the record is `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime` and
//!   `leaseTransitions` of the Lease spec;
//! - a lease is valid while its record has not changed for `leaseDurationSeconds`, measured on
//!   the *observer's* monotonic clock from when it saw the record change; the timestamps in the
//!   record are never compared with the local clock, which makes the scheme immune to clock skew;
//! - a candidate takes the lease over when it is absent, released (empty holder) or expired,
//!   and counts one more transition; the holder renews every retry period;
//! - every write is an update carrying the `resourceVersion` last read, so of two racing
//!   candidates only one succeeds;
//! - releasing writes an empty holder with `leaseDurationSeconds: 1`, so followers take over
//!   at their next retry instead of after a full lease duration.
//!
//! Where esox differs from controller-runtime: losing the lease does not end the process (ESO
//! exits, see ESO issue #1725). The controllers of that term stop, and the replica becomes a
//! candidate again; a later acquisition starts fresh controllers. The renew deadline counts from
//! the last successful renewal (client-go counts from the first retry after it), which leaves
//! the stopping controllers more of the lease before another replica may take over.

use std::future::Future;
use std::hash::{BuildHasher as _, Hasher as _};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use esox_providers::LocalCluster;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::context::{Context, Options};

/// ESO's default Lease name (`--leader-election-id`).
pub const DEFAULT_LEASE_NAME: &str = "external-secrets-controller";
/// ESO's `--leader-election-lease-duration` default.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// ESO's `--leader-election-renew-deadline` default.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// ESO's `--leader-election-retry-period` default.
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// client-go's jitter on the candidates' retry period: each wait is up to 2.2 periods.
pub const JITTER_FACTOR: f64 = 1.2;
/// Where a pod finds its namespace.
pub const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Why leader election could not run.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election settings: {0}")]
    Config(String),
    /// `lease` is `namespace/name`.
    #[error("lease {lease}: {source}")]
    Api {
        lease: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("lease {lease}: no answer within {after:?}")]
    Timeout { lease: String, after: Duration },
}

/// Settings of one elector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Name of the Lease (`--leader-election-id`).
    pub lease_name: String,
    /// Namespace of the Lease (`--leader-election-namespace`).
    pub namespace: String,
    /// This replica's name in `holderIdentity`; must differ between replicas.
    pub identity: String,
    /// How long followers wait without seeing the record change before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it stops its controllers.
    pub renew_deadline: Duration,
    /// Time between renewals, and between a candidate's attempts (jittered).
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// ESO's defaults for the Lease `lease_name` in `namespace`, held as `identity`.
    pub fn new(
        lease_name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// client-go's checks, plus whole seconds for the duration (the Lease stores seconds, and a
    /// zero duration would let every follower take over at once).
    pub fn validate(&self) -> Result<(), LeaderError> {
        let bad = |m: String| Err(LeaderError::Config(m));
        if self.lease_name.is_empty() {
            return bad("--leader-election-id is empty: give the Lease a name".into());
        }
        if self.namespace.is_empty() {
            return bad("--leader-election-namespace is empty: name the Lease's namespace".into());
        }
        if self.identity.is_empty() {
            return bad("the identity of this replica is empty".into());
        }
        if self.lease_duration < Duration::from_secs(1) {
            return bad(format!(
                "--leader-election-lease-duration ({:?}) must be at least 1s: the Lease stores whole seconds",
                self.lease_duration
            ));
        }
        if self.retry_period.is_zero() {
            return bad("--leader-election-retry-period must be greater than zero".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return bad(format!(
                "--leader-election-lease-duration ({:?}) must be longer than --leader-election-renew-deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline <= self.retry_period.mul_f64(JITTER_FACTOR) {
            return bad(format!(
                "--leader-election-renew-deadline ({:?}) must be longer than {JITTER_FACTOR} × --leader-election-retry-period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        Ok(())
    }

    /// The duration as the Lease stores it.
    fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// The namespace of this pod, as controller-runtime finds it; `default` outside a cluster.
pub fn default_namespace() -> String {
    namespace_from_file(std::path::Path::new(SERVICE_ACCOUNT_NAMESPACE_FILE))
        .unwrap_or_else(|| "default".to_owned())
}

fn namespace_from_file(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let ns = text.trim();
    (!ns.is_empty()).then(|| ns.to_owned())
}

/// `<hostname>_<random UUID>`, the shape of controller-runtime's identities: unique per process
/// even when two replicas share a host name.
pub fn default_identity() -> String {
    format!("{}_{}", hostname(), random_uuid())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "esox".to_owned())
}

/// 64 random bits from the standard library's randomly keyed hasher (enough for jitter and an
/// identity suffix; no random-number crate needed).
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(nanos);
    h.finish()
}

fn random_uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    // Version 4, variant 1, like the UUIDs controller-runtime appends.
    let a = (a & !0xf000) | 0x4000;
    let b = (b & !(0xc000 << 48)) | (0x8000 << 48);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// A wait of `period` plus up to `factor` periods more (client-go's `wait.Jitter`), so that
/// candidates started together do not keep colliding.
pub fn jittered(period: Duration, factor: f64, random: u64) -> Duration {
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    period + period.mul_f64(factor * fraction)
}

/// The election fields of a Lease (client-go's `LeaderElectionRecord`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeaderRecord {
    /// Empty when nobody holds the lease (never taken, or released).
    pub holder_identity: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<MicroTime>,
    pub renew_time: Option<MicroTime>,
    pub lease_transitions: i32,
}

impl LeaderRecord {
    /// Reads the record of a Lease spec; absent fields read as zero values, as in client-go.
    pub fn from_spec(spec: Option<&LeaseSpec>) -> Self {
        let Some(spec) = spec else {
            return Self::default();
        };
        Self {
            holder_identity: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or_default(),
            acquire_time: spec.acquire_time.clone(),
            renew_time: spec.renew_time.clone(),
            lease_transitions: spec.lease_transitions.unwrap_or_default(),
        }
    }

    /// Writes the record into `spec`, keeping the fields it does not own (coordinated election).
    pub fn write_to(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = Some(self.holder_identity.clone());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = self.acquire_time.clone();
        spec.renew_time = self.renew_time.clone();
        spec.lease_transitions = Some(self.lease_transitions);
    }
}

/// Whether a record first seen at `observed_at` still binds others at `now`: client-go's
/// `isLeaseValid`, with the record's own duration and the observer's clock.
pub fn lease_valid(observed_at: Instant, lease_duration_seconds: i32, now: Instant) -> bool {
    let secs = u64::try_from(lease_duration_seconds).unwrap_or(0);
    observed_at + Duration::from_secs(secs) > now
}

/// What a replica does with an existing Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Another holder's lease is still valid.
    Wait,
    /// The record names this replica: renew, keeping acquireTime and the transition count.
    Renew,
    /// Free, released or expired: take it over, counting one more transition.
    TakeOver,
}

/// client-go's step "check the identity and time" of `tryAcquireOrRenew`.
pub fn decide(record: &LeaderRecord, observed_at: Instant, me: &str, now: Instant) -> Decision {
    if record.holder_identity == me {
        Decision::Renew
    } else if !record.holder_identity.is_empty()
        && lease_valid(observed_at, record.lease_duration_seconds, now)
    {
        Decision::Wait
    } else {
        Decision::TakeOver
    }
}

/// The result of one attempt to acquire or renew.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the lease now.
    Held,
    /// Another replica holds a valid lease.
    HeldBy(String),
}

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
enum TermEnd {
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

    fn set_leading(&self, leading: bool) {
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
    async fn acquire<S: Future<Output = ()>>(
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
    async fn hold<S: Future<Output = ()>>(
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

fn now_micro() -> MicroTime {
    // The API server keeps microseconds; truncating here makes the record read back equal to
    // the one written.
    let now = jiff::Timestamp::now();
    let micros = now.as_microsecond();
    MicroTime(jiff::Timestamp::from_microsecond(micros).unwrap_or(now))
}

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
    let lease = elector.config.lease_name.clone();
    let identity = elector.config.identity.clone();
    // Controllers must be gone before another replica may take over: a lease duration after the
    // last renewal by its clock, less a retry period of margin for clock rates and latency.
    let keep_for = elector
        .config
        .lease_duration
        .saturating_sub(elector.config.retry_period);
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
    let result = run_while_leading(elector, stop, || {
        let (ctx, shutdown, task) =
            crate::runner::start(client.clone(), options.clone(), local_cluster.clone());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(holder: &str, secs: i32) -> LeaderRecord {
        LeaderRecord {
            holder_identity: holder.into(),
            lease_duration_seconds: secs,
            ..LeaderRecord::default()
        }
    }

    #[test]
    fn validity_uses_the_observers_clock_and_the_records_duration() {
        let seen = Instant::now();
        assert!(lease_valid(seen, 15, seen));
        assert!(lease_valid(seen, 15, seen + Duration::from_millis(14_999)));
        assert!(!lease_valid(seen, 15, seen + Duration::from_secs(15)));
        assert!(!lease_valid(seen, 1, seen + Duration::from_secs(1)));
        assert!(!lease_valid(seen, 0, seen), "a zero duration never binds");
        assert!(
            !lease_valid(seen, -5, seen),
            "a negative duration never binds"
        );
    }

    #[test]
    fn another_holders_fresh_lease_is_respected_until_it_expires() {
        let seen = Instant::now();
        let r = record("other", 15);
        assert_eq!(decide(&r, seen, "me", seen), Decision::Wait);
        assert_eq!(
            decide(&r, seen, "me", seen + Duration::from_secs(14)),
            Decision::Wait
        );
        assert_eq!(
            decide(&r, seen, "me", seen + Duration::from_secs(15)),
            Decision::TakeOver
        );
    }

    #[test]
    fn released_or_empty_leases_are_taken_at_once_and_own_leases_renewed() {
        let seen = Instant::now();
        assert_eq!(decide(&record("", 1), seen, "me", seen), Decision::TakeOver);
        assert_eq!(
            decide(&record("", 15), seen, "me", seen),
            Decision::TakeOver
        );
        assert_eq!(decide(&record("me", 15), seen, "me", seen), Decision::Renew);
        assert_eq!(
            decide(
                &record("me", 15),
                seen,
                "me",
                seen + Duration::from_secs(60)
            ),
            Decision::Renew,
            "a record naming this replica is still its own to renew"
        );
    }

    #[test]
    fn records_round_trip_through_a_lease_spec_and_keep_foreign_fields() {
        let stamp = now_micro();
        let r = LeaderRecord {
            holder_identity: "a_1".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(stamp.clone()),
            renew_time: Some(stamp),
            lease_transitions: 3,
        };
        let mut spec = LeaseSpec {
            strategy: Some("OldestEmulationVersion".into()),
            ..LeaseSpec::default()
        };
        r.write_to(&mut spec);
        assert_eq!(LeaderRecord::from_spec(Some(&spec)), r);
        assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
        assert_eq!(LeaderRecord::from_spec(None), LeaderRecord::default());
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["holderIdentity"], "a_1");
        assert_eq!(json["leaseDurationSeconds"], 15);
        assert_eq!(json["leaseTransitions"], 3);
        let back: LeaseSpec = serde_json::from_value(json).unwrap();
        assert_eq!(
            LeaderRecord::from_spec(Some(&back)),
            r,
            "microseconds survive JSON"
        );
    }

    #[test]
    fn settings_are_checked_like_client_go() {
        let ok = LeaderElectionConfig::new(DEFAULT_LEASE_NAME, "ns", "me");
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.renew_deadline = c.lease_duration;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("--leader-election-lease-duration"), "{e}");
        let mut c = ok.clone();
        c.renew_deadline = Duration::from_millis(2400);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("--leader-election-renew-deadline"), "{e}");
        let mut c = ok.clone();
        c.lease_duration = Duration::from_millis(900);
        c.renew_deadline = Duration::from_millis(800);
        c.retry_period = Duration::from_millis(100);
        assert!(c.validate().is_err(), "sub-second lease durations");
        let mut c = ok.clone();
        c.retry_period = Duration::ZERO;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.identity.clear();
        assert!(c.validate().is_err());
    }

    #[test]
    fn jitter_stays_within_client_gos_bounds() {
        let p = Duration::from_secs(2);
        assert_eq!(jittered(p, JITTER_FACTOR, 0), p);
        let max = jittered(p, JITTER_FACTOR, u64::MAX);
        // At most 2.2 periods; nanosecond rounding may reach the bound itself.
        assert!(
            max <= p.mul_f64(1.0 + JITTER_FACTOR) && max > p.mul_f64(2.19),
            "{max:?}"
        );
        for _ in 0..100 {
            let j = jittered(p, JITTER_FACTOR, random_u64());
            assert!(j >= p && j <= p.mul_f64(2.2), "{j:?}");
        }
    }

    #[test]
    fn identities_are_hostname_and_a_random_uuid() {
        let a = default_identity();
        let b = default_identity();
        assert_ne!(a, b);
        let (host, uuid) = a.rsplit_once('_').unwrap();
        assert!(!host.is_empty());
        assert_eq!(uuid.len(), 36, "{uuid}");
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'), "version 4: {uuid}");
        assert!(
            matches!(groups[3].chars().next(), Some('8' | '9' | 'a' | 'b')),
            "variant 1: {uuid}"
        );
    }

    #[test]
    fn namespace_comes_from_the_service_account_file() {
        let dir = std::env::temp_dir().join(format!("esox-leader-ns-{}", random_u64()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("namespace");
        std::fs::write(&file, "external-secrets\n").unwrap();
        assert_eq!(
            namespace_from_file(&file).as_deref(),
            Some("external-secrets")
        );
        std::fs::write(&file, "  \n").unwrap();
        assert_eq!(namespace_from_file(&file), None);
        assert_eq!(namespace_from_file(&dir.join("absent")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
