//! Every watch esox runs: kube's watcher re-listing when the API server is behind (see
//! `esox_providers::relisting_watcher`) and retrying at most every 2 s (see
//! `esox_providers::watch_backoff`), so that after an API-server restart or a network cut each
//! watch is back within seconds of the server answering.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use esox_providers::relisting_watcher::relisting_watcher;
use esox_providers::watch_backoff::WatchBackoff;
use futures::{FutureExt as _, Stream, StreamExt as _};
use kube::api::WatchParams;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::reflector::{Lookup, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

/// A watch of `api`'s objects that recovers on its own.
pub fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut refusals = Refusals::new(&api);
    relisting_watcher(api, config)
        .inspect(move |event| {
            if let Err(e) = event {
                refusals.watcher_error(e);
            }
        })
        .backoff(WatchBackoff::default())
}

/// How often one list-and-watch says again that it is refused. It keeps retrying at most
/// every 2 s meanwhile (see `esox_providers::watch_backoff`), and picks up a granted rule at
/// the next retry; a warning per retry would be thirty a minute per watch.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// The longest a probe (see [`Refusals::probe`]) waits for the API server's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A label no object carries: a probe's watch matches nothing, so it costs the API server no
/// events, and RBAC does not look at label selectors, so it is authorized as the real watch.
const PROBE_SELECTOR: &str = "esox-refusal-probe";

/// Reports the refusals of one list-and-watch. A list or watch the API server's authorizer
/// refuses (a rule missing from esox's ClusterRole or Role) has no object whose status could
/// say so, and only an administrator can fix it: it is logged as a warning with the API
/// server's message, which names the verb, the resource and the identity. With `list` allowed
/// and `watch` refused, the caches are filled once and then miss every change: the warning is
/// the only sign of it.
pub struct Refusals {
    client: Client,
    url: String,
    last_warned: Option<Instant>,
    last_probed: Option<Instant>,
}

impl Refusals {
    pub fn new<K: Resource + Clone>(api: &Api<K>) -> Self {
        Self {
            client: Client::from(api.clone()),
            url: api.resource_url().to_owned(),
            last_warned: None,
            last_probed: None,
        }
    }

    /// An error of kube's watcher.
    pub fn watcher_error(&mut self, e: &watcher::Error) {
        match e {
            watcher::Error::InitialListFailed(e) => self.request_error("a list", e),
            watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
                self.request_error("a watch", e);
            }
            watcher::Error::WatchError(status) if status.code == 403 => {
                self.warn("a watch", &status.message);
            }
            _ => {}
        }
    }

    /// An error of one list or watch request (`what`: "a list", "a watch").
    pub fn request_error(&mut self, what: &str, e: &kube::Error) {
        match e {
            kube::Error::Api(status) if status.code == 403 => self.warn(what, &status.message),
            // A watch of metadata only (PartialObjectMetadata) that the API server refuses gets
            // its refusal as an indented Status over several lines (the Status has no
            // PartialObjectMetadata form), and kube, which reads a watch one event per line,
            // sees only lines that do not decode and never the message.
            kube::Error::SerdeError(_) if what == "a watch" => self.probe(),
            _ => {}
        }
    }

    fn warn(&mut self, what: &str, message: &str) {
        if due(&mut self.last_warned) {
            tracing::warn!(error = %message, "{what} was refused: a permission is missing");
        }
    }

    /// Asks the API server for the same watch in plain JSON, whose refusal comes on one line
    /// with its message, and warns with it. Spawned: the watch's own stream must not wait.
    fn probe(&mut self) {
        if !due(&mut self.last_probed) {
            return;
        }
        let client = self.client.clone();
        let params = WatchParams::default().labels(PROBE_SELECTOR).timeout(1);
        let Ok(mut request) = kube::core::Request::new(self.url.clone()).watch(&params, "0") else {
            return;
        };
        if let Ok(json) = "application/json".parse() {
            request.headers_mut().insert("accept", json);
        }
        tokio::spawn(async move {
            match tokio::time::timeout(PROBE_TIMEOUT, client.request_stream(request)).await {
                Ok(Err(kube::Error::Api(status))) if status.code == 403 => {
                    tracing::warn!(error = %status.message, "a watch was refused: a permission is missing");
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "probing a failed watch"),
                // Allowed (the stream is dropped at once), or no answer: the watch failed for
                // another reason, which its retries log.
                Ok(Ok(_)) | Err(_) => {}
            }
        });
    }
}

/// Whether `last` is unset or older than [`REPORT_EVERY`]; if so, it becomes now.
fn due(last: &mut Option<Instant>) -> bool {
    if last.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    true
}

/// A refused request that is not a list or watch (`what`: "an Event").
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

/// Runs `controller` (a kube Controller with `store` as its cache and a graceful shutdown on
/// `shutdown`) and, at shutdown, drops it at once if its store was never listed. kube's
/// Controller starts no reconcile before its store's first list, and its graceful shutdown
/// waits for that list too: with the list refused (a rule missing from esox's RBAC), for ever.
/// A controller that never listed has nothing in flight to finish.
pub async fn ends_unless_listed<K>(
    controller: impl Future<Output = ()>,
    store: Store<K>,
    shutdown: impl Future<Output = ()>,
) where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let never_listed = async {
        shutdown.await;
        if store.wait_until_ready().now_or_never().is_some() {
            // Listed: the graceful shutdown ends the controller.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = controller => {}
        () = never_listed => {}
    }
}
