//! Shared setup and polling of the PushSecret tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses a subset; a panic is how a test fails

use std::time::Duration;

use esox_api::v1alpha1::PushSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::common::{self, Env};

/// [`common::kube_store`] plus the source Secret `app/src` the PushSecret tests push.
pub async fn setup(env: &Env) {
    common::kube_store(
        env,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: src, namespace: app, labels: {team: a}}
stringData: {user: admin, password: first}
"#,
    )
    .await;
}

/// Waits for the PushSecret's Ready condition to have `status`; returns (reason, message).
pub async fn ps_ready(
    client: &Client,
    ns: &str,
    name: &str,
    status: &str,
    timeout: Duration,
) -> Option<(String, String)> {
    let api: Api<PushSecret> = Api::namespaced(client.clone(), ns);
    let c = common::ready_where(
        &api,
        name,
        timeout,
        |ps| Some(ps.status?.conditions),
        |c| c.status == status,
    )
    .await?;
    Some((c.reason.unwrap_or_default(), c.message.unwrap_or_default()))
}

/// Waits for the Secret `ns/name` to exist and satisfy `check`; returns it.
pub async fn remote_secret(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
    check: impl Fn(&Secret) -> bool,
) -> Option<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    common::wait_until(timeout, || async {
        api.get_opt(name).await.ok()?.filter(|s| check(s))
    })
    .await
}

pub async fn remote_where(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
    check: impl Fn(Option<&Secret>) -> bool,
) -> bool {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    common::wait_until(timeout, || {
        let api = api.clone();
        let check = &check;
        async move {
            let s = api.get_opt(name).await.ok()?;
            check(s.as_ref()).then_some(())
        }
    })
    .await
    .is_some()
}

pub async fn warning_event(
    client: &Client,
    ns: &str,
    reason: &str,
    contains: &str,
) -> Option<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    common::wait_until(Duration::from_secs(10), || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            list.items.into_iter().find_map(|e| {
                let note = e.note.clone().unwrap_or_default();
                (e.reason.as_deref() == Some(reason)
                    && e.type_.as_deref() == Some("Warning")
                    && note.contains(contains))
                .then_some(note)
            })
        }
    })
    .await
}

pub async fn patch_source(client: &Client, ns: &str, name: &str, key: &str, value: &str) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let patch = serde_json::json!({"stringData": {key: value}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}
