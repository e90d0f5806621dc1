//! Benchmarks of the test cluster, printing figures:
//! `cargo run --release -p esox-testcluster --example apiserver_bench`.
//!
//! 1. 10,000 Secrets in 500 namespaces held in memory (resident memory growth).
//! 2. Create throughput with 16 concurrent clients over loopback TLS.
//! 3. Watch fan-out: 20 watchers each receiving every event.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, ObjectMeta, PostParams, WatchEvent, WatchParams};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = esox_testcluster::TestCluster::start(Default::default()).await?;
    let client = cluster.client().await?;
    let pp = PostParams::default();

    // 1. Memory for 10,000 Secrets in 500 namespaces.
    let before = rss_kib();
    let nss: Api<Namespace> = Api::all(client.clone());
    let t = Instant::now();
    for n in 0..500 {
        nss.create(
            &pp,
            &Namespace {
                metadata: meta(&format!("ns-{n}")),
                ..Default::default()
            },
        )
        .await?;
    }
    let mut tasks = Vec::new();
    for w in 0..16 {
        let client = cluster.client().await?;
        tasks.push(tokio::spawn(async move {
            for i in (w..10_000).step_by(16) {
                let api: Api<Secret> = Api::namespaced(client.clone(), &format!("ns-{}", i % 500));
                let s = Secret {
                    metadata: meta(&format!("secret-{i}")),
                    string_data: Some(BTreeMap::from([(
                        "password".to_string(),
                        format!("value-{i:08}"),
                    )])),
                    ..Default::default()
                };
                api.create(&PostParams::default(), &s).await?;
            }
            Ok::<_, kube::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let after = rss_kib();
    println!(
        "memory: {} objects stored (10,000 Secrets + 500 namespaces with their default ServiceAccount and kube-root-ca.crt), resident memory grew by {:.1} MiB (process RSS {:.1} MiB), loaded in {:.2}s",
        cluster.object_count(),
        (after.saturating_sub(before)) as f64 / 1024.0,
        after as f64 / 1024.0,
        t.elapsed().as_secs_f64()
    );

    // 2. Create throughput, 16 concurrent clients, small ConfigMaps.
    nss.create(
        &pp,
        &Namespace {
            metadata: meta("tput"),
            ..Default::default()
        },
    )
    .await?;
    let per_client = 1000;
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(cluster.client().await?);
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (w, client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "tput");
            for i in 0..per_client {
                let cm = ConfigMap {
                    metadata: meta(&format!("cm-{w}-{i}")),
                    data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
                    ..Default::default()
                };
                api.create(&PostParams::default(), &cm).await?;
            }
            Ok::<_, kube::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "create throughput: {} writes by 16 clients in {secs:.2}s = {:.0} writes/s",
        16 * per_client,
        (16 * per_client) as f64 / secs
    );

    // 3. Watch fan-out to 20 watchers.
    nss.create(
        &pp,
        &Namespace {
            metadata: meta("fanout"),
            ..Default::default()
        },
    )
    .await?;
    let events = 1000usize;
    let mut watchers = Vec::new();
    for _ in 0..20 {
        let api: Api<ConfigMap> = Api::namespaced(cluster.client().await?, "fanout");
        let start_rv = api
            .list(&Default::default())
            .await?
            .metadata
            .resource_version
            .unwrap_or_default();
        let mut stream = api.watch(&WatchParams::default(), &start_rv).await?.boxed();
        watchers.push(tokio::spawn(async move {
            let mut n = 0;
            while let Some(ev) = stream.try_next().await? {
                if let WatchEvent::Added(cm) = ev
                    && cm
                        .metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("fan-"))
                {
                    n += 1;
                    if n == events {
                        return Ok::<_, kube::Error>(Instant::now());
                    }
                }
            }
            Ok(Instant::now())
        }));
    }
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "fanout");
    let t = Instant::now();
    for i in 0..events {
        api.create(
            &pp,
            &ConfigMap {
                metadata: meta(&format!("fan-{i}")),
                ..Default::default()
            },
        )
        .await?;
    }
    let writes_done = t.elapsed().as_secs_f64();
    let mut last = t;
    for w in watchers {
        last = last.max(w.await??);
    }
    let total = (last - t).as_secs_f64();
    println!(
        "watch fan-out: {events} events x 20 watchers = {} deliveries in {total:.2}s ({:.0} deliveries/s; writes took {writes_done:.2}s, last watcher done {:.0} ms after the last write)",
        events * 20,
        (events * 20) as f64 / total,
        (total - writes_done) * 1000.0
    );
    cluster.shutdown();
    Ok(())
}
