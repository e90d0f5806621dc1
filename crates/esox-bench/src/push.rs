//! The PushSecret benchmark: N PushSecrets on a "platform" test cluster push their source
//! Secrets to a second, "dev", test cluster with the Kubernetes provider, against writing the
//! same Secrets to dev directly.

use std::time::{Duration, Instant};

use anyhow::bail;
use esox_api::v1alpha1::PushSecret;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Api;
use kube::runtime::watcher;

use crate::args::Args;
use crate::cluster::Cluster;
use crate::esox_process::Monitored;
use crate::measure::{self, requests_since};
use crate::push_report::PushResult;
use crate::push_setup::{self as ps, PUSH_PREFIX};
use crate::report::loadavg;
use crate::setup::{self, namespace_of};
use crate::stats;
use crate::tracker::{self, Tracker};

/// Names of the PushSecrets (and remote keys) of the floor (a'') start with this.
const FLOOR_PREFIX: &str = "floor-";

pub async fn run(args: &Args, n: usize) -> anyhow::Result<PushResult> {
    let load_start = loadavg();
    let namespaces = args.namespaces.min(n).max(1);
    tracing::info!(n, namespaces, "starting a PushSecret run");
    if args.kubeconfig.is_some() || args.control_plane.is_some() {
        bail!(
            "the PushSecret benchmark runs on in-memory clusters only (no --kubeconfig or --control-plane)"
        );
    }
    let platform = esox_testcluster::TestCluster::start(Default::default()).await?;
    let dev = esox_testcluster::TestCluster::start(Default::default()).await?;
    let dir = measure::run_dir("push", n)?;
    let kubeconfig = dir.join("platform.kubeconfig");
    platform.write_kubeconfig(&kubeconfig)?;
    let log = dir.join("esox.log");
    let pc = platform.client().await?;
    let dc = dev.client().await?;

    let token = ps::dev(&dc).await?;
    let dev_as_sa = dev.client_with_token(&ps::token_text(&token)?).await?;
    setup::install_crds(&pc).await?;
    ps::platform_stores(&pc, namespaces, args.concurrency, &token, &dev.url()).await?;
    setup::unrelated_namespaces(&pc, setup::UNRELATED_PREFIX, args.concurrency).await?;
    setup::unrelated(
        &pc,
        args.concurrency,
        setup::UNRELATED_PREFIX,
        "unrelated",
        args.unrelated,
    )
    .await?;

    // The physical limit: the same Secrets written to dev by the same ServiceAccount with the
    // same client concurrency; their namespace is removed again before esox runs.
    let direct = ps::direct(&dev_as_sa, n, args.concurrency).await?;
    tracing::info!(?direct, "direct Secrets written to dev");
    Api::<Namespace>::all(dc.clone())
        .delete(ps::DIRECT_NAMESPACE, &Default::default())
        .await?;

    // Idle memory needs esox running without PushSecrets, but (a) times esox from its start with
    // the PushSecrets already there: so a first esox process only measures idle memory.
    let idle = {
        let esox = Monitored::spawn(
            &args.esox_bin(),
            &kubeconfig,
            &dir.join("esox-idle.log"),
            &args.esox_log,
        )?;
        ps::wait_stores_ready(&pc, namespaces, Duration::from_secs(60)).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = esox.memory()?;
        esox.stop()?;
        idle
    };

    let source_create = ps::sources(&pc, namespaces, n, args.concurrency, "initial").await?;
    let push_create = ps::push_secrets(&pc, namespaces, n, args.concurrency).await?;
    tracing::info!(
        ?source_create,
        ?push_create,
        "sources and PushSecrets created"
    );

    let tracker = Tracker::new(setup::CHANGING_KEY, b"initial");
    let watches = [
        tracker.watch_ready(Api::<PushSecret>::all(pc.clone())),
        tracker.watch_targets(
            Api::<Secret>::namespaced(dc.clone(), ps::REMOTE_NAMESPACE),
            watcher::Config::default(),
            ps::REMOTE_PREFIX,
        ),
    ];
    // The watches must have listed everything before the clock starts, or their initial
    // lists would be timed as esox's work.
    if tracker
        .wait(Duration::from_secs(30), |p| p.total >= n)
        .await
        .is_none()
    {
        bail!(
            "the PushSecret watch saw only {} of {n} PushSecrets",
            tracker.progress().total
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (platform, dev) = (
        Cluster::InMemory(Box::new(platform)),
        Cluster::InMemory(Box::new(dev)),
    );
    let (ramp_p0, ramp_d0) = (
        platform.request_counts().await?,
        dev.request_counts().await?,
    );
    let started = Instant::now();
    let mut esox = Monitored::spawn(&args.esox_bin(), &kubeconfig, &log, &args.esox_log)?;
    // The first remote copy shows how much of (a) is esox starting up rather than pushing.
    tracker.wait(args.timeout, |p| p.matching >= 1).await;
    let first_synced = started.elapsed();
    let done = tracker
        .wait(args.timeout, |p| p.ready >= n && p.matching >= n)
        .await;
    let all_synced = started.elapsed();
    esox.process.check_alive()?;
    if done.is_none() {
        bail!(
            "after {all_synced:?} only {:?} of {n} PushSecrets are done; see {}",
            tracker.progress(),
            log.display()
        );
    }
    let ramp_platform = requests_since(&platform, ramp_p0).await?;
    let ramp_dev = requests_since(&dev, ramp_d0).await?;
    let peak = esox.memory()?;
    tracing::info!(?all_synced, ?direct, "all PushSecrets synced");

    let steady =
        measure::steady(args.settle, args.window, &esox.sampler, &[&platform, &dev]).await?;
    tracing::info!(requests = ?steady.requests, "steady state");

    let source_api =
        |i: usize| Api::<Secret>::namespaced(pc.clone(), &namespace_of(PUSH_PREFIX, i, namespaces));
    let mut delays = Vec::new();
    let rounds = args.latency_rounds.min(n);
    for round in 0..rounds {
        let i = round * n / rounds.max(1);
        let value = format!("rotated-{round}");
        let api = source_api(i);
        let name = ps::source_name(i);
        let delay = tracker::timed_change(&tracker, &value, 1, Duration::from_secs(60), || {
            setup::set_value(&api, &name, setup::CHANGING_KEY, &value)
        })
        .await
        .map_err(|e| e.context(format!("latency round {round} (source {i})")))?;
        delays.push(delay);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tracing::info!(?delays, "one source change to its remote copy");

    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut all_change_patches = Duration::ZERO;
    let patches = &mut all_change_patches;
    let all_change = tracker::timed_change(&tracker, "all-rotated", n, args.timeout, || {
        let concurrency = args.concurrency.max(1);
        async move {
            let t = Instant::now();
            futures::stream::iter(0..n)
                .map(|i| {
                    let api = source_api(i);
                    async move {
                        setup::set_value(
                            &api,
                            &ps::source_name(i),
                            setup::CHANGING_KEY,
                            "all-rotated",
                        )
                        .await
                    }
                })
                .buffer_unordered(concurrency)
                .try_collect::<()>()
                .await?;
            *patches = t.elapsed();
            Ok(())
        }
    })
    .await
    .map_err(|e| e.context("changing all sources at once"))?;
    tracing::info!(?all_change, ?all_change_patches, "all sources changed");

    esox.process.check_alive()?;
    let final_mem = esox.memory()?;
    esox.stop()?;
    for w in watches {
        w.abort();
    }

    // (a''): what an ESO-compatible controller cannot avoid sending for N new PushSecrets, sent
    // from here with the same concurrency to the same servers (esox is stopped, so the fresh
    // PushSecrets stay untouched).
    ps::push_secrets_named(&pc, namespaces, FLOOR_PREFIX, n, args.concurrency).await?;
    let eso_writes = ps::eso_push_writes(
        &pc,
        &dev_as_sa,
        namespaces,
        FLOOR_PREFIX,
        n,
        args.concurrency,
    )
    .await?;
    tracing::info!(?eso_writes, "ESO's unavoidable push requests sent directly");
    platform.shutdown();
    dev.shutdown();

    Ok(PushResult {
        n,
        namespaces,
        unrelated: args.unrelated,
        direct,
        eso_writes,
        source_create,
        push_create,
        first_synced,
        all_synced,
        ramp_platform,
        ramp_dev,
        idle_rss_kib: idle.rss_kib,
        peak_hwm_kib: peak.hwm_kib,
        steady_rss_kib: steady.rss_kib,
        steady_window: args.window,
        steady_platform: steady.requests[0],
        steady_dev: steady.requests[1],
        latency_p50: stats::percentile(&delays, 0.5),
        latency_p99: stats::percentile(&delays, 0.99),
        latency_rounds: delays.len(),
        all_change,
        all_change_patches,
        final_hwm_kib: final_mem.hwm_kib,
        load: (load_start, loadavg()),
    })
}
