//! The ExternalSecret benchmark: N ExternalSecrets copying one source Secret through a
//! ClusterSecretStore with the Kubernetes provider, against N Secrets created directly.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use esox_api::v1::ExternalSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::json;

use crate::args::Args;
use crate::cluster::Cluster;
use crate::esox_process::Monitored;
use crate::measure::{self, requests_since};
use crate::report::{Precreated, Restart, RunResult, loadavg};
use crate::setup::{self, b64};
use crate::stats;
use crate::tracker::{self, Tracker};

const ES_PREFIX: &str = "bench-es";
const DIRECT_PREFIX: &str = "bench-direct";

/// Namespace prefixes a run on a shared cluster deletes when it ends.
const RUN_PREFIXES: [&str; 3] = [ES_PREFIX, DIRECT_PREFIX, setup::EXTRA_PREFIX];

/// A cluster with the scenario set up and the direct baseline measured, esox not yet started.
struct Prepared {
    cluster: Cluster,
    client: kube::Client,
    dir: PathBuf,
    kubeconfig: PathBuf,
    tracker: Tracker,
    watches: tracker::Watches,
    namespaces: usize,
    direct: Duration,
    esox_bin: PathBuf,
    esox_log: String,
}

impl Prepared {
    fn spawn_esox(&self) -> anyhow::Result<Monitored> {
        Monitored::spawn(
            &self.esox_bin,
            &self.kubeconfig,
            &self.dir.join("esox.log"),
            &self.esox_log,
        )
    }

    fn log(&self) -> String {
        self.dir.join("esox.log").display().to_string()
    }

    /// Ends the run (esox stopped): on a cluster the benchmark did not start, its namespaces
    /// are deleted so that the next run finds the cluster as this one did.
    async fn finish(self) -> anyhow::Result<()> {
        drop(self.watches);
        if self.cluster.is_shared() {
            setup::delete_namespaces(&self.client, &RUN_PREFIXES, Duration::from_secs(600)).await?;
        }
        self.cluster.shutdown();
        Ok(())
    }
}

