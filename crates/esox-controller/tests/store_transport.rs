//! A store never sends credentials in clear text nor hands a ServiceAccount token of the
//! default audience to another server: both are refused on the store's status, naming the
//! field and the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use common::{Env, apply};
use esox_api::v1::SecretStore;
use kube::Api;

/// The store's Ready condition once it has `status`: (reason, message).
async fn store_ready(env: &Env, name: &str, status: &str) -> Option<(String, String)> {
    let api: Api<SecretStore> = env.api("app");
    let c = common::ready_where(
        &api,
        name,
        Duration::from_secs(15),
        |s| Some(s.status?.conditions),
        |c| c.status == status,
    )
    .await?;
    Some((c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
}

fn store(name: &str, server: &str, auth: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  provider:\n    kubernetes:\n      remoteNamespace: remote\n      server: {server}\n      auth: {auth}\n---\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_servers_and_default_audience_tokens_for_other_servers_are_refused() {
    let env = Env::start().await;
    // `k8s`: the admin token over https to this cluster, the positive control.
    common::kube_store(&env, "").await;
    let url = env.cluster.url();
    let http_url = url.replacen("https://", "http://", 1);
    let token = "{token: {bearerToken: {name: admin-token, key: token}}}";
    let ca = "caProvider: {type: ConfigMap, name: kube-root-ca.crt, key: ca.crt}";
    let manifests = [
        store(
            "cleartext",
            &format!("{{url: \"{http_url}\", {ca}}}"),
            token,
        ),
        store(
            "no-audience",
            &format!("{{url: \"{url}\", {ca}}}"),
            "{serviceAccount: {name: default}}",
        ),
    ]
    .concat();
    apply(&env.client, &manifests).await;

    let (reason, message) = store_ready(&env, "k8s", "True").await.expect("https store");
    assert_eq!(reason, "Valid", "{message}");
    let (_, message) = store_ready(&env, "cleartext", "False")
        .await
        .expect("http refused");
    assert!(
        message.contains("spec.provider.kubernetes.server.url") && message.contains("https://"),
        "{message}"
    );
    let (_, message) = store_ready(&env, "no-audience", "False")
        .await
        .expect("default audience refused");
    assert!(
        message.contains("spec.provider.kubernetes.auth.serviceAccount.audiences"),
        "{message}"
    );
}
