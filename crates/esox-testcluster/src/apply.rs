//! Applying YAML manifests to a cluster the way `kubectl apply --server-side [-n NS]` does, for
//! tests and the demo that drive test clusters.

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Api, Client};

/// Why a manifest could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("document {0} has no apiVersion, kind or metadata.name")]
    Incomplete(usize),
    #[error("{kind} {name}: {source}")]
    Kube {
        kind: String,
        name: String,
        source: kube::Error,
    },
}

/// Server-side applies every document of `yaml` with field manager `manager`. A namespaced object
/// goes to its own namespace, else `namespace`, else `default`.
pub async fn apply_yaml(
    client: &Client,
    yaml: &str,
    namespace: Option<&str>,
    manager: &str,
) -> Result<(), ApplyError> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| ApplyError::Yaml(e.to_string()))?;
    for (i, doc) in docs.into_iter().enumerate().filter(|(_, d)| !d.is_null()) {
        let obj: DynamicObject =
            serde_json::from_value(doc).map_err(|_| ApplyError::Incomplete(i + 1))?;
        let (Some(types), Some(name)) = (obj.types.clone(), obj.metadata.name.clone()) else {
            return Err(ApplyError::Incomplete(i + 1));
        };
        let kube_err = |source| ApplyError::Kube {
            kind: types.kind.clone(),
            name: name.clone(),
            source,
        };
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", &types.api_version));
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        let (ar, caps) = discovery::pinned_kind(client, &gvk)
            .await
            .map_err(kube_err)?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj
                    .metadata
                    .namespace
                    .as_deref()
                    .or(namespace)
                    .unwrap_or("default");
                Api::namespaced_with(client.clone(), ns, &ar)
            }
            Scope::Cluster => Api::all_with(client.clone(), &ar),
        };
        api.patch(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&obj),
        )
        .await
        .map_err(kube_err)?;
    }
    Ok(())
}
