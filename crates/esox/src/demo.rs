//! `esox demo`: the seed's two scenarios on two in-memory clusters, with nothing to set up.
//!
//! 1. Namespace sync in the "platform" cluster: a ClusterSecretStore with the Kubernetes provider
//!    reads namespace `foo`; an ExternalSecret copies `my-secret` into `bar`.
//! 2. Push to the "dev" cluster: the dev cluster gets a ServiceAccount, Role, RoleBinding and an
//!    `eso-token` token Secret; the token is copied into the platform cluster; a SecretStore and a
//!    PushSecret push `my-secret` there.
//!
//! Both use the seed's manifests unchanged (only the dev URL is filled in, as the seed says).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use esox_testcluster::TestCluster;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

const SEED_1: &str =
    include_str!("../../../testdata/seed/1-namespace-sync-clustersecretstore.yaml");
const SEED_2: &str = include_str!("../../../testdata/seed/2-namespace-sync-externalsecret.yaml");
const SEED_3: &str = include_str!("../../../testdata/seed/3-cross-cluster-dev.yaml");
const SEED_4: &str = include_str!("../../../testdata/seed/4-cross-cluster-platform.yaml");

/// What the platform team has before the seed's first manifest (namespaces, the ServiceAccount
/// the ClusterSecretStore names and its right to read `foo`), and the Secret to share.
const PLATFORM_SETUP: &str = include_str!("../../../testdata/seed/0-platform-prerequisites.yaml");
const SOURCE: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: my-secret, namespace: foo}
stringData: {username: harbor-admin, password: initial-password}
"#;

pub async fn run(keep: bool) -> anyhow::Result<bool> {
    let started = Instant::now();
    let dir = demo_dir(keep)?;
    say("Starting two in-memory Kubernetes API servers: \"platform\" and \"dev\".");
    let platform = TestCluster::start(Default::default())
        .await
        .context("starting the platform cluster")?;
    let dev = TestCluster::start(Default::default())
        .await
        .context("starting the dev cluster")?;
    let platform_kc = dir.join("platform.kubeconfig");
    let dev_kc = dir.join("dev.kubeconfig");
    platform.write_kubeconfig(&platform_kc)?;
    dev.write_kubeconfig(&dev_kc)?;
    let pc = platform.client().await?;
    let dc = dev.client().await?;

    say(
        "Installing esox's CRDs in the platform cluster (what `esox crds | kubectl apply --server-side -f -` does).",
    );
    install_crds(&pc).await?;

    say("\nScenario 1: copy foo/my-secret into namespace bar of the same cluster.");
    apply(&pc, PLATFORM_SETUP, None).await?;
    apply(&pc, SOURCE, None).await?;
    apply(&pc, SEED_1, None).await?;
    apply(&pc, SEED_2, None).await?;
    say(
        "  applied seed manifests 1 (ClusterSecretStore foo-secret-store) and 2 (ExternalSecret bar/pull-my-secret).",
    );

    say("\nScenario 2: push foo/my-secret from the platform cluster to the dev cluster.");
    apply(
        &dc,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: foo}\n",
        None,
    )
    .await?;
    apply(&dc, SEED_3, None).await?;
    say(
        "  dev: applied seed manifest 3 (ServiceAccount, Role, RoleBinding, token Secret eso-token).",
    );
    let token = wait_for(Duration::from_secs(10), || {
        let api: Api<Secret> = Api::namespaced(dc.clone(), "foo");
        async move {
            api.get("eso-token")
                .await
                .ok()
                .filter(|s| s.data.as_ref().is_some_and(|d| d.contains_key("token")))
        }
    })
    .await
    .context("the dev cluster never filled the eso-token Secret")?;
    let mut copy = Secret {
        type_: Some("Opaque".to_owned()),
        data: token.data.clone(),
        ..Default::default()
    };
    copy.metadata.name = Some("eso-token".to_owned());
    copy.metadata.namespace = Some("foo".to_owned());
    Api::<Secret>::namespaced(pc.clone(), "foo")
        .create(&PostParams::default(), &copy)
        .await?;
    say("  platform: copied dev's eso-token (token and ca.crt) into foo as an Opaque Secret.");
    let dev_host = dev.url().trim_start_matches("https://").to_owned();
    let dev_host = dev_host
        .rsplit_once(':')
        .map_or(dev_host.as_str(), |(h, _)| h)
        .to_owned();
    let port = dev.addr().port();
    let seed4 = SEED_4.replace("<url du cluster dev>:6443", &format!("{dev_host}:{port}"));
    apply(&pc, &seed4, Some("foo")).await?;
    say(&format!(
        "  platform: applied seed manifest 4 with the dev URL https://{dev_host}:{port} (SecretStore, PushSecret)."
    ));

    say("\nStarting the esox controllers against the platform cluster.");
    let local = crate::run::local_cluster(
        &kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&platform_kc)?,
            &Default::default(),
        )
        .await?,
    );
    let (_ctx, shutdown, task) =
        esox_controller::runner::start(pc.clone(), Default::default(), local);

    let bar: Api<Secret> = Api::namespaced(pc.clone(), "bar");
    let remote: Api<Secret> = Api::namespaced(dc.clone(), "foo");
    let want = "initial-password";
    let mut ok = true;
    for (label, api) in [
        ("platform bar/my-secret", &bar),
        ("dev foo/my-secret", &remote),
    ] {
        let t = Instant::now();
        match wait_value(api, "password", want, Duration::from_secs(10)).await {
            Some(s) => say(&format!(
                "  {label}: synced after {} ms, keys {:?}",
                t.elapsed().as_millis(),
                keys(&s)
            )),
            None => {
                say(&format!("  {label}: NOT synced after 10 s"));
                ok = false;
            }
        }
    }

    say(
        "\nChanging the source: foo/my-secret password := rotated-password (refreshInterval is 1h in both manifests).",
    );
    let t = Instant::now();
    let patch = serde_json::json!({"stringData": {"password": "rotated-password"}});
    Api::<Secret>::namespaced(pc.clone(), "foo")
        .patch("my-secret", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    for (label, api) in [
        ("platform bar/my-secret", &bar),
        ("dev foo/my-secret", &remote),
    ] {
        match wait_value(api, "password", "rotated-password", Duration::from_secs(10)).await {
            Some(_) => say(&format!(
                "  {label}: change arrived after {} ms",
                t.elapsed().as_millis()
            )),
            None => {
                say(&format!("  {label}: change did NOT arrive within 10 s"));
                ok = false;
            }
        }
    }

    say(&format!(
        "\n{} in {:.1} s.",
        if ok {
            "Everything arrived"
        } else {
            "Something did not arrive"
        },
        started.elapsed().as_secs_f64()
    ));
    if keep {
        say(&format!(
            "\nBoth clusters keep running; explore them with kubectl:\n  kubectl --kubeconfig {} get es,css,ps,secrets -A\n  kubectl --kubeconfig {} get secrets -n foo\nPress Ctrl-C to stop.",
            platform_kc.display(),
            dev_kc.display()
        ));
        tokio::signal::ctrl_c().await?;
    }
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    platform.shutdown();
    dev.shutdown();
    Ok(ok)
}

