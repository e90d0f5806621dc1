//! One object esox cannot decode (as ESO's CRDs allow during a migration: a field of a newer
//! ESO) is reported and skipped; the other objects of its kind keep flowing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use common::{apply, fake_store, wait_until};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;

/// esox's CRDs, but the SecretStore schema keeps anything under `spec.provider.vault` and the
/// ExternalSecret schema anything in `spec.refreshPolicy` (as a CRD of another ESO version
/// would keep fields and values esox does not know).
async fn install_crds_keeping_unknown_vault_fields(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in esox_api::crd::all(&Default::default()) {
        let mut value = serde_json::to_value(&crd).unwrap();
        if crd.metadata.name.as_deref() == Some("secretstores.external-secrets.io") {
            for version in value["spec"]["versions"].as_array_mut().unwrap() {
                let vault = version
                    .pointer_mut(
                        "/schema/openAPIV3Schema/properties/spec/properties/provider/properties/vault",
                    )
                    .expect("vault block in the schema");
                *vault = serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
            }
        }
        if crd.metadata.name.as_deref() == Some("externalsecrets.external-secrets.io") {
            for version in value["spec"]["versions"].as_array_mut().unwrap() {
                let policy = version
                    .pointer_mut("/schema/openAPIV3Schema/properties/spec/properties/refreshPolicy")
                    .expect("refreshPolicy in the schema");
                *policy = serde_json::json!({"x-kubernetes-preserve-unknown-fields": true});
            }
        }
        let crd: CustomResourceDefinition = serde_json::from_value(value).unwrap();
        api.create(&PostParams::default(), &crd).await.expect("CRD");
    }
    for crd in esox_api::crd::all(&Default::default()) {
        let name = crd.metadata.name.clone().unwrap();
        let established = wait_until(Duration::from_secs(10), || async {
            api.get(&name)
                .await
                .ok()?
                .status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        })
        .await;
        assert!(established.is_some(), "{name} established");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_esox_cannot_decode_is_reported_and_the_others_keep_working() {
    let cluster = esox_testcluster::TestCluster::start(Default::default())
        .await
        .unwrap();
    let client = cluster.client().await.unwrap();
    install_crds_keeping_unknown_vault_fields(&client).await;
    // The undecodable store exists before esox starts (its first list must survive it).
    apply(
        &client,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: newer, namespace: app}\nspec:\n  provider:\n    vault: {server: \"https://vault.example\", fieldOfANewerEso: true}\n",
    )
    .await;
    apply(
        &client,
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: odd, namespace: app}\nspec:\n  refreshPolicy: {aModeOfANewerEso: true}\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
    )
    .await;
    let options = esox_controller::Options::default();
    assert!(
        options.flood_gate,
        "the flood gate is on: stores must be Ready"
    );
    let (ctx, shutdown, _task) = esox_controller::runner::start(
        client.clone(),
        options,
        esox_providers::LocalCluster {
            url: cluster.url(),
            ca_pem: Some(cluster.ca_pem().as_bytes().to_vec()),
        },
    );
    apply(&client, &fake_store("app", &[("k", "v")])).await;
    apply(
        &client,
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: e, namespace: app}\nspec:\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
    )
    .await;

    // The others flow: the good store is validated and its ExternalSecret syncs.
    let ready = common::es_ready_where(&client, "app", "e", |c| c.status == "True").await;
    assert!(
        ready.is_some(),
        "the ExternalSecret of the good store syncs"
    );

    // The bad one is reported on itself and counted.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "app");
    let note_on = |kind: &'static str, name: &'static str| {
        let events = events.clone();
        async move {
            wait_until(Duration::from_secs(10), || async {
                events
                    .list(&Default::default())
                    .await
                    .ok()?
                    .items
                    .into_iter()
                    .find_map(|e| {
                        let regarding = e.regarding.clone()?;
                        (e.reason.as_deref() == Some("DecodeFailed")
                            && e.type_.as_deref() == Some("Warning")
                            && regarding.name.as_deref() == Some(name)
                            && regarding.kind.as_deref() == Some(kind))
                        .then(|| e.note.unwrap_or_default())
                    })
            })
            .await
        }
    };
    let note = note_on("SecretStore", "newer")
        .await
        .expect("a Warning event on the store esox cannot decode");
    assert!(note.contains("fieldOfANewerEso"), "{note}");
    let note = note_on("ExternalSecret", "odd")
        .await
        .expect("a Warning event on the ExternalSecret esox cannot decode");
    assert!(note.contains("aModeOfANewerEso"), "{note}");
    let metrics = ctx.metrics.render();
    for kind in ["SecretStore", "ExternalSecret"] {
        assert!(
            metrics.contains(&format!(
                "esox_undecodable_objects_total{{kind=\"{kind}\"}} 1"
            )),
            "{metrics}"
        );
    }
    shutdown.trigger();
}
