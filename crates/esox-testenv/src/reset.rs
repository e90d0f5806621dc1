//! Clearing a real cluster between tests, so that each test finds it as `control-plane up` left
//! it (with esox's CRDs installed).

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use crate::Error;

/// Namespaces the API server makes itself; everything else is a test's.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

fn reset_err(what: &str, e: kube::Error) -> Error {
    Error::Reset(format!("{what}: {e}"))
}

/// Removes esox's objects (their finalizers first: no esox runs between tests to release them),
/// the tests' namespaces and what tests put in `default`, and cluster-wide RBAC that is not
/// Kubernetes' own; waits until the namespaces are gone so the next test can make them again.
pub async fn clear(client: &Client) -> Result<(), Error> {
    for crd in esox_api::crd::all(&Default::default()) {
        let Some(version) = crd.spec.versions.iter().find(|v| v.storage) else {
            continue;
        };
        let ar = ApiResource {
            group: crd.spec.group.clone(),
            version: version.name.clone(),
            api_version: format!("{}/{}", crd.spec.group, version.name),
            kind: crd.spec.names.kind.clone(),
            plural: crd.spec.names.plural.clone(),
        };
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let objects = match all.list(&ListParams::default()).await {
            Ok(list) => list.items,
            // Not installed yet on a fresh cluster.
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(reset_err(&format!("listing {}", ar.plural), e)),
        };
        for obj in objects {
            let api: Api<DynamicObject> = match obj.namespace() {
                Some(ns) => Api::namespaced_with(client.clone(), &ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            let name = obj.name_any();
            if !obj.finalizers().is_empty() {
                let patch = serde_json::json!({"metadata": {"finalizers": null}});
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => continue,
                    Err(e) => return Err(reset_err(&format!("releasing {name}"), e)),
                }
            }
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(reset_err(&format!("deleting {name}"), e)),
            }
        }
    }

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut deleted = BTreeSet::new();
    for ns in namespaces
        .list(&ListParams::default())
        .await
        .map_err(|e| reset_err("listing namespaces", e))?
    {
        let name = ns.name_any();
        if SYSTEM_NAMESPACES.contains(&name.as_str()) {
            continue;
        }
        remove_namespace(client, &name).await?;
        deleted.insert(name);
    }
    clear_default(client).await?;

    let not_kubernetes = ListParams::default().labels("!kubernetes.io/bootstrapping");
    let dp = DeleteParams::background();
    Api::<ClusterRoleBinding>::all(client.clone())
        .delete_collection(&dp, &not_kubernetes)
        .await
        .map_err(|e| reset_err("deleting ClusterRoleBindings", e))?;
    Api::<ClusterRole>::all(client.clone())
        .delete_collection(&dp, &not_kubernetes)
        .await
        .map_err(|e| reset_err("deleting ClusterRoles", e))?;

    // Finalizing removes them at once; wait until the API server no longer lists them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let left: Vec<String> = namespaces
            .list(&ListParams::default())
            .await
            .map_err(|e| reset_err("listing namespaces", e))?
            .into_iter()
            .map(|n| n.name_any())
            .filter(|n| deleted.contains(n))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Reset(format!(
                "namespaces {left:?} still terminating after 90 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deletes a test's namespace without waiting for the namespace controller (about 5 s each):
/// empties it of every kind the tests make, then finalizes it, which the controller would do
/// after the same emptying.
async fn remove_namespace(client: &Client, name: &str) -> Result<(), Error> {
    empty_namespace(client, name, true).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(reset_err(&format!("deleting namespace {name}"), e)),
    }
    let finalized = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "spec": {"finalizers": []},
    });
    match namespaces
        .replace_subresource("finalize", name, &Default::default(), &finalized)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(reset_err(&format!("finalizing namespace {name}"), e)),
    }
}

/// Deletes what tests put into a namespace; `all` also takes what Kubernetes made there (the
/// `default` ServiceAccount and `kube-root-ca.crt`), for a namespace about to go.
async fn empty_namespace(client: &Client, ns: &str, all: bool) -> Result<(), Error> {
    let dp = DeleteParams::background();
    let everything = ListParams::default();
    let (configmaps, accounts) = if all {
        (everything.clone(), everything.clone())
    } else {
        (
            ListParams::default().fields("metadata.name!=kube-root-ca.crt"),
            ListParams::default().fields("metadata.name!=default"),
        )
    };
    let err = |what: &str, e| reset_err(&format!("deleting {what} in {ns}"), e);
    Api::<Secret>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &everything)
        .await
        .map_err(|e| err("Secrets", e))?;
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &configmaps)
        .await
        .map_err(|e| err("ConfigMaps", e))?;
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &accounts)
        .await
        .map_err(|e| err("ServiceAccounts", e))?;
    Api::<Role>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &everything)
        .await
        .map_err(|e| err("Roles", e))?;
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &everything)
        .await
        .map_err(|e| err("RoleBindings", e))?;
    Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &everything)
        .await
        .map_err(|e| err("Leases", e))?;
    Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), ns)
        .delete_collection(&dp, &everything)
        .await
        .map_err(|e| err("Events", e))?;
    Ok(())
}

/// Waits until the controller manager publishes `kube-root-ca.crt` into a new namespace.
pub async fn wait_for_controller_manager(client: &Client) -> Result<(), Error> {
    let probe = "esox-test-probe";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": probe}}))
        .map_err(|e| Error::Reset(e.to_string()))?;
    match namespaces.create(&Default::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(reset_err("creating the probe namespace", e)),
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), probe);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if configmaps
            .get_opt("kube-root-ca.crt")
            .await
            .map_err(|e| reset_err("reading the probe's kube-root-ca.crt", e))?
            .is_some()
        {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Reset(
                "the controller manager published no kube-root-ca.crt within 120 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    remove_namespace(client, probe).await
}

/// What tests may have put into `default`, which cannot be deleted.
async fn clear_default(client: &Client) -> Result<(), Error> {
    empty_namespace(client, "default", false).await
}
