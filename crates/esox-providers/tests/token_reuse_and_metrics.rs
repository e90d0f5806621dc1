//! ServiceAccount tokens are reused across clients, and API calls reach the metrics hook.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{cluster, secret_rules, store, text};
use esox_api::v1::{RemoteRef, StoreKind};
use esox_providers::{LocalCluster, ProviderRuntime, metrics};
use serde_json::json;

/// Calls seen, by (provider, call, ok).
type Counts = BTreeMap<(String, String, bool), u32>;

#[tokio::test]
async fn tokens_are_reused_and_calls_are_counted() {
    let c = cluster().await;
    let counts: Arc<Mutex<Counts>> = Arc::default();
    let sink = counts.clone();
    c.runtime
        .set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
            *sink
                .lock()
                .expect("lock")
                .entry((provider.to_owned(), call.to_owned(), ok))
                .or_default() += 1;
        })));
    let count = |call: &str, ok: bool| {
        counts
            .lock()
            .expect("lock")
            .get(&(metrics::PROVIDER_KUBERNETES.to_owned(), call.to_owned(), ok))
            .copied()
            .unwrap_or(0)
    };

    for ns in ["foo", "bar", "argocd"] {
        c.namespace(ns).await;
    }
    c.service_account("argocd", "external-secrets").await;
    c.grant("foo", "r", secret_rules(), "argocd", "external-secrets")
        .await;
    c.secret(
        "foo",
        json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    )
    .await;
    let s = store(
        StoreKind::ClusterSecretStore,
        "css",
        None,
        json!({"remoteNamespace": "foo",
               "auth": {"serviceAccount": {"name": "external-secrets", "namespace": "argocd"}}}),
    );
    for _ in 0..3 {
        let cl = c
            .kubernetes()
            .new_client(&s, &c.ctx(Some("bar")))
            .await
            .expect("client");
        let v = cl
            .get_secret(&RemoteRef {
                key: "s".into(),
                property: Some("k".into()),
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(text(&v), "v");
    }
    assert_eq!(
        count(metrics::CALL_CREATE_TOKEN, true),
        1,
        "one TokenRequest for three clients"
    );
    assert_eq!(count(metrics::CALL_GET_SECRET, true), 3);

    let cl = c
        .kubernetes()
        .new_client(&s, &c.ctx(Some("bar")))
        .await
        .expect("client");
    let missing = RemoteRef {
        key: "absent".into(),
        ..Default::default()
    };
    cl.get_secret(&missing).await.expect_err("absent");
    assert_eq!(count(metrics::CALL_GET_SECRET, false), 1);
    cl.validate().await.expect("validate");
    assert_eq!(count(metrics::CALL_CREATE_SSRR, true), 1);

    // A second runtime in the same process (a second esox) shares neither the token cache nor
    // the hook: it requests its own token, and the first runtime's hook does not see it.
    let other_counts: Arc<Mutex<Counts>> = Arc::default();
    let other_sink = other_counts.clone();
    let other = ProviderRuntime::new(
        c.admin.clone(),
        LocalCluster {
            url: c.server.url(),
            ca_pem: Some(c.server.ca_pem().as_bytes().to_vec()),
        },
    );
    other.set_api_call_observer(Some(Arc::new(move |provider, call, ok| {
        *other_sink
            .lock()
            .expect("lock")
            .entry((provider.to_owned(), call.to_owned(), ok))
            .or_default() += 1;
    })));
    let cl = other
        .provider("kubernetes")
        .expect("kubernetes is built in")
        .new_client(&s, &other.context(Some("bar")))
        .await
        .expect("client of the second runtime");
    cl.get_secret(&RemoteRef {
        key: "s".into(),
        property: Some("k".into()),
        ..Default::default()
    })
    .await
    .expect("read through the second runtime");
    let key = |call: &str| {
        (
            metrics::PROVIDER_KUBERNETES.to_owned(),
            call.to_owned(),
            true,
        )
    };
    let seen = other_counts.lock().expect("lock").clone();
    assert_eq!(
        seen.get(&key(metrics::CALL_CREATE_TOKEN)),
        Some(&1),
        "its own TokenRequest: {seen:?}"
    );
    assert_eq!(
        seen.get(&key(metrics::CALL_GET_SECRET)),
        Some(&1),
        "{seen:?}"
    );
    assert_eq!(
        count(metrics::CALL_CREATE_TOKEN, true),
        1,
        "the first runtime's hook saw none of it"
    );
    assert_eq!(count(metrics::CALL_GET_SECRET, true), 3);
    c.runtime.set_api_call_observer(None);
}
