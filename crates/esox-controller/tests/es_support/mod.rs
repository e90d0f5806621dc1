//! Helpers shared by the ExternalSecret policy tests: manifests in namespace `app` and
//! polling of the target Secret.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test uses a subset; a panic is how a test fails

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::common::{Env, value};

/// An ExternalSecret `name` in namespace `app`; `spec` is indented by two spaces.
pub fn es(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: app}}\nspec:\n{spec}"
    )
}

/// The Secret's data as UTF-8 text, sorted by key.
pub fn text_data(s: &Secret) -> Vec<(String, String)> {
    s.data
        .as_ref()
        .map(|d| {
            d.iter()
                .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Waits for Secret `app/name` to hold exactly `expected`; panics with what it holds otherwise.
pub async fn exact(env: &Env, name: &str, expected: &[(&str, &str)]) {
    let want = pairs(expected);
    if env
        .secret_where("app", name, |s| text_data(s) == want)
        .await
        .is_none()
    {
        let secrets: Api<Secret> = env.api("app");
        let got = secrets.get_opt(name).await.unwrap().map(|s| text_data(&s));
        panic!("Secret app/{name}: expected {want:?}, got {got:?}");
    }
}

/// Whether key `key` of Secret `app/name` keeps `expected` during all of `period`.
pub async fn keeps(env: &Env, name: &str, key: &str, expected: &[u8], period: Duration) -> bool {
    let secrets: Api<Secret> = env.api("app");
    let start = Instant::now();
    while start.elapsed() < period {
        let s = secrets.get(name).await.unwrap();
        if value(&s, key).as_deref() != Some(expected) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

pub async fn has_value(env: &Env, name: &str, key: &str, expected: &[u8]) -> bool {
    env.secret_where("app", name, |s| value(s, key).as_deref() == Some(expected))
        .await
        .is_some()
}
