//! Changes to Secrets (metadata only) from the moment the PushSecret controller starts.
//!
//! kube's watcher lists every Secret of the cluster before it watches. Here the first start
//! skips that list (it only asks for the current resource version): every PushSecret is
//! reconciled at start and reads its sources then, so the thousands of listed Secrets would
//! only cost both sides CPU while the first pushes run. Once the watch has lost its place
//! (410 Gone), the Secrets are listed in full as kube's watcher does, so that a change made
//! while nobody watched still reaches its PushSecrets.

use std::collections::VecDeque;
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;

type Meta = PartialObjectMeta<Secret>;

/// Page size of the full lists after a lost watch.
const PAGE: u32 = 500;
/// The server ends a watch after this long; it is then resumed where it stopped.
const WATCH_TIMEOUT_SECS: u32 = 290;
/// As every esox watch (`esox_providers::watch_backoff`): back within 2 s of the server answering.
const MAX_BACKOFF: Duration = esox_providers::watch_backoff::MAX_DELAY;

struct State {
    api: Api<Secret>,
    /// Where the watch resumes; `None`: list first.
    version: Option<String>,
    /// False until the first list: that one only needs the current version.
    listed_before: bool,
    watch: Option<BoxStream<'static, kube::Result<WatchEvent<Meta>>>>,
    /// Secrets of the current list page still to hand out.
    pending: VecDeque<Meta>,
    /// A full list in progress: the snapshot's version and the next page's token. Pages are
    /// handed out one at a time, so memory holds one page, not every Secret of the cluster.
    listing: Option<(String, Option<String>)>,
    failures: u32,
    refusals: crate::watches::Refusals,
}

/// Every Secret added, changed or deleted after the call, and every Secret again after the
/// watch lost its place. Errors are retried with backoff (logged at debug level), so the
/// stream never ends.
pub fn changes(api: Api<Secret>) -> impl Stream<Item = Meta> + Send + 'static {
    let state = State {
        refusals: crate::watches::Refusals::new(&api),
        api,
        version: None,
        listed_before: false,
        watch: None,
        pending: VecDeque::new(),
        listing: None,
        failures: 0,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(m) = s.pending.pop_front() {
                return Some((m, s));
            }
            if let Some(watch) = s.watch.as_mut() {
                match watch.next().await {
                    Some(Ok(
                        WatchEvent::Added(m) | WatchEvent::Modified(m) | WatchEvent::Deleted(m),
                    )) => {
                        s.failures = 0;
                        if let Some(v) = &m.metadata.resource_version {
                            s.version = Some(v.clone());
                        }
                        return Some((m, s));
                    }
                    Some(Ok(WatchEvent::Bookmark(b))) => {
                        s.version = Some(b.metadata.resource_version);
                    }
                    Some(Ok(WatchEvent::Error(status))) => {
                        tracing::debug!(code = status.code, message = %status.message, "secret watch error");
                        s.watch = None;
                        if lost_place(&status) {
                            s.version = None;
                        } else {
                            backoff(&mut s.failures).await;
                        }
                    }
                    Some(Err(e)) => {
                        s.refusals.request_error("a watch", &e);
                        tracing::debug!(error = %e, "secret watch failed");
                        s.watch = None;
                        backoff(&mut s.failures).await;
                    }
                    // The server's timeout: resume where it stopped.
                    None => s.watch = None,
                }
                continue;
            }
            let Some(version) = s.version.clone() else {
                match next_page(&mut s).await {
                    Ok(()) => s.failures = 0,
                    Err(e) => {
                        s.refusals.request_error("a list", &e);
                        tracing::debug!(error = %e, "listing secrets failed");
                        // A list that fails part way starts again from its first page.
                        s.listing = None;
                        backoff(&mut s.failures).await;
                    }
                }
                continue;
            };
            let params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
            match s.api.watch_metadata(&params, &version).await {
                Ok(w) => s.watch = Some(w.boxed()),
                Err(e) => {
                    s.refusals.request_error("a watch", &e);
                    tracing::debug!(error = %e, "starting the secret watch failed");
                    if matches!(&e, kube::Error::Api(st) if lost_place(st)) {
                        s.version = None;
                    }
                    backoff(&mut s.failures).await;
                }
            }
        }
    })
}

/// One step of a list: at the first start only the current resource version; after a lost
/// watch the next page of every Secret's metadata. Sets `version` once the list is complete.
async fn next_page(s: &mut State) -> kube::Result<()> {
    if !s.listed_before {
        let page = s.api.list_metadata(&ListParams::default().limit(1)).await?;
        s.version = Some(page.metadata.resource_version.unwrap_or_default());
        s.listed_before = true;
        return Ok(());
    }
    let mut params = ListParams::default().limit(PAGE);
    if let Some((_, Some(token))) = &s.listing {
        params = params.continue_token(token);
    }
    let page = s.api.list_metadata(&params).await?;
    // Every page belongs to the snapshot of the first one.
    let snapshot = match s.listing.take() {
        Some((v, _)) => v,
        None => page.metadata.resource_version.clone().unwrap_or_default(),
    };
    let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
    s.pending.extend(page.items.into_iter().map(|mut m| {
        m.metadata.managed_fields = None;
        m
    }));
    match next {
        Some(token) => s.listing = Some((snapshot, Some(token))),
        None => s.version = Some(snapshot),
    }
    Ok(())
}

/// Whether the watch can no longer resume where it was: 410 Gone (history compacted), or a
/// revision newer than the API server's cache, as after an API-server restart (see
/// `esox_providers::relisting_watcher`). Either way only a list finds what changed meanwhile.
fn lost_place(status: &kube::core::Status) -> bool {
    status.code == 410 || esox_providers::relisting_watcher::status_says_too_large(status)
}

async fn backoff(failures: &mut u32) {
    *failures = failures.saturating_add(1);
    let delay = Duration::from_millis(100u64 << (*failures).min(8)).min(MAX_BACKOFF);
    tokio::time::sleep(delay).await;
}
