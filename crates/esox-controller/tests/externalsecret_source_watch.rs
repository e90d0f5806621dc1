#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

//! The watch on a source namespace runs with the store's credentials. When those stop working
//! (a revoked or rotated token), the watch must not retry them forever: it ends, and the next
//! read starts a new one with the store's current credentials, so changes keep arriving at once.

mod common;

use std::time::Duration;

use common::{Env, apply, hand_out_token, value, wait_until};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

const SOURCE: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: src, namespace: remote}
stringData: {password: v1}
"#;

async fn set_source(env: &Env, value: &str) {
    let secrets: Api<Secret> = env.api("remote");
    let patch = json!({"stringData": {"password": value}});
    secrets
        .patch("src", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn target_has(env: &Env, expected: &str, within: Duration) -> bool {
    let secrets: Api<Secret> = env.api("app");
    wait_until(within, || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get_opt("copy").await.ok()??;
            (value(&s, "password").as_deref() == Some(expected.as_bytes())).then_some(())
        }
    })
    .await
    .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_whose_token_is_revoked_is_restarted_with_the_new_token() {
    let env = Env::start().await;
    let rbac = common::service_account_in_remote("reader", &["get", "list", "watch"]);
    apply(&env.client, &format!("{rbac}---\n{SOURCE}")).await;
    let first = hand_out_token(&env, "reader", "reader-token-1", "reader-token").await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: remote, namespace: app}
spec:
  provider:
    kubernetes:
      remoteNamespace: remote
      server:
        caProvider: {type: ConfigMap, name: kube-root-ca.crt, key: ca.crt}
      auth:
        token:
          bearerToken: {name: reader-token, key: token}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: copy, namespace: app}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: remote}
  dataFrom: [{extract: {key: src}}]
"#,
    )
    .await;
    assert!(target_has(&env, "v1", Duration::from_secs(10)).await);
    set_source(&env, "v2").await;
    assert!(
        target_has(&env, "v2", Duration::from_secs(3)).await,
        "the source watch works with the first token"
    );

    // Revoke the first token, cut every open connection (the server checks credentials when a
    // request starts, so an established watch would otherwise outlive the token), and hand the
    // store a new token.
    Api::<Secret>::namespaced(env.client.clone(), "remote")
        .delete("reader-token-1", &DeleteParams::default())
        .await
        .unwrap();
    env.cluster.restart().await.unwrap();
    env.cluster.wait_for_kubernetes_controllers().await.unwrap();
    let second = hand_out_token(&env, "reader", "reader-token-2", "reader-token").await;
    assert_ne!(first, second);

    // With refreshInterval 1h, only a watch running with the new token brings this change.
    set_source(&env, "v3").await;
    assert!(
        target_has(&env, "v3", Duration::from_secs(15)).await,
        "a change after the token rotation arrives without waiting for refreshInterval"
    );
    // And the new watch keeps delivering at once.
    set_source(&env, "v4").await;
    assert!(
        target_has(&env, "v4", Duration::from_secs(3)).await,
        "the restarted watch delivers changes at once"
    );
    assert_eq!(env.ctx.remote_watch_count(), 1);
}