async fn prepare(args: &Args, n: usize, tag: &str) -> anyhow::Result<Prepared> {
    let namespaces = args.namespaces.min(n).max(1);
    tracing::info!(n, tag, "preparing a cluster");
    let dir = measure::run_dir(tag, n)?;
    let cluster = Cluster::start(args, &dir).await?;
    let kubeconfig = cluster.kubeconfig(&dir);
    let client = cluster.client().await?;
    if cluster.is_shared() {
        // What a run that failed half-way left behind.
        setup::delete_namespaces(&client, &RUN_PREFIXES, Duration::from_secs(600)).await?;
    }

    setup::install_crds(&client).await?;
    setup::source_and_store(&client, "initial").await?;
    setup::namespaces(&client, ES_PREFIX, namespaces, args.concurrency).await?;
    setup::namespaces(&client, DIRECT_PREFIX, namespaces, args.concurrency).await?;
    setup::unrelated_namespaces(&client, setup::UNRELATED_PREFIX, args.concurrency).await?;
    setup::unrelated(
        &client,
        args.concurrency,
        setup::UNRELATED_PREFIX,
        "unrelated",
        args.unrelated,
    )
    .await?;

    let tracker = Tracker::new(setup::CHANGING_KEY, b"initial");
    let watches = tracker::Watches(vec![
        tracker.watch_ready(Api::<ExternalSecret>::all(client.clone())),
        tracker.watch_targets(
            Api::<Secret>::all(client.clone()),
            tracker::managed_secrets(),
            "",
        ),
    ]);

    // The physical limit: the same number of Secrets, same data size and same client
    // concurrency, created directly on the same server before esox runs.
    let target_like = json!({"username": b64("bench"), setup::CHANGING_KEY: b64("initial")});
    let direct = setup::secrets(
        &client,
        DIRECT_PREFIX,
        namespaces,
        "direct",
        n,
        args.concurrency,
        &target_like,
    )
    .await?;
    tracing::info!(?direct, "direct Secrets created");
    // They would otherwise count as unrelated Secrets for esox; deleting their namespaces
    // leaves the server as it was. A real server deletes them in the background (namespace
    // controller): wait for it, so that esox does not start while it runs.
    setup::delete_namespaces(&client, &[DIRECT_PREFIX], Duration::from_secs(300)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(Prepared {
        cluster,
        client,
        dir,
        kubeconfig,
        tracker,
        watches,
        namespaces,
        direct,
        esox_bin: args.esox_bin(),
        esox_log: args.esox_log.clone(),
    })
}

pub async fn run(args: &Args, n: usize) -> anyhow::Result<RunResult> {
    let load_start = loadavg();
    let p = prepare(args, n, "es").await?;
    let (client, tracker) = (p.client.clone(), p.tracker.clone());

    let backend = p.cluster.describe().await;
    // A real server has clients of its own (controller manager, its own loopback client):
    // count what it receives without esox over a window as long as the steady one.
    let background = if p.cluster.is_real() {
        let before = p.cluster.request_counts().await?;
        tokio::time::sleep(args.window).await;
        Some(requests_since(&p.cluster, before).await?)
    } else {
        None
    };

    let mut esox = p.spawn_esox()?;
    setup::wait_store_ready(&client, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = esox.memory()?;

    let ramp0 = p.cluster.request_counts().await?;
    let started = Instant::now();
    let es_create =
        setup::external_secrets(&client, ES_PREFIX, p.namespaces, n, args.concurrency).await?;
    let done = tracker
        .wait(args.timeout.saturating_sub(started.elapsed()), |pr| {
            pr.ready >= n && pr.matching >= n
        })
        .await;
    let all_ready = started.elapsed();
    esox.process.check_alive()?;
    if done.is_none() {
        bail!(
            "after {all_ready:?} only {:?} of {n} are done; see {}",
            tracker.progress(),
            p.log()
        );
    }
    let (ramp_reads, ramp_writes) = requests_since(&p.cluster, ramp0).await?;
    tracing::info!(?all_ready, ?es_create, "all ExternalSecrets Ready");
    let peak = esox.memory()?;

    let steady = measure::steady(args.settle, args.window, &esox.sampler, &[&p.cluster]).await?;
    let (steady_reads, steady_writes) = steady.requests[0];
    tracing::info!(reads = steady_reads, writes = steady_writes, "steady state");

    let source: Api<Secret> = Api::namespaced(client.clone(), setup::SOURCE_NAMESPACE);
    let mut delays = Vec::new();
    for round in 0..args.latency_rounds {
        let value = format!("rotated-{round}");
        let delay = tracker::timed_change(&tracker, &value, n, Duration::from_secs(60), || {
            setup::set_value(&source, setup::SOURCE_SECRET, setup::CHANGING_KEY, &value)
        })
        .await
        .map_err(|e| e.context(format!("latency round {round}")))?;
        delays.push(delay);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tracing::info!(?delays, "source change to last target");

    let extra_rss_delta_kib = if args.extra_unrelated > 0 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before_start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = esox
            .sampler
            .mean_rss_since(before_start)
            .ok_or_else(|| anyhow::anyhow!("no memory samples before the extra Secrets"))?;
        setup::unrelated_namespaces(&client, setup::EXTRA_PREFIX, args.concurrency).await?;
        setup::unrelated(
            &client,
            args.concurrency,
            setup::EXTRA_PREFIX,
            "extra",
            args.extra_unrelated,
        )
        .await?;
        tokio::time::sleep(args.settle).await;
        let after_start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = esox
            .sampler
            .mean_rss_since(after_start)
            .ok_or_else(|| anyhow::anyhow!("no memory samples after the extra Secrets"))?;
        Some(after as i64 - before as i64)
    } else {
        None
    };
    esox.process.check_alive()?;
    let final_mem = esox.memory()?;
    tracing::info!(
        hwm_kib = final_mem.hwm_kib,
        max_sampled_rss_kib = esox.sampler.max_rss_since(steady.start),
        "end of run"
    );
    let (esox, restart) = if args.restart_window.is_zero() {
        (esox, None)
    } else {
        let (esox, r) =
            restart_unchanged(&p, esox, args.restart_window, background, args.window).await?;
        (esox, Some(r))
    };
    esox.stop()?;
    let direct = p.direct;
    p.finish().await?;

    let precreated = if args.skip_precreated {
        None
    } else {
        Some(run_precreated(args, n).await?)
    };

    Ok(RunResult {
        n,
        backend,
        steady_background: background,
        unrelated: args.unrelated,
        direct,
        es_create,
        all_ready,
        ramp_reads,
        ramp_writes: ramp_writes.saturating_sub(n as u64),
        precreated,
        idle_rss_kib: idle.rss_kib,
        peak_hwm_kib: peak.hwm_kib,
        steady_rss_kib: steady.rss_kib,
        steady_window: args.window,
        steady_reads,
        steady_writes,
        latency_p50: stats::percentile(&delays, 0.5),
        latency_p99: stats::percentile(&delays, 0.99),
        latency_rounds: delays.len(),
        extra_unrelated: args.extra_unrelated,
        extra_rss_delta_kib,
        restart,
        load: (load_start, loadavg()),
    })
}

/// The second variant of (a): the N ExternalSecrets exist before esox starts (as when switching
/// from ESO to esox), so the time is esox's own: from spawning the process until all are Ready.
async fn run_precreated(args: &Args, n: usize) -> anyhow::Result<Precreated> {
    let p = prepare(args, n, "es-pre").await?;
    let es_create =
        setup::external_secrets(&p.client, ES_PREFIX, p.namespaces, n, args.concurrency).await?;
    tracing::info!(?es_create, "ExternalSecrets created before esox starts");
    // The watch must have seen them all before the clock starts.
    if p.tracker
        .wait(Duration::from_secs(30), |pr| pr.total >= n)
        .await
        .is_none()
    {
        bail!(
            "the ExternalSecret watch saw only {} of {n}",
            p.tracker.progress().total
        );
    }
    let before = p.cluster.request_counts().await?;
    let started = Instant::now();
    let mut esox = p.spawn_esox()?;
    p.tracker.wait(args.timeout, |pr| pr.matching >= 1).await;
    let first_ready = started.elapsed();
    let done = p
        .tracker
        .wait(args.timeout, |pr| pr.ready >= n && pr.matching >= n)
        .await;
    let all_ready = started.elapsed();
    esox.process.check_alive()?;
    if done.is_none() {
        bail!(
            "ExternalSecrets created before esox: after {all_ready:?} only {:?} of {n} are done; see {}",
            p.tracker.progress(),
            p.log()
        );
    }
    let (reads, writes) = requests_since(&p.cluster, before).await?;
    let peak = esox.memory()?;
    tracing::info!(?all_ready, "pre-created ExternalSecrets all Ready");
    esox.stop()?;
    // What an ESO-compatible controller must write, sent straight from this client to the
    // same server for as many fresh ExternalSecrets (esox is stopped, so they stay untouched).
    setup::external_secrets_named(
        &p.client,
        ES_PREFIX,
        p.namespaces,
        "floor",
        n,
        args.concurrency,
    )
    .await?;
    let target_like = json!({"username": b64("bench"), setup::CHANGING_KEY: b64("initial")});
    let eso_writes = setup::eso_writes(
        &p.client,
        ES_PREFIX,
        p.namespaces,
        "floor",
        n,
        args.floor_concurrency,
        &target_like,
    )
    .await?;
    tracing::info!(?eso_writes, "ESO's writes sent directly");
    let eso_change_writes = setup::eso_change_writes(
        &p.client,
        ES_PREFIX,
        p.namespaces,
        "floor",
        n,
        args.floor_concurrency,
        "rotated",
    )
    .await?;
    tracing::info!(
        ?eso_change_writes,
        "ESO's writes for a source change sent directly"
    );
    // The floor of (a), where the ExternalSecrets are created while the controller runs.
    let eso_writes_running = setup::create_then_eso_writes(
        &p.client,
        ES_PREFIX,
        p.namespaces,
        "floor-running",
        n,
        args.concurrency,
        args.floor_concurrency,
        &target_like,
    )
    .await?;
    tracing::info!(
        ?eso_writes_running,
        "ExternalSecret creates and ESO's writes sent directly"
    );
    let direct = p.direct;
    p.finish().await?;
    Ok(Precreated {
        eso_writes,
        floor_concurrency: args.floor_concurrency,
        eso_writes_running,
        eso_change_writes,
        direct,
        first_ready,
        all_ready,
        peak_hwm_kib: peak.hwm_kib,
        reads,
        writes,
    })
}

/// Kills esox (as a crash or an evicted pod would) and starts it again with nothing changed,
/// then counts what its start costs over `window`: API requests, and targets rewritten.
/// `background` is what the server's own clients sent in `background_window` without esox.
async fn restart_unchanged(
    p: &Prepared,
    esox: Monitored,
    window: Duration,
    background: Option<(u64, u64)>,
    background_window: Duration,
) -> anyhow::Result<(Monitored, Restart)> {
    esox.stop()?;
    // Let the killed process's connections close so that their requests are counted before.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let targets = target_versions(&p.client).await?;
    let before = p.cluster.request_counts().await?;
    let gets = p.cluster.requests_for("GET", "secrets").await?;
    let lists = p.cluster.requests_for("LIST", "secrets").await?;
    let mut esox = p.spawn_esox()?;
    tokio::time::sleep(window).await;
    esox.process.check_alive()?;
    let provider_reads = esox.process.provider_reads()?;
    let (reads, writes) = requests_since(&p.cluster, before).await?;
    let since = |now: Option<u64>, then: Option<u64>| Some(now?.saturating_sub(then?));
    let secret_gets = since(p.cluster.requests_for("GET", "secrets").await?, gets);
    let secret_lists = since(p.cluster.requests_for("LIST", "secrets").await?, lists);
    let after = target_versions(&p.client).await?;
    let target_updates = targets
        .iter()
        .filter(|(key, rv)| after.get(*key) != Some(*rv))
        .count() as u64;
    let scale = window.as_secs_f64() / background_window.as_secs_f64().max(f64::EPSILON);
    let background =
        background.map(|(r, w)| ((r as f64 * scale) as u64, (w as f64 * scale) as u64));
    tracing::info!(
        reads,
        writes,
        ?secret_gets,
        target_updates,
        "restart with nothing changed"
    );
    Ok((
        esox,
        Restart {
            window,
            reads,
            writes,
            secret_gets,
            secret_lists,
            provider_reads,
            background,
            target_updates,
        },
    ))
}

/// The resourceVersion of every Secret esox manages, by namespace and name.
async fn target_versions(
    client: &kube::Client,
) -> anyhow::Result<std::collections::HashMap<(String, String), String>> {
    let api: Api<Secret> = Api::all(client.clone());
    let params =
        kube::api::ListParams::default().labels(&format!("{}=true", tracker::MANAGED_LABEL));
    Ok(api
        .list_metadata(&params)
        .await?
        .items
        .into_iter()
        .filter_map(|m| {
            let meta = m.metadata;
            Some(((meta.namespace?, meta.name?), meta.resource_version?))
        })
        .collect())
}
