//! Follows the benchmark's objects (ExternalSecrets or PushSecrets) and their target Secrets with
//! watches (no polling, which would itself load the server) and publishes how many are Ready /
//! carry the expected value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::ready::Ready;

/// Label esox (as ESO) puts on the Secrets it manages.
pub const MANAGED_LABEL: &str = "reconcile.external-secrets.io/managed";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Objects seen (Ready or not).
    pub total: usize,
    pub ready: usize,
    pub matching: usize,
}

type Key = (String, String);

#[derive(Default)]
struct Inner {
    ready: HashMap<Key, bool>,
    ready_count: usize,
    targets: HashMap<Key, Vec<u8>>,
    expected: Vec<u8>,
    matching: usize,
}

impl Inner {
    fn progress(&self) -> Progress {
        Progress {
            total: self.ready.len(),
            ready: self.ready_count,
            matching: self.matching,
        }
    }

    fn set_ready(&mut self, key: Key, ready: Option<bool>) {
        let old = match ready {
            Some(r) => self.ready.insert(key, r),
            None => self.ready.remove(&key),
        };
        if old == Some(true) {
            self.ready_count -= 1;
        }
        if ready == Some(true) {
            self.ready_count += 1;
        }
    }

    fn set_target(&mut self, key: Key, value: Option<Vec<u8>>) {
        let now = value.as_ref().is_some_and(|v| *v == self.expected);
        let old = match value {
            Some(v) => self.targets.insert(key, v),
            None => self.targets.remove(&key),
        };
        if old.is_some_and(|v| v == self.expected) {
            self.matching -= 1;
        }
        if now {
            self.matching += 1;
        }
    }

    fn set_expected(&mut self, expected: Vec<u8>) {
        self.matching = self.targets.values().filter(|v| **v == expected).count();
        self.expected = expected;
    }
}

/// Shared view of what the watches saw. `key` is the data key of the target whose value is
/// compared with the expected one.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Mutex<Inner>>,
    tx: Arc<watch::Sender<Progress>>,
    key: String,
}

impl Tracker {
    pub fn new(key: &str, expected: &[u8]) -> Self {
        let inner = Inner {
            expected: expected.to_vec(),
            ..Inner::default()
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
            tx: Arc::new(watch::channel(Progress::default()).0),
            key: key.to_owned(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner);
        self.tx.send_replace(inner.progress());
    }

    /// From now on a target counts only if it carries `value`.
    pub fn expect(&self, value: &[u8]) {
        self.update(|i| i.set_expected(value.to_vec()));
    }

    pub fn progress(&self) -> Progress {
        *self.tx.borrow()
    }

    /// Waits until `done` holds; `None` on timeout.
    pub async fn wait(
        &self,
        timeout: Duration,
        done: impl FnMut(&Progress) -> bool,
    ) -> Option<Progress> {
        let mut rx = self.tx.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(done))
            .await
            .ok()?
            .ok()
            .map(|p| *p)
    }

    /// Follows the `Ready` condition of every object `api` lists; runs until aborted.
    pub fn watch_ready<K>(&self, api: Api<K>) -> tokio::task::JoinHandle<()>
    where
        K: Ready + kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            // Backoff: a server that went away must not turn the loop into a busy one.
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        let ready = o.is_ready();
                        this.update(|i| i.set_ready(key_of(&o), Some(ready)));
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        this.update(|i| i.set_ready(key_of(&o), None));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "readiness watch"),
                }
            }
        })
    }

    /// Follows the target Secrets `api` lists with `config` whose names start with
    /// `name_prefix`; runs until aborted.
    pub fn watch_targets(
        &self,
        api: Api<Secret>,
        config: watcher::Config,
        name_prefix: &str,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let prefix = name_prefix.to_owned();
        tokio::spawn(async move {
            let mut stream = watcher(api, config).default_backoff().boxed();
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s))
                        if s.name_any().starts_with(&prefix) =>
                    {
                        let value = s
                            .data
                            .as_ref()
                            .and_then(|d| d.get(&this.key))
                            .map(|v| v.0.clone())
                            .unwrap_or_default();
                        this.update(|i| i.set_target(key_of(&s), Some(value)));
                    }
                    Ok(watcher::Event::Delete(s)) if s.name_any().starts_with(&prefix) => {
                        this.update(|i| i.set_target(key_of(&s), None));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "target Secret watch"),
                }
            }
        })
    }
}

/// Watcher settings for the Secrets esox (as ESO) manages for ExternalSecrets.
pub fn managed_secrets() -> watcher::Config {
    watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"))
}

/// Times one change: from just before `change` runs until `want` targets carry `value`.
pub async fn timed_change<F, Fut>(
    tracker: &Tracker,
    value: &str,
    want: usize,
    timeout: Duration,
    change: F,
) -> anyhow::Result<Duration>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    tracker.expect(value.as_bytes());
    let started = std::time::Instant::now();
    change().await?;
    if tracker
        .wait(timeout, |p| p.matching >= want)
        .await
        .is_none()
    {
        anyhow::bail!(
            "after {timeout:?} only {} of {want} targets carry the new value",
            tracker.progress().matching
        );
    }
    Ok(started.elapsed())
}

fn key_of<K: ResourceExt>(o: &K) -> Key {
    (o.namespace().unwrap_or_default(), o.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> Key {
        ("ns".into(), n.into())
    }

    #[test]
    fn counts_follow_updates_deletes_and_a_new_expected_value() {
        let mut i = Inner {
            expected: b"a".to_vec(),
            ..Inner::default()
        };
        i.set_ready(k("x"), Some(false));
        i.set_ready(k("x"), Some(true));
        i.set_ready(k("x"), Some(true));
        i.set_ready(k("y"), Some(true));
        assert_eq!(i.ready_count, 2);
        i.set_ready(k("y"), None);
        assert_eq!(i.ready_count, 1);

        i.set_target(k("x"), Some(b"a".to_vec()));
        i.set_target(k("y"), Some(b"b".to_vec()));
        assert_eq!(i.matching, 1);
        i.set_expected(b"b".to_vec());
        assert_eq!(i.matching, 1);
        i.set_target(k("x"), Some(b"b".to_vec()));
        assert_eq!(i.matching, 2);
        i.set_target(k("y"), None);
        assert_eq!(
            i.progress(),
            Progress {
                total: 1,
                ready: 1,
                matching: 1
            }
        );
    }
}

/// Watch tasks that end with their owner, on every path out of a run (an error included).
#[derive(Default)]
pub struct Watches(pub Vec<tokio::task::JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for w in &self.0 {
            w.abort();
        }
    }
}
