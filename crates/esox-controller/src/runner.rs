//! Runs every controller in one process.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use esox_api::v1::SecretStore;
use esox_providers::LocalCluster;
use futures::FutureExt as _;
use tokio::sync::watch;

use crate::context::{Context, Options};
use crate::{clusterexternalsecret, clusterpushsecret, externalsecret, pushsecret, secretstore};

/// A handle that stops the controllers.
#[derive(Clone)]
pub struct Shutdown(watch::Sender<bool>);

impl Shutdown {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

fn signal(
    rx: &watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Starts all controllers on the current tokio runtime; returns the context (for tests and
/// metrics), a shutdown handle and the task that completes when every controller stopped.
pub fn start(
    client: kube::Client,
    options: Options,
    local_cluster: LocalCluster,
) -> (Arc<Context>, Shutdown, tokio::task::JoinHandle<()>) {
    start_with_metrics(client, options, local_cluster, Arc::default())
}

/// As [`start`], counting into `metrics`: a new leadership term keeps the counters of the last.
pub fn start_with_metrics(
    client: kube::Client,
    options: Options,
    local_cluster: LocalCluster,
    metrics: Arc<crate::metrics::Metrics>,
) -> (Arc<Context>, Shutdown, tokio::task::JoinHandle<()>) {
    let (ctx, triggers) = Context::with_metrics(client, options.scoped(), local_cluster, metrics);
    let weak = Arc::downgrade(&ctx);
    ctx.providers
        .set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
            if let Some(ctx) = weak.upgrade() {
                ctx.metrics.provider_call(provider, call, ok);
            }
        })));
    let (tx, rx) = watch::channel(false);
    let caches = match ctx.take_cache_writers() {
        Some(writers) => crate::caches::run(ctx.clone(), writers, signal(&rx)).boxed(),
        None => futures::future::ready(()).boxed(),
    };
    let on = ctx.options.clone();
    let live = |name: &'static str, f| supervised(name, f, ctx.clone(), rx.clone()).boxed();
    let es = live(
        "externalsecret",
        externalsecret::run(ctx.clone(), triggers, signal(&rx)).boxed(),
    );
    let ss = live(
        "secretstore",
        secretstore::run::<SecretStore>(ctx.clone(), signal(&rx)).boxed(),
    );
    let css = live(
        "clustersecretstore",
        enabled(
            on.cluster_stores,
            secretstore::run_cluster(ctx.clone(), signal(&rx)),
            signal(&rx),
        ),
    );
    let ces = live(
        "clusterexternalsecret",
        enabled(
            on.cluster_external_secrets,
            clusterexternalsecret::run(ctx.clone(), signal(&rx)),
            signal(&rx),
        ),
    );
    let ps = live(
        "pushsecret",
        enabled(
            on.push_secrets,
            pushsecret::run(ctx.clone(), signal(&rx)),
            signal(&rx),
        ),
    );
    let cps = live(
        "clusterpushsecret",
        enabled(
            on.cluster_push_secrets,
            clusterpushsecret::run(ctx.clone(), signal(&rx)),
            signal(&rx),
        ),
    );
    let caches = live("caches", caches);
    let task = tokio::spawn(async move {
        futures::future::join(
            futures::future::join4(es, ss, css, ces),
            futures::future::join3(ps, cps, caches),
        )
        .await;
    });
    (ctx, Shutdown(tx), task)
}

/// A controller turned off by the options (namespace-scoped mode, ESO's `--enable-*` flags)
/// waits for shutdown instead of ending at once, which [`supervised`] would report as a dead
/// controller.
fn enabled(
    on: bool,
    controller: impl std::future::Future<Output = ()> + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> futures::future::BoxFuture<'static, ()> {
    if on {
        controller.boxed()
    } else {
        shutdown.boxed()
    }
}

/// Which controllers ended before shutdown: a panic, or a stream that stopped. Each controller
/// runs on its own; one that ends does nothing until the process restarts, so `/healthz`
/// reports it (the others keep running meanwhile).
#[derive(Default)]
pub struct Liveness {
    ended: Mutex<Vec<String>>,
}

impl Liveness {
    /// The controllers that ended, with how (`pushsecret (panicked)`).
    pub fn ended(&self) -> Vec<String> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Marks a controller as ended (`what`: its name and how).
    pub fn record(&self, what: String) {
        self.ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }
}

/// Runs one controller, recording in `ctx.liveness` when it ends before `stop` is set. A panic
/// is caught here so that it ends only this controller; its message is not logged, since a
/// panic inside a reconcile may carry anything.
async fn supervised(
    name: &'static str,
    controller: futures::future::BoxFuture<'static, ()>,
    ctx: Arc<Context>,
    stop: watch::Receiver<bool>,
) {
    let how = match AssertUnwindSafe(controller).catch_unwind().await {
        Ok(()) => "stopped",
        Err(_) => "panicked",
    };
    if *stop.borrow() {
        return;
    }
    tracing::error!(
        controller = name,
        how,
        "a controller ended; /healthz now fails so that the process is restarted"
    );
    ctx.liveness.record(format!("{name} ({how})"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_controller_that_ends_before_shutdown_is_recorded() {
        let client = kube::Client::try_from(kube::Config::new(
            "https://127.0.0.1:9".parse().expect("uri"),
        ))
        .expect("client");
        let (ctx, _triggers) = Context::new(
            client,
            Options::default(),
            LocalCluster {
                url: "https://127.0.0.1:9".into(),
                ca_pem: None,
            },
        );
        let (tx, rx) = watch::channel(false);
        supervised("quiet", async {}.boxed(), ctx.clone(), rx.clone()).await;
        supervised(
            "broken",
            async { panic!("boom") }.boxed(),
            ctx.clone(),
            rx.clone(),
        )
        .await;
        assert_eq!(
            ctx.liveness.ended(),
            ["quiet (stopped)", "broken (panicked)"]
        );
        // After shutdown, ending is what controllers are asked to do.
        let _ = tx.send(true);
        supervised("done", async {}.boxed(), ctx.clone(), rx).await;
        assert_eq!(ctx.liveness.ended().len(), 2);
    }
}
