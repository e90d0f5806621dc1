//! One provider read shared by every ExternalSecret that asks for the same remote secret at
//! the same moment. When a source Secret changes, a thousand ExternalSecrets that copy it
//! refresh together; without sharing, each of them would fetch it again.
//!
//! A shared read is only used for a location that esox watches (see
//! [`Context::ensure_remote_watch`](crate::context::Context::ensure_remote_watch)): every change
//! the watch reports drops the shared reads of that location, and so does the watch ending.
//! On top of that a result is kept at most [`TTL`], which bounds staleness if a change is ever
//! missed while the watch reconnects. Two clients share a read only when their
//! [`read_share_key`](esox_providers::SecretsClient::read_share_key) is equal: same location,
//! same server configuration, same credentials. Failures other than "does not exist" are never
//! shared, so an outage or a refused credential is seen by each reader itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use esox_api::v1::{ExternalSecretFind, RemoteRef};
use esox_core::SecretData;
use esox_providers::{ProviderError, SecretsClient};
use tokio::sync::OnceCell;

/// How long a shared result may be handed out.
pub const TTL: Duration = Duration::from_secs(5);
/// How often expired results are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone)]
enum Outcome {
    Value(Vec<u8>),
    Map(SecretData),
    /// ESO's `NoSecretErr`, with its message.
    Missing(String),
}

struct Slot {
    created: Instant,
    cell: Arc<OnceCell<Outcome>>,
}

/// Shared reads of one watched location.
#[derive(Default)]
struct Location {
    slots: HashMap<(String, String), Slot>,
}

struct Inner {
    /// Watched locations by watch key; absent means not watched, so nothing is shared.
    locations: HashMap<String, Location>,
    last_sweep: Instant,
}

/// The shared reads of the process.
pub struct SharedReads {
    inner: Mutex<Inner>,
}

impl Default for SharedReads {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                locations: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }
}

