//! Whether the cluster serves the resources esox watches. Without its CRDs every watch of
//! `esox run` fails with the API server's bare "404 page not found", forever; this check names
//! what is missing and how to install it instead.
//!
//! It asks API discovery (`/apis/<group>/<version>`), which every authenticated client may
//! read, rather than the CustomResourceDefinitions themselves, which esox's RBAC need not allow.

use std::collections::{BTreeMap, BTreeSet};

/// How to install the CRDs, for messages.
pub const INSTALL_HINT: &str = "install them with `esox crds | kubectl apply --server-side -f -` (or `kubectl apply --server-side -f deploy/crds/bundle.yaml` from a checkout)";

/// Names (`<plural>.<group>`) of esox's CRDs whose storage version the cluster does not serve.
pub async fn missing(client: &kube::Client) -> Result<Vec<String>, kube::Error> {
    let mut wanted: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for crd in esox_api::crd::all(&Default::default()) {
        let Some(version) = crd.spec.versions.iter().find(|v| v.storage) else {
            continue;
        };
        wanted
            .entry(format!("{}/{}", crd.spec.group, version.name))
            .or_default()
            .push((
                crd.spec.names.plural.clone(),
                crd.metadata.name.clone().unwrap_or_default(),
            ));
    }
    let mut out = Vec::new();
    for (group_version, crds) in wanted {
        let served: BTreeSet<String> = match client.list_api_group_resources(&group_version).await {
            Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
            // The whole group/version is unknown: none of its CRDs is installed.
            Err(kube::Error::Api(s)) if s.code == 404 => BTreeSet::new(),
            Err(e) => return Err(e),
        };
        out.extend(
            crds.into_iter()
                .filter(|(plural, _)| !served.contains(plural))
                .map(|(_, name)| name),
        );
    }
    Ok(out)
}

/// The message for `missing` CRDs.
pub fn message(missing: &[String]) -> String {
    format!(
        "esox's CRDs are not installed in this cluster (missing: {}): {INSTALL_HINT}; the controllers start once they are served, and /readyz answers 503 until then",
        missing.join(", ")
    )
}

/// Waits until every CRD is served, saying what is missing (at once, then each minute while
/// it still is). Returns early with `false` when `stop` resolves first.
pub async fn wait_until_installed(
    client: &kube::Client,
    stop: impl std::future::Future<Output = ()>,
) -> bool {
    const POLL: std::time::Duration = std::time::Duration::from_secs(2);
    const REPEAT_EVERY: u32 = 30;
    let mut stop = std::pin::pin!(stop);
    let mut round: u32 = 0;
    loop {
        match missing(client).await {
            Ok(m) if m.is_empty() => {
                if round > 0 {
                    tracing::info!("esox's CRDs are installed now; starting the controllers");
                }
                return true;
            }
            Ok(m) => {
                if round.is_multiple_of(REPEAT_EVERY) {
                    tracing::error!("{}", message(&m));
                }
            }
            Err(e) => {
                if round.is_multiple_of(REPEAT_EVERY) {
                    tracing::warn!(error = %e, "could not check whether esox's CRDs are installed; checking again");
                }
            }
        }
        round = round.wrapping_add(1);
        tokio::select! {
            _ = &mut stop => return false,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::Api;
    use kube::api::PostParams;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn names_every_missing_crd_until_they_are_installed() {
        let cluster = esox_testcluster::TestCluster::start(Default::default())
            .await
            .expect("test cluster");
        let client = cluster.client().await.expect("client");
        let all = esox_api::crd::all(&Default::default());
        let missing_now = missing(&client).await.expect("discovery answers");
        assert_eq!(missing_now.len(), all.len(), "{missing_now:?}");
        assert!(missing_now.contains(&"externalsecrets.external-secrets.io".to_owned()));
        let text = message(&missing_now);
        assert!(
            text.contains("esox crds | kubectl apply --server-side -f -"),
            "{text}"
        );

        // One CRD installed: only the others are named.
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let es = all
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some("externalsecrets.external-secrets.io"))
            .expect("ExternalSecret CRD")
            .clone();
        api.create(&PostParams::default(), &es)
            .await
            .expect("created");
        let mut left = Vec::new();
        for _ in 0..100 {
            left = missing(&client).await.expect("discovery answers");
            if left.len() == all.len() - 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(left.len(), all.len() - 1, "{left:?}");
        assert!(!left.contains(&"externalsecrets.external-secrets.io".to_owned()));

        // All of them: the wait returns.
        for crd in all
            .into_iter()
            .filter(|c| c.metadata.name != es.metadata.name)
        {
            api.create(&PostParams::default(), &crd)
                .await
                .expect("created");
        }
        let done = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            wait_until_installed(&client, std::future::pending()),
        )
        .await
        .expect("the wait ends once every CRD is served");
        assert!(done);
    }
}
