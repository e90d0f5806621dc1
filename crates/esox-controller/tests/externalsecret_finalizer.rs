//! esox puts its finalizer only on ExternalSecrets it serves, and only when their deletion has
//! work to do (deletionPolicy Delete): an ExternalSecret of another controller class, or one
//! whose deletion needs nothing from esox, can always be deleted, even with esox stopped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use common::{Env, apply, fake_store};
use esox_api::v1::ExternalSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};

const FINALIZER: &str = "externalsecrets.external-secrets.io/externalsecret-cleanup";

fn es(name: &str, store: &str, deletion_policy: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  secretStoreRef: {{name: {store}}}\n  target: {{deletionPolicy: {deletion_policy}}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n"
    )
}

fn has_finalizer(es: &ExternalSecret) -> bool {
    es.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finalizer_goes_only_on_our_external_secrets_whose_deletion_has_work() {
    let env = Env::start().await;
    let c = &env.client;
    apply(c, &fake_store("app", &[("k", "v")])).await;
    apply(
        c,
        "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: theirs, namespace: app}\nspec:\n  controller: someone-else\n  provider:\n    fake: {data: [{key: k, value: v}]}\n",
    )
    .await;
    // Another controller's ExternalSecret first, then ours: once ours are handled, theirs has
    // been seen too.
    apply(c, &es("foreign", "theirs", "Delete")).await;
    apply(c, &es("retain", "fake", "Retain")).await;
    apply(c, &es("delete", "fake", "Delete")).await;
    let api: Api<ExternalSecret> = env.api("app");

    // Positive control: the ExternalSecret whose deletion deletes its target gets the finalizer.
    let finalized = common::wait_until(Duration::from_secs(10), || async {
        api.get("delete").await.ok().filter(has_finalizer)
    })
    .await;
    assert!(
        finalized.is_some(),
        "deletionPolicy Delete gets the finalizer"
    );
    env.es_ready("app", "retain", "True")
        .await
        .expect("ours is synced");
    assert!(env.secret_where("app", "retain", |_| true).await.is_some());

    assert!(
        !has_finalizer(&api.get("retain").await.unwrap()),
        "Retain: the deletion has nothing for esox to do"
    );
    let foreign = api.get("foreign").await.unwrap();
    assert!(
        !has_finalizer(&foreign),
        "another controller class's object"
    );
    assert!(foreign.status.is_none(), "and left alone entirely");

    // Switching to Retain drops the finalizer; to Delete adds it.
    let to = |policy: &str| serde_json::json!({"spec": {"target": {"deletionPolicy": policy}}});
    api.patch(
        "delete",
        &PatchParams::default(),
        &Patch::Merge(&to("Retain")),
    )
    .await
    .unwrap();
    api.patch(
        "retain",
        &PatchParams::default(),
        &Patch::Merge(&to("Delete")),
    )
    .await
    .unwrap();
    let swapped = common::wait_until(Duration::from_secs(10), || async {
        let d = api.get("delete").await.ok()?;
        let r = api.get("retain").await.ok()?;
        (!has_finalizer(&d) && has_finalizer(&r)).then_some(())
    })
    .await;
    assert!(swapped.is_some(), "the finalizer follows deletionPolicy");

    // Deleting the Delete one removes its target and the object.
    api.delete("retain", &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = env.api("app");
    let gone = common::wait_until(Duration::from_secs(10), || async {
        let es_gone = api.get_opt("retain").await.ok()?.is_none();
        let secret_gone = secrets.get_opt("retain").await.ok()?.is_none();
        (es_gone && secret_gone).then_some(())
    })
    .await;
    assert!(gone.is_some(), "deleted with its target");
}
