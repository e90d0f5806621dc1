//! The Vault benchmark: N ExternalSecrets, each reading its own KV v2 secret from one real
//! OpenBao server through one ClusterSecretStore with AppRole login, against the floor (the
//! same KV reads and ESO's writes sent directly by the benchmark, same run, same servers).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use esox_api::v1::{ClusterSecretStore, ExternalSecret};
use esox_testenv::openbao::OpenBao;
use futures::{StreamExt, TryStreamExt};
use http::Method;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::args::Args;
use crate::cluster::Cluster;
use crate::esox_process::Monitored;
use crate::measure::{self, requests_since};
use crate::report::loadavg;
use crate::setup::{self, b64};
use crate::tracker::{self, Tracker};
use crate::vault_report::VaultResult;

const ES_PREFIX: &str = "bench-vault";
const STORE: &str = "bench-vault";
const APPROLE_SECRET: &str = "bench-vault-approle";
const SECRET_ID_KEY: &str = "secret-id";
/// The value every KV secret carries under the tracked key; `username` differs per secret.
const PASSWORD: &str = "initial";

/// The benchmark's own client of the OpenBao server: hyper's pooled keep-alive client, as
/// esox's provider uses, so that the floor's reads cost what esox's cost at best.
#[derive(Clone)]
struct Bao {
    http: Client<HttpConnector, Full<Bytes>>,
    addr: String,
}

impl Bao {
    fn new(addr: &str) -> Self {
        Self {
            http: Client::builder(TokioExecutor::new()).build_http(),
            addr: addr.to_owned(),
        }
    }

    /// One API call; fails unless the answer is a success. The error carries the status and
    /// Vault's error list, never a token.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(format!("{}/v1/{path}", self.addr))
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("x-vault-token", t);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let resp = self
            .http
            .request(req.body(Full::new(Bytes::from(body)))?)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let errors = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("errors").cloned())
                .unwrap_or(Value::Null);
            bail!("{method} {path} answered {status}: {errors}");
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{method} {path}: not JSON"))
    }

    /// An AppRole login; returns the client token.
    async fn login(&self, role_id: &str, secret_id: &str) -> anyhow::Result<String> {
        let answer = self
            .call(
                Method::POST,
                "auth/approle/login",
                None,
                Some(json!({"role_id": role_id, "secret_id": secret_id})),
            )
            .await?;
        answer["auth"]["client_token"]
            .as_str()
            .map(str::to_owned)
            .context("the AppRole login answered no client token")
    }

    /// Reads `secret/bench/<i>` and checks that it is that secret.
    async fn read(&self, token: &str, i: usize) -> anyhow::Result<()> {
        let answer = self
            .call(
                Method::GET,
                &format!("secret/data/bench/{i}"),
                Some(token),
                None,
            )
            .await?;
        if answer["data"]["data"]["username"].as_str() != Some(&username(i)) {
            bail!("secret/bench/{i} does not hold its own username");
        }
        Ok(())
    }
}

fn username(i: usize) -> String {
    format!("user-{i}")
}

/// The AppRole credentials esox's store and the floor log in with.
struct Role {
    role_id: String,
    secret_id: String,
}