fn say(line: &str) {
    println!("{line}");
}

fn keys(s: &Secret) -> Vec<&String> {
    s.data.iter().flat_map(BTreeMap::keys).collect()
}

fn demo_dir(keep: bool) -> anyhow::Result<PathBuf> {
    let dir = if keep {
        std::env::current_dir()?.join("esox-demo")
    } else {
        std::env::temp_dir().join(format!("esox-demo-{}", std::process::id()))
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let crds = esox_api::crd::all(&Default::default());
    for crd in &crds {
        api.patch(
            crd.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::apply("esox-demo").force(),
            &Patch::Apply(crd),
        )
        .await?;
    }
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let api = api.clone();
        wait_for(Duration::from_secs(10), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let c = api.get(&name).await.ok()?;
                c.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await
        .with_context(|| format!("CRD {name} never became Established"))?;
    }
    Ok(())
}

/// Server-side applies every document, as `kubectl apply --server-side [-n namespace]`.
async fn apply(client: &Client, yaml: &str, namespace: Option<&str>) -> anyhow::Result<()> {
    Ok(esox_testcluster::apply_yaml(client, yaml, namespace, "esox-demo").await?)
}

async fn wait_value(
    api: &Api<Secret>,
    key: &str,
    value: &str,
    timeout: Duration,
) -> Option<Secret> {
    wait_for(timeout, || {
        let api = api.clone();
        async move {
            let s = api.get("my-secret").await.ok()?;
            (s.data.as_ref()?.get(key) == Some(&ByteString(value.as_bytes().to_vec()))).then_some(s)
        }
    })
    .await
}

async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
