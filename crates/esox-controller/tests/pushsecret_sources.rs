//! PushSecret sources beyond a plain Secret, end to end against the test cluster with the
//! Kubernetes provider: `spec.selector.generatorRef`, `spec.template.templateFrom`, and the
//! PushSecret/ClusterPushSecret/ClusterExternalSecret metrics ESO exposes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::time::Duration;

use common::{Env, apply, fake_store, value};
use esox_api::v1::ClusterExternalSecret;
use esox_api::v1alpha1::{ClusterPushSecret, PushSecret};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};
use ps_support::setup;

/// Waits for PushSecret `app/name`'s Ready condition to have `status`.
async fn ps_ready(client: &Client, name: &str, status: &str) -> Option<(String, String)> {
    ps_support::ps_ready(client, "app", name, status, Duration::from_secs(15)).await
}

/// Waits for the remote Secret `name` (namespace `remote`) to satisfy `check`; returns it.
async fn remote_where(
    client: &Client,
    name: &str,
    check: impl Fn(&Secret) -> bool,
) -> Option<Secret> {
    ps_support::remote_secret(client, "remote", name, Duration::from_secs(10), check).await
}

async fn merge_patch_ps(client: &Client, name: &str, patch: serde_json::Value) {
    let api: Api<PushSecret> = Api::namespaced(client.clone(), "app");
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Waits until the metrics exposition contains (`present`) or lacks every line of `lines`;
/// returns the last exposition for the failure message.
async fn metrics_where(env: &Env, lines: &[&str], present: bool) -> Result<String, String> {
    let found = common::wait_until(Duration::from_secs(10), || {
        let text = env.ctx.metrics.render();
        let ok = lines.iter().all(|l| text.contains(l) == present);
        async move { ok.then_some(text) }
    })
    .await;
    found.ok_or_else(|| env.ctx.metrics.render())
}

const PASSWORD_PUSH: &str = r#"
apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata: {name: db-password, namespace: app}
spec: {length: 32, digits: 8}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {name: ids}
spec:
  kind: UUID
  generator:
    uuidSpec: {}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: gen-pw, namespace: app}
spec:
  refreshInterval: 1h
  deletionPolicy: Delete
  secretStoreRefs: [{name: k8s}]
  selector:
    generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: Password, name: db-password}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: generated, property: pw}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: gen-id, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector:
    generatorRef: {kind: ClusterGenerator, name: ids}
  template:
    data: {request-id: "req-{{ .uuid }}"}
  data:
    - match: {remoteRef: {remoteKey: ids}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_ref_pushes_generated_values_and_regenerates_on_refresh_as_eso() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, PASSWORD_PUSH).await;

    let (reason, _) = ps_ready(c, "gen-pw", "True").await.expect("gen-pw Ready");
    assert_eq!(reason, "Synced");
    let remote = remote_where(c, "generated", |s| value(s, "pw").is_some())
        .await
        .expect("the generated password is pushed");
    let first = value(&remote, "pw").unwrap();
    assert_eq!(first.len(), 32, "spec.length is honoured");
    assert_eq!(
        first.iter().filter(|b| b.is_ascii_digit()).count(),
        8,
        "spec.digits is honoured"
    );
    let ps: PushSecret = env.api("app").get("gen-pw").await.unwrap();
    let synced = ps.status.unwrap().synced_push_secrets;
    assert_eq!(
        synced["SecretStore/k8s"]["generated/pw"]
            .match_
            .secret_key
            .as_deref(),
        Some("password")
    );

    // A ClusterGenerator (UUID) feeding a template, pushed as a whole Secret.
    ps_ready(c, "gen-id", "True").await.expect("gen-id Ready");
    let ids = remote_where(c, "ids", |s| value(s, "request-id").is_some())
        .await
        .expect("the templated UUID is pushed");
    let uuid = String::from_utf8(value(&ids, "uuid").unwrap()).unwrap();
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(
        value(&ids, "request-id").unwrap(),
        format!("req-{uuid}").into_bytes()
    );

    // No refresh is due within the hour: the pushed value stays. Nothing must happen, so there
    // is no event to wait for; the spec change below is the positive control that pushes anew.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again: Secret = env.api("remote").get("generated").await.unwrap();
    assert_eq!(value(&again, "pw").unwrap(), first);

    // A spec change refreshes, and ESO's resolveSecretFromGenerator generates anew on every
    // refresh: the remote value changes.
    merge_patch_ps(
        c,
        "gen-pw",
        serde_json::json!({"metadata": {"labels": {"rotate": "1"}}}),
    )
    .await;
    let rotated = remote_where(c, "generated", |s| {
        value(s, "pw").is_some_and(|v| v != first)
    })
    .await
    .expect("a refresh pushes a newly generated password");
    assert_eq!(value(&rotated, "pw").unwrap().len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_generator_reports_errored_naming_the_field_and_removes_nothing() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, PASSWORD_PUSH).await;
    ps_ready(c, "gen-pw", "True").await.expect("gen-pw Ready");
    let pushed = remote_where(c, "generated", |s| value(s, "pw").is_some())
        .await
        .expect("pushed");
    let pushed = value(&pushed, "pw").unwrap();

    // deletionPolicy is Delete and the entry was synced: a broken source must still not
    // delete it.
    merge_patch_ps(
        c,
        "gen-pw",
        serde_json::json!({"spec": {"selector": {"generatorRef": {"name": "no-such-password"}}}}),
    )
    .await;
    let (reason, message) = ps_ready(c, "gen-pw", "False").await.expect("Errored");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("spec.selector.generatorRef")
            && message.contains("Password \"no-such-password\" not found")
            && message.contains("create it"),
        "{message}"
    );
    // Nothing must happen: a retry of the failed reconcile must not remove either (the same
    // PushSecret pushing above is the positive control).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let remote: Secret = env.api("remote").get("generated").await.unwrap();
    assert_eq!(value(&remote, "pw").unwrap(), pushed, "nothing was removed");
    let ps: PushSecret = env.api("app").get("gen-pw").await.unwrap();
    assert!(
        ps.status.unwrap().synced_push_secrets["SecretStore/k8s"].contains_key("generated/pw"),
        "the entry stays tracked"
    );

    // The metric follows the condition.
    metrics_where(
        &env,
        &["pushsecret_status_condition{name=\"gen-pw\",namespace=\"app\",condition=\"Ready\",status=\"False\"} 1\n"],
        true,
    )
    .await
    .unwrap_or_else(|text| panic!("Ready=False metric missing:\n{text}"));

    // A generator kind esox does not run is refused with the supported list.
    merge_patch_ps(
        c,
        "gen-id",
        serde_json::json!({"spec": {"selector": {"generatorRef": {"kind": "GithubAccessToken", "name": "x"}}}}),
    )
    .await;
    let (_, message) = ps_ready(c, "gen-id", "False").await.expect("Errored");
    assert!(
        message.contains("spec.selector.generatorRef.kind GithubAccessToken is not supported"),
        "{message}"
    );
}

