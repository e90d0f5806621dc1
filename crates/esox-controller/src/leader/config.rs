//! The elector's settings, with ESO's flag names and defaults, and this replica's identity.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use super::LeaderError;

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
    pub(super) fn lease_duration_seconds(&self) -> i32 {
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
pub(super) fn random_u64() -> u64 {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
