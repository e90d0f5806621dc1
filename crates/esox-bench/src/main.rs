//! `esox-bench`: the ExternalSecret performance benchmark of the issue. It starts the in-memory
//! test API server in this process and esox as a child process (so that esox's own memory can
//! be read from /proc), and prints its figures beside the targets. See
//! `docs/benchmarks.md` for the method and recorded results.

mod args;
mod esox_process;
mod report;
mod setup;
mod stats;
mod tracker;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Parser;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use args::Args;
use esox_process::{EsoxProcess, Sampler, read_memory};
use report::RunResult;
use tracker::Tracker;

const ES_PREFIX: &str = "bench-es";
const DIRECT_PREFIX: &str = "bench-direct";
const UNRELATED_PREFIX: &str = "bench-unrelated";
const UNRELATED_NAMESPACES: usize = 50;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "esox_bench=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for n in args.sizes() {
        let r = runtime.block_on(run(&args, n))?;
        println!("{}", r.table());
        results.push(r);
    }
    Ok(())
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Unrelated Secrets are about the size of a typical application credential.
fn unrelated_data() -> serde_json::Value {
    json!({"token": b64(&"x".repeat(256)), "user": b64("someone")})
}

async fn add_unrelated(
    client: &kube::Client,
    args: &Args,
    name: &str,
    count: usize,
) -> anyhow::Result<Duration> {
    setup::secrets(
        client,
        UNRELATED_PREFIX,
        UNRELATED_NAMESPACES,
        name,
        count,
        args.concurrency,
        &unrelated_data(),
    )
    .await
}

async fn run(args: &Args, n: usize) -> anyhow::Result<RunResult> {
    let namespaces = args.namespaces.min(n).max(1);
    tracing::info!(n, "starting a run");
    let cluster = esox_testcluster::TestCluster::start(Default::default()).await?;
    let dir = std::env::temp_dir().join(format!("esox-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let kubeconfig = dir.join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig)?;
    let client = cluster.client().await?;

    setup::install_crds(&client).await?;
    setup::source_and_store(&client, "initial").await?;
    setup::namespaces(&client, ES_PREFIX, namespaces, args.concurrency).await?;
    setup::namespaces(&client, DIRECT_PREFIX, namespaces, args.concurrency).await?;
    setup::namespaces(
        &client,
        UNRELATED_PREFIX,
        UNRELATED_NAMESPACES,
        args.concurrency,
    )
    .await?;
    let took = add_unrelated(&client, args, "unrelated", args.unrelated).await?;
    tracing::info!(count = args.unrelated, ?took, "unrelated Secrets created");

    let tracker = Tracker::new(setup::CHANGING_KEY, b"initial");
    let watches = tracker.spawn_watches(&client);

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
    // leaves the server as it was.
    for i in 0..namespaces {
        Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .delete(&format!("{DIRECT_PREFIX}-{i}"), &Default::default())
            .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut esox = EsoxProcess::spawn(&args.esox_bin(), &kubeconfig, &dir.join("esox.log"))?;
    let (sampler, sampler_task) = Sampler::start(esox.pid(), Duration::from_millis(100));
    setup::wait_store_ready(&client, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = read_memory(esox.pid())?;

    let (ramp_r0, ramp_w0) = cluster.request_counts();
    let started = Instant::now();
    let es_create =
        setup::external_secrets(&client, ES_PREFIX, namespaces, n, args.concurrency).await?;
    let done = tracker
        .wait(args.timeout.saturating_sub(started.elapsed()), |p| {
            p.ready >= n && p.matching >= n
        })
        .await;
    let all_ready = started.elapsed();
    esox.check_alive()?;
    if done.is_none() {
        bail!(
            "after {all_ready:?} only {:?} of {n} are done; see {}",
            tracker.progress(),
            dir.join("esox.log").display()
        );
    }
    let (ramp_r1, ramp_w1) = cluster.request_counts();
    tracing::info!(?all_ready, ?es_create, "all ExternalSecrets Ready");
    let peak = read_memory(esox.pid())?;

    tokio::time::sleep(args.settle).await;
    let window_start = tokio::time::Instant::now();
    let (r0, w0) = cluster.request_counts();
    tokio::time::sleep(args.window).await;
    let (r1, w1) = cluster.request_counts();
    let steady_rss = sampler
        .mean_rss_since(window_start)
        .context("no memory samples in the steady window")?;
    tracing::info!(reads = r1 - r0, writes = w1 - w0, "steady state");

    let source: Api<Secret> = Api::namespaced(client.clone(), setup::SOURCE_NAMESPACE);
    let mut delays = Vec::new();
    for round in 0..args.latency_rounds {
        let value = format!("rotated-{round}");
        tracker.expect(value.as_bytes());
        let started = Instant::now();
        let patch = json!({"stringData": {setup::CHANGING_KEY: value}});
        source
            .patch(
                setup::SOURCE_SECRET,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        if tracker
            .wait(Duration::from_secs(60), |p| p.matching >= n)
            .await
            .is_none()
        {
            bail!(
                "round {round}: after 60 s only {} of {n} targets carry the new value",
                tracker.progress().matching
            );
        }
        delays.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tracing::info!(?delays, "source change to last target");

    let extra_rss_delta_kib = if args.extra_unrelated > 0 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before_start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = sampler.mean_rss_since(before_start).context("no samples")?;
        let took = add_unrelated(&client, args, "extra", args.extra_unrelated).await?;
        tracing::info!(
            count = args.extra_unrelated,
            ?took,
            "extra unrelated Secrets created"
        );
        tokio::time::sleep(args.settle).await;
        let after_start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = sampler.mean_rss_since(after_start).context("no samples")?;
        Some(after as i64 - before as i64)
    } else {
        None
    };
    esox.check_alive()?;
    let final_mem = read_memory(esox.pid())?;
    tracing::info!(
        hwm_kib = final_mem.hwm_kib,
        max_sampled_rss_kib = sampler.max_rss_since(window_start),
        "end of run"
    );

    sampler_task.abort();
    for w in watches {
        w.abort();
    }
    esox.stop()?;
    cluster.shutdown();

    Ok(RunResult {
        n,
        unrelated: args.unrelated,
        direct,
        es_create,
        all_ready,
        ramp_reads: ramp_r1 - ramp_r0,
        ramp_writes: (ramp_w1 - ramp_w0).saturating_sub(n as u64),
        idle_rss_kib: idle.rss_kib,
        peak_hwm_kib: peak.hwm_kib,
        steady_rss_kib: steady_rss,
        steady_window: args.window,
        steady_reads: r1 - r0,
        steady_writes: w1 - w0,
        latency_p50: stats::percentile(&delays, 0.5),
        latency_p99: stats::percentile(&delays, 0.99),
        latency_rounds: delays.len(),
        extra_unrelated: args.extra_unrelated,
        extra_rss_delta_kib,
    })
}