const TEMPLATE_SOURCES: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: tpl, namespace: app}
data:
  dsn: "postgres://{{ .user }}:{{ .password }}@db"
  extra: |
    region: eu
    login: "{{ .user | upper }}"
---
apiVersion: v1
kind: Secret
metadata: {name: tpl-secret, namespace: app}
stringData:
  note: "pushed for {{ .user }}"
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: tpl, namespace: app}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  template:
    templateFrom:
      - configMap:
          name: tpl
          items:
            - {key: dsn}
            - {key: extra, templateAs: KeysAndValues}
      - secret:
          name: tpl-secret
          items: [{key: note}]
      - literal: "owner: '{{ .user }}'"
        target: Annotations
      - literal: "password: overwritten-by-templateFrom"
    data:
      dsn: "{{ .user }}@data-wins"
  data:
    - match: {remoteRef: {remoteKey: templated}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_from_config_map_secret_and_literal_shape_the_pushed_secret() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, TEMPLATE_SOURCES).await;
    let (reason, message) = ps_ready(c, "tpl", "True").await.expect("tpl Ready");
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("Synced", "PushSecret synced successfully")
    );
    let remote = remote_where(c, "templated", |s| value(s, "note").is_some())
        .await
        .expect("the templated Secret is pushed");
    assert_eq!(
        value(&remote, "user").unwrap(),
        b"admin",
        "source keys stay"
    );
    assert_eq!(
        value(&remote, "password").unwrap(),
        b"overwritten-by-templateFrom",
        "templateFrom overwrites source keys"
    );
    assert_eq!(
        value(&remote, "dsn").unwrap(),
        b"admin@data-wins",
        "template.data wins over templateFrom"
    );
    assert_eq!(value(&remote, "region").unwrap(), b"eu");
    assert_eq!(value(&remote, "login").unwrap(), b"ADMIN");
    assert_eq!(value(&remote, "note").unwrap(), b"pushed for admin");
    assert_eq!(
        remote.metadata.annotations.unwrap_or_default()["owner"],
        "admin",
        "target Annotations renders into the pushed metadata"
    );
    let src: Secret = env.api("app").get("src").await.unwrap();
    assert!(
        value(&src, "note").is_none(),
        "the source is never modified"
    );

    // A template change in the ConfigMap is used at the next refresh (here: a spec change).
    let cms: Api<ConfigMap> = env.api("app");
    cms.patch(
        "tpl",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"extra": "region: us\n"}})),
    )
    .await
    .unwrap();
    merge_patch_ps(
        c,
        "tpl",
        serde_json::json!({"metadata": {"labels": {"v": "2"}}}),
    )
    .await;
    remote_where(c, "templated", |s| {
        value(s, "region").as_deref() == Some(b"us")
    })
    .await
    .expect("the new template is pushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_template_config_map_reports_errored_and_removes_nothing() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, TEMPLATE_SOURCES).await;
    ps_ready(c, "tpl", "True").await.expect("tpl Ready");
    remote_where(c, "templated", |s| value(s, "note").is_some())
        .await
        .expect("pushed");

    let cms: Api<ConfigMap> = env.api("app");
    cms.delete("tpl", &DeleteParams::default()).await.unwrap();
    merge_patch_ps(
        c,
        "tpl",
        serde_json::json!({"metadata": {"labels": {"v": "2"}}}),
    )
    .await;
    let (reason, message) = ps_ready(c, "tpl", "False").await.expect("Errored");
    assert_eq!(reason, "Errored");
    assert!(
        message
            .contains("spec.template.templateFrom[0].configMap: ConfigMap \"tpl\" does not exist")
            && message.contains("create it or fix spec.template.templateFrom[0].configMap.name"),
        "{message}"
    );
    // Nothing must happen: a retry of the failed reconcile must not remove either (the same
    // PushSecret pushing above is the positive control).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let remote: Secret = env.api("remote").get("templated").await.unwrap();
    assert_eq!(
        value(&remote, "note").unwrap(),
        b"pushed for admin",
        "deletionPolicy Delete removed nothing"
    );

    // The ConfigMap comes back: the failed PushSecret is retried and recovers by itself.
    apply(
        c,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tpl, namespace: app}\ndata: {dsn: x, extra: 'region: back'}\n",
    )
    .await;
    ps_ready(c, "tpl", "True").await.expect("recovered");
    remote_where(c, "templated", |s| {
        value(s, "region").as_deref() == Some(b"back")
    })
    .await
    .expect("the restored template is pushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_cluster_metrics_use_eso_names_and_go_with_their_objects() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, &fake_store("team", &[("k", "v")])).await;
    apply(
        c,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: m, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data: [{match: {remoteRef: {remoteKey: m}}}]
---
apiVersion: v1
kind: Namespace
metadata: {name: pushed-ns, labels: {push: "yes"}}
---
apiVersion: external-secrets.io/v1alpha1
kind: ClusterPushSecret
metadata: {name: cps}
spec:
  namespaceSelectors: [{matchLabels: {push: "yes"}}]
  pushSecretSpec:
    secretStoreRefs: [{name: nowhere}]
    selector: {secret: {name: src}}
    data: [{match: {remoteRef: {remoteKey: r}}}]
---
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: {name: ces}
spec:
  namespaces: [team]
  externalSecretSpec:
    secretStoreRef: {name: fake}
    data: [{secretKey: k, remoteRef: {key: k}}]
"#,
    )
    .await;
    ps_ready(c, "m", "True").await.expect("m Ready");
    let live = [
        "pushsecret_status_condition{name=\"m\",namespace=\"app\",condition=\"Ready\",status=\"True\"} 1\n",
        "pushsecret_status_condition{name=\"m\",namespace=\"app\",condition=\"Ready\",status=\"False\"} 0\n",
        "pushsecret_reconcile_duration{name=\"m\",namespace=\"app\"} ",
        "clusterpushsecret_status_condition{name=\"cps\",namespace=\"\",condition=\"Ready\",status=\"True\"} 1\n",
        "clusterpushsecret_reconcile_duration{name=\"cps\",namespace=\"\"} ",
        "clusterexternalsecret_status_condition{name=\"ces\",namespace=\"\",condition=\"Ready\",status=\"True\"} 1\n",
        "clusterexternalsecret_reconcile_duration{name=\"ces\",namespace=\"\"} ",
    ];
    let text = metrics_where(&env, &live, true)
        .await
        .unwrap_or_else(|text| panic!("metrics missing:\n{text}"));
    // Durations are nanoseconds of a real reconcile: positive, and under a minute.
    let duration = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("pushsecret_reconcile_duration{name=\"m\",namespace=\"app\"} ")
        })
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(duration > 0.0 && duration < 60e9, "{duration}");

    // Deleting the objects removes their series.
    let dp = DeleteParams::default();
    env.api::<PushSecret>("app").delete("m", &dp).await.unwrap();
    Api::<ClusterPushSecret>::all(c.clone())
        .delete("cps", &dp)
        .await
        .unwrap();
    Api::<ClusterExternalSecret>::all(c.clone())
        .delete("ces", &dp)
        .await
        .unwrap();
    let gone = [
        "name=\"m\",namespace=\"app\"",
        "clusterpushsecret_status_condition{name=\"cps\"",
        "clusterpushsecret_reconcile_duration{name=\"cps\"",
        "clusterexternalsecret_status_condition{name=\"ces\"",
        "clusterexternalsecret_reconcile_duration{name=\"ces\"",
    ];
    metrics_where(&env, &gone, false)
        .await
        .unwrap_or_else(|text| panic!("series of deleted objects remain:\n{text}"));
}
