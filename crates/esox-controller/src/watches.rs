//! Every watch esox runs: kube's watcher re-listing when the API server is behind (see
//! `esox_providers::relisting_watcher`) and retrying at most every 2 s (see
//! `esox_providers::watch_backoff`), so that after an API-server restart or a network cut each
//! watch is back within seconds of the server answering.

use std::fmt::Debug;

use esox_providers::relisting_watcher::relisting_watcher;
use esox_providers::watch_backoff::WatchBackoff;
use futures::{Stream, StreamExt as _};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// A watch of `api`'s objects that recovers on its own.
pub fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    relisting_watcher(api, config)
        .inspect(|event| {
            if let Err(e) = event {
                warn_if_watch_refused(e);
            }
        })
        .backoff(WatchBackoff::default())
}

/// A list or watch the API server's authorizer refuses (a rule missing from esox's ClusterRole
/// or Role) has no object whose status could say so, and only an administrator can fix it: it is
/// logged as a warning with the API server's message, which names the verb, the resource and the
/// identity. Logged on every retry (at most every 2 s), as client-go's reflector does.
pub fn warn_if_watch_refused(e: &watcher::Error) {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => warn_if_refused("a watch", e),
        watcher::Error::WatchError(status) if status.code == 403 => {
            tracing::warn!(error = %status.message, "a watch was refused: a permission is missing");
        }
        _ => {}
    }
}

/// [`warn_if_watch_refused`] for a single request (`what`: "a watch", "an Event").
pub fn warn_if_refused(what: &str, e: &kube::Error) {
    if let kube::Error::Api(status) = e
        && status.code == 403
    {
        tracing::warn!(error = %status.message, "{what} was refused: a permission is missing");
    }
}

/// The backoff a controller puts on its merged trigger streams. Each of esox's streams backs off
/// on its own (see [`watch`]), and kube's default here (0.8 s doubling to 30 s, shared by every
/// trigger of the controller) would add up to 30 s after an API-server restart, during which no
/// trigger of that controller (source changes included) gets through.
#[derive(Debug, Clone, Copy)]
pub struct AlreadyBackedOff;

impl Iterator for AlreadyBackedOff {
    type Item = std::time::Duration;

    fn next(&mut self) -> Option<std::time::Duration> {
        Some(std::time::Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for AlreadyBackedOff {
    fn reset(&mut self) {}
}