/// KV v2 at `secret/` (dev mode's), AppRole at `approle/` with a read-only policy on
/// `secret/bench/*`, and the N secrets.
async fn prepare_vault(
    bao: &Bao,
    root: &str,
    n: usize,
    concurrency: usize,
    token_ttl: Duration,
) -> anyhow::Result<Role> {
    bao.call(
        Method::POST,
        "sys/auth/approle",
        Some(root),
        Some(json!({"type": "approle"})),
    )
    .await?;
    bao.call(
        Method::PUT,
        "sys/policies/acl/bench-read",
        Some(root),
        Some(json!({"policy": "path \"secret/data/bench/*\" { capabilities = [\"read\"] }"})),
    )
    .await?;
    // The max TTL equal to the TTL: a token cannot be renewed past it, so each lifetime ends
    // in a new login.
    let ttl = format!("{}s", token_ttl.as_secs().max(1));
    bao.call(
        Method::POST,
        "auth/approle/role/bench",
        Some(root),
        Some(json!({"token_policies": ["bench-read"], "token_ttl": ttl, "token_max_ttl": ttl})),
    )
    .await?;
    let role_id = bao
        .call(
            Method::GET,
            "auth/approle/role/bench/role-id",
            Some(root),
            None,
        )
        .await?["data"]["role_id"]
        .as_str()
        .map(str::to_owned)
        .context("no role_id")?;
    let secret_id = bao
        .call(
            Method::POST,
            "auth/approle/role/bench/secret-id",
            Some(root),
            None,
        )
        .await?["data"]["secret_id"]
        .as_str()
        .map(str::to_owned)
        .context("no secret_id")?;
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| async move {
            bao.call(
                Method::POST,
                &format!("secret/data/bench/{i}"),
                Some(root),
                Some(json!({"data": {"username": username(i), setup::CHANGING_KEY: PASSWORD}})),
            )
            .await
            .map(drop)
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    tracing::info!(n, took = ?started.elapsed(), "KV v2 secrets written");
    Ok(Role { role_id, secret_id })
}

/// The ClusterSecretStore (AppRole login, secret ID in a Secret) and that Secret, applied so
/// that a cluster holding them from an earlier run gets this run's server and credentials.
async fn store(client: &kube::Client, addr: &str, role: &Role) -> anyhow::Result<()> {
    setup::namespace(client, setup::READER_NAMESPACE).await?;
    let apply = PatchParams::apply("esox-bench").force();
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": APPROLE_SECRET, "namespace": setup::READER_NAMESPACE},
        "stringData": {SECRET_ID_KEY: role.secret_id}});
    Api::<Secret>::namespaced(client.clone(), setup::READER_NAMESPACE)
        .patch(APPROLE_SECRET, &apply, &Patch::Apply(&secret))
        .await
        .context("applying the AppRole Secret")?;
    let store = json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": STORE},
        "spec": {"provider": {"vault": {
            "server": addr, "path": "secret", "version": "v2",
            "auth": {"appRole": {"path": "approle", "roleId": role.role_id,
                "secretRef": {"name": APPROLE_SECRET, "key": SECRET_ID_KEY,
                              "namespace": setup::READER_NAMESPACE}}}}}}});
    Api::<ClusterSecretStore>::all(client.clone())
        .patch(STORE, &apply, &Patch::Apply(&store))
        .await
        .context("applying the ClusterSecretStore")?;
    Ok(())
}

fn external_secret_body(name: &str, i: usize) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": format!("{name}-{i}")},
        "spec": {"refreshInterval": "1h",
                 "secretStoreRef": {"name": STORE, "kind": "ClusterSecretStore"},
                 "target": {"name": format!("{name}-{i}-target")},
                 "dataFrom": [{"extract": {"key": format!("bench/{i}")}}]}})
}

/// Targets `{name}-{i}-target` whose `username` is not the one of `secret/bench/<i>` (the
/// tracker only compares the key every secret shares).
async fn wrong_targets(client: &kube::Client, name: &str, n: usize) -> anyhow::Result<usize> {
    let params =
        kube::api::ListParams::default().labels(&format!("{}=true", tracker::MANAGED_LABEL));
    let right: HashMap<String, bool> = Api::<Secret>::all(client.clone())
        .list(&params)
        .await?
        .items
        .into_iter()
        .filter_map(|s| {
            let target = s.metadata.name?;
            let i: usize = target
                .strip_prefix(&format!("{name}-"))?
                .strip_suffix("-target")?
                .parse()
                .ok()?;
            let user = s.data.as_ref()?.get("username")?.0.clone();
            Some((target, user == username(i).into_bytes()))
        })
        .collect();
    Ok(n - right.values().filter(|ok| **ok).count().min(n))
}

