//! kube's watcher, made to start over when the API server says it is behind.
//!
//! After an API server restarts, its watch cache for a kind starts at the etcd revision it
//! listed at, and moves only when that kind changes or etcd reports progress (every 10 minutes
//! by default). A client resuming from a newer revision it saw on another kind gets "Too large
//! resource version" (504, cause `ResourceVersionTooLarge`). client-go's reflector answers with
//! a fresh list; kube's watcher retries the same revision, so a watch can stay down for minutes
//! while every change in between waits (measured on a real kube-apiserver: 73 s). This wrapper
//! starts a new watcher, whose first step is a fresh list, when that happens.

use std::fmt::Debug;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use kube::Api;
use kube::Resource;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;

/// The cause Kubernetes gives when a client asks for a revision its cache has not reached.
const TOO_LARGE_CAUSE: &str = "ResourceVersionTooLarge";

/// Whether an API server answer says the requested revision is newer than its cache.
pub fn status_says_too_large(status: &kube::core::Status) -> bool {
    status.code == 504
        && status
            .details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == TOO_LARGE_CAUSE))
}

/// Whether the API server refused the watch's revision as newer than its cache.
pub fn resource_version_too_large(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => status_says_too_large(s),
        watcher::Error::WatchError(s) => status_says_too_large(s),
        _ => false,
    }
}

/// [`watcher`] that re-lists, as client-go does, after a "Too large resource version" answer.
/// Errors are passed on (so a backoff wrapped around it still paces the retries).
pub fn relisting_watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let start = {
        let (api, config) = (api.clone(), config.clone());
        move || -> BoxStream<'static, watcher::Result<Event<K>>> {
            watcher(api.clone(), config.clone()).boxed()
        }
    };
    let first = start();
    futures::stream::unfold((first, start), |(mut stream, start)| async move {
        let item = stream.next().await?;
        if let Err(e) = &item
            && resource_version_too_large(e)
        {
            tracing::debug!(error = %e, "watch behind the API server's cache; listing again");
            stream = start();
        }
        Some((item, (stream, start)))
    })
}
