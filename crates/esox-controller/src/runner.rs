//! Runs every controller in one process.

use std::sync::Arc;

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
    let (ctx, triggers) = Context::new(client, options.scoped(), local_cluster);
    let weak = Arc::downgrade(&ctx);
    esox_providers::metrics::set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
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
    let es = externalsecret::run(ctx.clone(), triggers, signal(&rx));
    let ss = secretstore::run::<SecretStore>(ctx.clone(), signal(&rx));
    let css = enabled(
        on.cluster_stores,
        secretstore::run_cluster(ctx.clone(), signal(&rx)),
    );
    let ces = enabled(
        on.cluster_external_secrets,
        clusterexternalsecret::run(ctx.clone(), signal(&rx)),
    );
    let ps = enabled(on.push_secrets, pushsecret::run(ctx.clone(), signal(&rx)));
    let cps = enabled(
        on.cluster_push_secrets,
        clusterpushsecret::run(ctx.clone(), signal(&rx)),
    );
    let task = tokio::spawn(async move {
        futures::future::join(
            futures::future::join4(es.boxed(), ss.boxed(), css, ces),
            futures::future::join3(ps, cps, caches),
        )
        .await;
    });
    (ctx, Shutdown(tx), task)
}

/// A controller that is turned off is never polled, so it sends no request at all.
fn enabled(
    on: bool,
    controller: impl std::future::Future<Output = ()> + Send + 'static,
) -> futures::future::BoxFuture<'static, ()> {
    if on {
        controller.boxed()
    } else {
        futures::future::ready(()).boxed()
    }
}