pub async fn run(args: &Args, n: usize) -> anyhow::Result<VaultResult> {
    let load_start = loadavg();
    let namespaces = args.namespaces.min(n).max(1);
    let dir = measure::run_dir("vault", n)?;

    let server = tokio::task::spawn_blocking(OpenBao::start).await??;
    let bao = Bao::new(server.addr());
    let role = prepare_vault(
        &bao,
        server.root_token(),
        n,
        args.concurrency,
        args.vault_token_ttl,
    )
    .await?;

    let cluster = Cluster::start(args, &dir).await?;
    let kubeconfig = cluster.kubeconfig(&dir);
    let client = cluster.client().await?;
    if cluster.is_shared() {
        setup::delete_namespaces(&client, &[ES_PREFIX], Duration::from_secs(600)).await?;
    }
    setup::install_crds(&client).await?;
    store(&client, server.addr(), &role).await?;
    setup::namespaces(&client, ES_PREFIX, namespaces, args.concurrency).await?;
    setup::unrelated_namespaces(&client, setup::UNRELATED_PREFIX, args.concurrency).await?;
    setup::unrelated(
        &client,
        args.concurrency,
        setup::UNRELATED_PREFIX,
        "unrelated",
        args.unrelated,
    )
    .await?;

    let tracker = Tracker::new(setup::CHANGING_KEY, PASSWORD.as_bytes());
    let watches = tracker::Watches(vec![
        tracker.watch_ready(Api::<ExternalSecret>::all(client.clone())),
        tracker.watch_targets(
            Api::<Secret>::all(client.clone()),
            tracker::managed_secrets(),
            "",
        ),
    ]);
    let backend = cluster.describe().await;
    // A real server has clients of its own: count what it receives without esox over a window
    // as long as the steady one, to read the steady figure against.
    let steady_background = if cluster.is_real() {
        let before = cluster.request_counts().await?;
        tokio::time::sleep(args.window).await;
        Some(requests_since(&cluster, before).await?)
    } else {
        None
    };

    let log = dir.join("esox.log");
    let spawned = Instant::now();
    let mut esox = Monitored::spawn(&args.esox_bin(), &kubeconfig, &log, &args.esox_log)?;
    let stores = Api::<ClusterSecretStore>::all(client.clone());
    if let Err(e) = setup::wait_ready(&stores, STORE, Duration::from_secs(30)).await {
        // Its condition says why (server unreachable, login refused); it holds no secret.
        let why = stores
            .get(STORE)
            .await
            .ok()
            .and_then(|s| s.status)
            .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.message.unwrap_or_default())
            .unwrap_or_default();
        return Err(e.context(format!(
            "store condition: {why}; esox log {}",
            log.display()
        )));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = esox.memory()?;
    let store_calls = esox.process.vault_calls()?;

    let ramp0 = cluster.request_counts().await?;
    let started = Instant::now();
    let es_create = setup::create_many::<ExternalSecret>(&client, n, args.concurrency, |i| {
        (
            setup::namespace_of(ES_PREFIX, i, namespaces),
            external_secret_body("vault", i),
        )
    })
    .await?;
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
            log.display()
        );
    }
    let (ramp_reads, ramp_writes) = requests_since(&cluster, ramp0).await?;
    let ready_calls = esox.process.vault_calls()?;
    let peak = esox.memory()?;
    let wrong = wrong_targets(&client, "vault", n).await?;
    if wrong > 0 {
        bail!("{wrong} of {n} targets do not hold their own secret's username");
    }
    tracing::info!(
        ?all_ready,
        ?es_create,
        ?ready_calls,
        "all ExternalSecrets Ready"
    );

    // The quiet window: nothing changes, no refresh is due (refreshInterval 1h).
    tokio::time::sleep(args.settle).await;
    let window_start = tokio::time::Instant::now();
    let vault0 = esox.process.vault_calls()?;
    let api0 = cluster.request_counts().await?;
    tokio::time::sleep(args.window).await;
    let steady_vault = esox.process.vault_calls()?.since(vault0);
    let (steady_reads, steady_writes) = requests_since(&cluster, api0).await?;
    let steady_rss_kib = esox
        .sampler
        .mean_rss_since(window_start)
        .context("no memory samples in the steady window")?;
    esox.process.check_alive()?;

    // Every ExternalSecret refreshed at once after the quiet window (with a short
    // --vault-token-ttl, after the token expired): what N refreshes cost in logins.
    let refresh0 = esox.process.vault_calls()?;
    let refresh_started = Instant::now();
    // The first token was made when the store was validated, just after esox started.
    let refresh_after_expiry = spawned.elapsed() > args.vault_token_ttl;
    let force = json!({"metadata": {"annotations": {"external-secrets.io/force-sync": "1"}}});
    futures::stream::iter(0..n)
        .map(|i| {
            let api = Api::<ExternalSecret>::namespaced(
                client.clone(),
                &setup::namespace_of(ES_PREFIX, i, namespaces),
            );
            let force = &force;
            async move {
                api.patch(
                    &format!("vault-{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(force),
                )
                .await
                .map(drop)
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .try_collect::<()>()
        .await?;
    // esox's own counter tells when all N have read again; polling it loads neither server.
    let refresh_calls = loop {
        let calls = esox.process.vault_calls()?.since(refresh0);
        if calls.reads >= n as u64 {
            break calls;
        }
        if refresh_started.elapsed() > args.timeout {
            bail!("force-sync: only {} of {n} KV reads", calls.reads);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let refresh_time = refresh_started.elapsed();
    tracing::info!(
        ?refresh_time,
        ?refresh_calls,
        "force-sync of every ExternalSecret"
    );
    let end_calls = esox.process.vault_calls()?;
    let esox_lifetime = spawned.elapsed();
    tracing::info!(?steady_vault, steady_reads, steady_writes, "steady state");
    esox.stop()?;

    // The floor, esox stopped: the benchmark creates N more ExternalSecrets as above and, for
    // each as soon as its create returns, reads its KV secret and sends ESO's writes, as many
    // at once as esox reconciles. Its one login is made before the clock starts.
    let token = bao.login(&role.role_id, &role.secret_id).await?;
    let target_like = json!({"username": b64("user-0"), setup::CHANGING_KEY: b64(PASSWORD)});
    let floor = setup::create_read_then_eso_writes(
        &client,
        &setup::Floor {
            prefix: ES_PREFIX,
            namespaces,
            name: "floor",
            count: n,
            create_concurrency: args.concurrency,
            concurrency: args.floor_concurrency,
        },
        |i| external_secret_body("floor", i),
        |i| {
            let (bao, token) = (&bao, &token);
            async move { bao.read(token, i).await }
        },
        &target_like,
    )
    .await?;
    tracing::info!(?floor, "floor: KV reads and ESO's writes sent directly");

    drop(watches);
    if cluster.is_shared() {
        setup::delete_namespaces(&client, &[ES_PREFIX], Duration::from_secs(600)).await?;
    }
    cluster.shutdown();
    drop(server);

    Ok(VaultResult {
        n,
        backend,
        unrelated: args.unrelated,
        es_create,
        all_ready,
        floor,
        floor_concurrency: args.floor_concurrency,
        store_calls,
        ready_calls,
        end_calls,
        esox_lifetime,
        refresh_calls,
        refresh_time,
        refresh_after_expiry,
        token_ttl: args.vault_token_ttl,
        ramp_reads,
        ramp_writes: ramp_writes.saturating_sub(n as u64),
        steady_window: args.window,
        steady_vault,
        steady_reads,
        steady_writes,
        steady_background,
        idle_rss_kib: idle.rss_kib,
        peak_hwm_kib: peak.hwm_kib,
        steady_rss_kib,
        load: (load_start, loadavg()),
    })
}