impl SharedReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A watch of `watch_key` started: reads there may now be shared.
    pub fn watching(&self, watch_key: &str) {
        self.lock()
            .locations
            .entry(watch_key.to_owned())
            .or_default();
    }

    /// Something changed at `watch_key` (or its watch restarted its list): forget its reads.
    pub fn changed(&self, watch_key: &str) {
        if let Some(location) = self.lock().locations.get_mut(watch_key) {
            location.slots.clear();
        }
    }

    /// The watch of `watch_key` ended: nothing there is shared any more.
    pub fn not_watching(&self, watch_key: &str) {
        self.lock().locations.remove(watch_key);
    }

    /// Number of results held (for tests).
    pub fn len(&self) -> usize {
        self.lock().locations.values().map(|l| l.slots.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cell for `op` on `client`'s location, or `None` when reads there are not shared.
    fn cell(&self, client: &dyn SecretsClient, op: String) -> Option<Arc<OnceCell<Outcome>>> {
        let watch_key = client.watch_key()?;
        let share_key = client.read_share_key()?;
        let now = Instant::now();
        let mut inner = self.lock();
        if now.duration_since(inner.last_sweep) > SWEEP_EVERY {
            inner.last_sweep = now;
            for location in inner.locations.values_mut() {
                location
                    .slots
                    .retain(|_, s| now.duration_since(s.created) < TTL);
            }
        }
        let location = inner.locations.get_mut(&watch_key)?;
        let slot = location
            .slots
            .entry((share_key, op))
            .or_insert_with(|| Slot {
                created: now,
                cell: Arc::default(),
            });
        if now.duration_since(slot.created) >= TTL {
            *slot = Slot {
                created: now,
                cell: Arc::default(),
            };
        }
        Some(slot.cell.clone())
    }

    async fn read<F, Fut>(
        &self,
        client: &dyn SecretsClient,
        op: String,
        read: F,
    ) -> Result<Outcome, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Outcome, ProviderError>>,
    {
        let settle = |r: Result<Outcome, ProviderError>| match r {
            Err(ProviderError::NoSecret(m)) => Ok(Outcome::Missing(m)),
            other => other,
        };
        match self.cell(client, op) {
            None => settle(read().await),
            Some(cell) => cell
                .get_or_try_init(|| async { settle(read().await) })
                .await
                .cloned(),
        }
    }

    /// [`SecretsClient::get_secret`], shared.
    pub async fn get_secret(
        &self,
        client: &dyn SecretsClient,
        r: &RemoteRef,
    ) -> Result<Vec<u8>, ProviderError> {
        let op = format!(
            "get_secret {}",
            serde_json::to_string(r).unwrap_or_default()
        );
        match self
            .read(client, op, || async {
                client.get_secret(r).await.map(Outcome::Value)
            })
            .await?
        {
            Outcome::Value(v) => Ok(v),
            Outcome::Missing(m) => Err(ProviderError::NoSecret(m)),
            Outcome::Map(_) => Err(mixed()),
        }
    }

    /// [`SecretsClient::get_secret_map`], shared.
    pub async fn get_secret_map(
        &self,
        client: &dyn SecretsClient,
        r: &RemoteRef,
    ) -> Result<SecretData, ProviderError> {
        let op = format!(
            "get_secret_map {}",
            serde_json::to_string(r).unwrap_or_default()
        );
        self.map(client, op, || async {
            client.get_secret_map(r).await.map(Outcome::Map)
        })
        .await
    }

    /// [`SecretsClient::get_all_secrets`], shared.
    pub async fn get_all_secrets(
        &self,
        client: &dyn SecretsClient,
        find: &ExternalSecretFind,
    ) -> Result<SecretData, ProviderError> {
        let op = format!(
            "get_all_secrets {}",
            serde_json::to_string(find).unwrap_or_default()
        );
        self.map(client, op, || async {
            client.get_all_secrets(find).await.map(Outcome::Map)
        })
        .await
    }

    async fn map<F, Fut>(
        &self,
        client: &dyn SecretsClient,
        op: String,
        read: F,
    ) -> Result<SecretData, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Outcome, ProviderError>>,
    {
        match self.read(client, op, read).await? {
            Outcome::Map(m) => Ok(m),
            Outcome::Missing(m) => Err(ProviderError::NoSecret(m)),
            Outcome::Value(_) => Err(mixed()),
        }
    }
}

/// Operations are part of the slot key, so a slot never holds another operation's result.
fn mixed() -> ProviderError {
    ProviderError::Other("internal error: a shared read returned another operation's result".into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use esox_providers::{LocalSecret, PushEntry, ValidationResult};

    use super::*;

    /// Counts reads; answers after a short delay so concurrent readers overlap.
    struct Counting {
        share: &'static str,
        reads: Arc<AtomicUsize>,
        answer: fn() -> Result<SecretData, ProviderError>,
    }

    #[async_trait]
    impl SecretsClient for Counting {
        async fn get_secret(&self, _: &RemoteRef) -> Result<Vec<u8>, ProviderError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(b"v".to_vec())
        }
        async fn get_secret_map(&self, _: &RemoteRef) -> Result<SecretData, ProviderError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            (self.answer)()
        }
        async fn get_all_secrets(
            &self,
            _: &ExternalSecretFind,
        ) -> Result<SecretData, ProviderError> {
            unimplemented!("not used by these tests")
        }
        async fn push_secret(&self, _: &LocalSecret, _: &PushEntry) -> Result<(), ProviderError> {
            unimplemented!("not used by these tests")
        }
        async fn delete_secret(&self, _: &PushEntry) -> Result<(), ProviderError> {
            unimplemented!("not used by these tests")
        }
        async fn secret_exists(&self, _: &PushEntry) -> Result<bool, ProviderError> {
            unimplemented!("not used by these tests")
        }
        async fn validate(&self) -> Result<ValidationResult, ProviderError> {
            Ok(ValidationResult::Ready)
        }
        fn watch_key(&self) -> Option<String> {
            Some("server|ns|sa".into())
        }
        fn read_share_key(&self) -> Option<String> {
            Some(self.share.into())
        }
    }

    fn client(share: &'static str, answer: fn() -> Result<SecretData, ProviderError>) -> Counting {
        Counting {
            share,
            reads: Arc::default(),
            answer,
        }
    }

    fn ok() -> Result<SecretData, ProviderError> {
        Ok(SecretData::from([("k".to_owned(), b"v".to_vec())]))
    }

    fn key(k: &str) -> RemoteRef {
        serde_json::from_value(serde_json::json!({"key": k})).unwrap()
    }

    async fn read_many(shared: &SharedReads, c: &Counting, r: &RemoteRef, n: usize) -> usize {
        let reads = futures::future::join_all((0..n).map(|_| shared.get_secret_map(c, r))).await;
        reads.into_iter().filter(Result::is_ok).count()
    }

    #[tokio::test]
    async fn concurrent_readers_of_a_watched_source_share_one_read_until_it_changes() {
        let shared = SharedReads::default();
        let c = client("a", ok);
        let r = key("source");
        // Not watched yet: every reader reads.
        assert_eq!(read_many(&shared, &c, &r, 3).await, 3);
        assert_eq!(c.reads.load(Ordering::SeqCst), 3);

        shared.watching("server|ns|sa");
        assert_eq!(read_many(&shared, &c, &r, 50).await, 50);
        assert_eq!(c.reads.load(Ordering::SeqCst), 4);
        assert_eq!(read_many(&shared, &c, &r, 5).await, 5);
        assert_eq!(c.reads.load(Ordering::SeqCst), 4, "still fresh: shared");

        shared.changed("server|ns|sa");
        assert_eq!(read_many(&shared, &c, &r, 5).await, 5);
        assert_eq!(
            c.reads.load(Ordering::SeqCst),
            5,
            "a change forces one new read"
        );

        // Another key, and the same key with other credentials, are read on their own.
        assert_eq!(read_many(&shared, &c, &key("other"), 2).await, 2);
        let other_credentials = Counting {
            reads: c.reads.clone(),
            ..client("b", ok)
        };
        assert_eq!(read_many(&shared, &other_credentials, &r, 2).await, 2);
        assert_eq!(c.reads.load(Ordering::SeqCst), 7);

        shared.not_watching("server|ns|sa");
        assert!(shared.is_empty());
        assert_eq!(read_many(&shared, &c, &r, 2).await, 2);
        assert_eq!(c.reads.load(Ordering::SeqCst), 9);
    }

    #[tokio::test]
    async fn missing_secrets_are_shared_but_failures_are_not() {
        let shared = SharedReads::default();
        shared.watching("server|ns|sa");
        let missing = client("a", || Err(ProviderError::NoSecret("gone".into())));
        let r = key("source");
        for _ in 0..3 {
            let e = shared.get_secret_map(&missing, &r).await.unwrap_err();
            assert!(e.is_no_secret(), "{e}");
        }
        assert_eq!(missing.reads.load(Ordering::SeqCst), 1);

        let down = client("b", || {
            Err(ProviderError::unavailable("connection refused"))
        });
        for _ in 0..3 {
            assert!(shared.get_secret_map(&down, &r).await.is_err());
        }
        assert_eq!(down.reads.load(Ordering::SeqCst), 3);
    }
}
