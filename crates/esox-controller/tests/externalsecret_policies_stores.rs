//! ExternalSecret behaviours around stores, admission and failures, one test each, end to end
//! against the test cluster with the real controllers: cluster store conditions, immutable
//! targets, admission, the null-byte policy and store status.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use common::{Env, apply, fake_store, value};
use esox_api::v1::{ClusterSecretStore, ExternalSecret, SecretStore};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};

/// An ExternalSecret `name` in namespace `ns`; `spec` is indented by two spaces.
fn es_in(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_store_conditions_choose_the_namespaces() {
    let env = Env::start().await;
    apply(
        &env.client,
        r#"
apiVersion: v1
kind: Namespace
metadata: {name: listed}
---
apiVersion: v1
kind: Namespace
metadata: {name: labelled, labels: {team: blue}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-rx-one}
---
apiVersion: v1
kind: Namespace
metadata: {name: denied, labels: {team: red}}
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: shared}
spec:
  conditions:
    - namespaces: [listed]
    - namespaceSelector: {matchLabels: {team: blue}}
    # Unanchored, as Go's regexp.MatchString.
    - namespaceRegexes: ["rx-o"]
  provider:
    fake:
      data: [{key: k, value: v}]
"#,
    )
    .await;
    let spec = "  secretStoreRef: {name: shared, kind: ClusterSecretStore}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n";
    let all = ["listed", "labelled", "team-rx-one", "denied"];
    apply(
        &env.client,
        &all.map(|ns| es_in(ns, "e", spec)).join("---\n"),
    )
    .await;
    for ns in ["listed", "labelled", "team-rx-one"] {
        let s = env
            .secret_where(ns, "e", |s| value(s, "k").as_deref() == Some(b"v"))
            .await;
        assert!(s.is_some(), "namespace {ns} matches a condition");
    }
    let (reason, message) = env
        .es_ready("denied", "e", "False")
        .await
        .expect("a namespace matching no condition is refused");
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.starts_with("could not get secret data from provider")
            && message
                .contains(r#"using cluster store "shared" is not allowed from namespace "denied""#),
        "{message}"
    );
    let secrets: Api<Secret> = env.api("denied");
    assert!(secrets.get_opt("e").await.unwrap().is_none());
    // Relabelling the namespace lets it in at the next attempt.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    namespaces
        .patch(
            "denied",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"team": "blue"}}})),
        )
        .await
        .unwrap();
    let recovered = common::wait_until(Duration::from_secs(15), || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get_opt("e").await.ok()??;
            (value(&s, "k").as_deref() == Some(b"v")).then_some(())
        }
    })
    .await;
    assert!(recovered.is_some(), "synced after the namespace matched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_target_keeps_its_data() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v1")])).await;
    let es = |immutable: bool, labels: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: imm, namespace: app, labels: {{{labels}}}}}\nspec:\n  refreshInterval: 1s\n  secretStoreRef: {{name: fake}}\n  target: {{immutable: {immutable}}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n"
        )
    };
    apply(&env.client, &es(true, "")).await;
    let s = env
        .secret_where("app", "imm", |s| value(s, "k").as_deref() == Some(b"v1"))
        .await
        .expect("created");
    assert_eq!(s.immutable, Some(true));
    let first_uid = s.metadata.uid.clone();
    // ESO v2.9 renders an immutable target once: refreshes keep the data and stay Ready.
    env.es_ready("app", "imm", "True").await.unwrap();
    apply(&env.client, &fake_store("app", &[("k", "v2")])).await;
    let secrets: Api<Secret> = env.api("app");
    let api: Api<ExternalSecret> = env.api("app");
    let synced_at = api.get("imm").await.unwrap().status.unwrap().refresh_time;
    let refreshed = common::wait_until(Duration::from_secs(5), || {
        let api = api.clone();
        let synced_at = synced_at.clone();
        async move {
            let t = api.get("imm").await.ok()?.status?.refresh_time;
            (t > synced_at).then_some(())
        }
    })
    .await;
    assert!(refreshed.is_some(), "periodic refreshes go on");
    // One more refresh that starts after the provider holds v2 for certain.
    let refreshed_at = api.get("imm").await.unwrap().status.unwrap().refresh_time;
    let again = common::wait_until(Duration::from_secs(5), || {
        let api = api.clone();
        let refreshed_at = refreshed_at.clone();
        async move {
            let t = api.get("imm").await.ok()?.status?.refresh_time;
            (t > refreshed_at).then_some(())
        }
    })
    .await;
    assert!(again.is_some(), "periodic refreshes go on");
    assert_eq!(
        value(&secrets.get("imm").await.unwrap(), "k").unwrap(),
        b"v1"
    );
    let (reason, _) = env.es_ready("app", "imm", "True").await.unwrap();
    assert_eq!(reason, "SecretSynced");
    // A deleted target is created again, from the current provider value.
    secrets
        .delete("imm", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    let s = env
        .secret_where("app", "imm", |s| {
            s.metadata.uid != first_uid && value(s, "k").as_deref() == Some(b"v2")
        })
        .await
        .expect("recreated");
    assert_eq!(s.immutable, Some(true));
    // Without target.immutable the ExternalSecret wants new data in a Secret that is still
    // immutable: the metadata is written, then the data change is refused.
    apply(&env.client, &fake_store("app", &[("k", "v3")])).await;
    apply(&env.client, &es(false, "team: blue")).await;
    let (reason, message) = env
        .es_ready("app", "imm", "False")
        .await
        .expect("the change cannot be written");
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.starts_with("could not update secret, target is immutable"),
        "{message}"
    );
    let s = secrets.get("imm").await.unwrap();
    assert_eq!(value(&s, "k").unwrap(), b"v2");
    assert_eq!(
        s.metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("blue"),
        "metadata is updated even though the data is not"
    );
}

/// Applies `yaml` and returns the API server's refusal.
async fn refusal(env: &Env, yaml: &str) -> String {
    match esox_testcluster::apply_yaml(&env.client, yaml, None, "test").await {
        Ok(()) => panic!("admitted:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_external_secrets_are_refused_at_admission() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    let store = "  secretStoreRef: {name: fake}\n";
    let extract = "  dataFrom: [{extract: {key: k}}]\n";
    // (spec, words the refusal must contain: the field, then the rule)
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            store.to_owned(),
            vec![
                "invalid: spec: ",
                "needs at least one entry in data or dataFrom",
            ],
        ),
        (
            format!("{store}  data: []\n"),
            vec![
                "invalid: spec: ",
                "needs at least one entry in data or dataFrom",
            ],
        ),
        (
            format!(
                "{store}{extract}  target: {{creationPolicy: Merge, deletionPolicy: Delete}}\n"
            ),
            vec![
                "spec.target",
                "deletionPolicy Delete needs creationPolicy Owner or Orphan",
            ],
        ),
        (
            format!("{store}{extract}  target: {{creationPolicy: None, deletionPolicy: Delete}}\n"),
            vec![
                "spec.target",
                "deletionPolicy Delete needs creationPolicy Owner or Orphan",
            ],
        ),
        (
            format!(
                "{store}{extract}  target: {{creationPolicy: CreateOrMerge, deletionPolicy: Delete}}\n"
            ),
            vec![
                "spec.target",
                "deletionPolicy Delete needs creationPolicy Owner or Orphan",
            ],
        ),
        (
            format!("{store}{extract}  target: {{creationPolicy: None, deletionPolicy: Merge}}\n"),
            vec![
                "spec.target",
                "deletionPolicy Merge cannot be combined with creationPolicy None",
            ],
        ),
        (
            format!(
                "{store}  dataFrom: [{{extract: {{key: k}}, find: {{name: {{regexp: x}}}}}}]\n"
            ),
            vec![
                "spec.dataFrom[0]",
                "exactly one of extract, find or sourceRef.generatorRef",
            ],
        ),
        (
            format!("{store}  dataFrom: [{{rewrite: [{{regexp: {{source: a, target: b}}}}]}}]\n"),
            vec![
                "spec.dataFrom[0]",
                "exactly one of extract, find or sourceRef.generatorRef",
            ],
        ),
        (
            format!(
                "{store}{extract}  target: {{template: {{type: bootstrap.kubernetes.io/token}}}}\n"
            ),
            vec![
                "spec.target.template",
                "bootstrap.kubernetes.io/token is refused",
            ],
        ),
        (
            format!(
                "{store}{extract}  target:\n    template:\n      type: kubernetes.io/service-account-token\n      metadata: {{annotations: {{kubernetes.io/service-account.name: admin}}}}\n"
            ),
            vec![
                "spec.target.template",
                "may not set the kubernetes.io/service-account.name annotation",
            ],
        ),
        (
            format!("{store}  data: [{{secretKey: \"bad key\", remoteRef: {{key: k}}}}]\n"),
            vec!["spec.data[0].secretKey"],
        ),
        (
            format!("{store}{extract}  refreshPolicy: Sometimes\n"),
            vec!["spec.refreshPolicy", "Sometimes"],
        ),
        (
            format!("{store}{extract}  target: {{creationPolicy: Always}}\n"),
            vec!["spec.target.creationPolicy", "Always"],
        ),
        (
            format!(
                "{store}{extract}  syncWindows: {{kind: deny, windows: [{{schedule: \"not a cron\", duration: 1h}}]}}\n"
            ),
            vec!["spec.syncWindows.windows[0].schedule"],
        ),
        (
            format!("{store}  dataFrom: [{{extract: {{key: k}}, sourceRef: {{}}}}]\n"),
            vec!["spec.dataFrom[0].sourceRef", "at least 1 properties"],
        ),
        (
            format!(
                "{store}{extract}  target:\n    template:\n      type: kubernetes.io/service-account-token\n      templateFrom: [{{literal: \"x: y\", target: Annotations}}]\n"
            ),
            vec![
                "spec.target.template",
                "may not set the kubernetes.io/service-account.name annotation",
            ],
        ),
        (
            format!(
                "{store}{extract}  syncWindows: {{kind: sometimes, windows: [{{schedule: \"@daily\", duration: 1h}}]}}\n"
            ),
            vec!["spec.syncWindows.kind"],
        ),
        (
            format!(
                "{store}  dataFrom: [{{sourceRef: {{generatorRef: {{kind: Nonsense, name: g}}}}}}]\n"
            ),
            vec!["spec.dataFrom[0].sourceRef.generatorRef.kind"],
        ),
        (
            format!(
                "{store}{extract}  target: {{template: {{templateFrom: [{{literal: \"x: y\", target: type}}]}}}}\n"
            ),
            vec![
                "spec.target",
                "template.templateFrom[].target must be Data, Annotations or Labels",
            ],
        ),
        (
            format!(
                "{store}  data: [{{secretKey: k, remoteRef: {{key: k}}}}, {{secretKey: k, remoteRef: {{key: j}}}}]\n"
            ),
            vec![
                "spec",
                "data[].secretKey must be unique while target.deletionPolicy is Retain",
            ],
        ),
    ];
    for (i, (spec, needles)) in cases.iter().enumerate() {
        let yaml = es_in("app", &format!("bad-{i}"), spec);
        let message = refusal(&env, &yaml).await;
        for needle in needles {
            assert!(
                message.contains(needle),
                "case {i}: the refusal should contain {needle:?}:\n{yaml}\n→ {message}"
            );
        }
    }
    // The same policies in an allowed combination are admitted.
    apply(
        &env.client,
        &es_in(
            "app",
            "fine",
            &format!(
                "{store}  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n  target: {{creationPolicy: Orphan, deletionPolicy: Delete}}\n"
            ),
        ),
    )
    .await;
    env.es_ready("app", "fine", "True")
        .await
        .expect("the admitted ExternalSecret syncs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_byte_policy_fail_refuses_values_with_null_bytes() {
    let env = Env::start().await;
    // "YQBi" is base64 for "a\0b".
    apply(&env.client, &fake_store("app", &[("nul", "YQBi")])).await;
    apply(
        &env.client,
        &[
            es_in(
                "app",
                "strict",
                "  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: nul, decodingStrategy: Base64, nullBytePolicy: Fail}}]\n",
            ),
            es_in(
                "app",
                "lenient",
                "  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: nul, decodingStrategy: Base64}}]\n",
            ),
            es_in(
                "app",
                "strict-map",
                "  secretStoreRef: {name: fake}\n  dataFrom: [{find: {name: {regexp: \"^nul$\"}, decodingStrategy: Base64, nullBytePolicy: Fail}}]\n",
            ),
        ]
        .join("---\n"),
    )
    .await;
    for name in ["strict", "strict-map"] {
        let (reason, message) = env
            .es_ready("app", name, "False")
            .await
            .expect("a NUL byte fails the sync");
        assert_eq!(reason, "SecretSyncedError");
        assert!(
            message.starts_with("could not get secret data from provider")
                && message.to_lowercase().contains("null byte"),
            "{name}: {message}"
        );
        let secrets: Api<Secret> = env.api("app");
        assert!(secrets.get_opt(name).await.unwrap().is_none());
    }
    let s = env
        .secret_where("app", "lenient", |_| true)
        .await
        .expect("Ignore (the default) keeps the NUL byte");
    assert_eq!(value(&s, "k").unwrap(), b"a\0b");
}

/// Waits for the store's Ready condition to have `status`; returns (reason, message, capabilities).
async fn store_ready(
    env: &Env,
    name: &str,
    status: &str,
) -> Option<(String, String, Option<String>)> {
    let api: Api<SecretStore> = env.api("app");
    common::wait_until(Duration::from_secs(15), || {
        let api = api.clone();
        async move {
            let s = api.get(name).await.ok()?.status?;
            let c = s.conditions.iter().find(|c| c.type_ == "Ready")?;
            (c.status == status).then(|| {
                (
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                    s.capabilities.map(|c| {
                        serde_json::to_value(c)
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_owned()
                    }),
                )
            })
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_status_reports_whether_the_store_can_be_used() {
    let env = Env::start_in_memory().await;
    let kube_store = |name: &str, auth: &str| {
        format!(
            "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  provider:\n    kubernetes:\n      remoteNamespace: remote\n      server:\n        caProvider: {{type: ConfigMap, name: kube-root-ca.crt, key: ca.crt}}\n      auth:\n{auth}"
        )
    };
    apply(
        &env.client,
        &format!(
            "{}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: remote}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: nobody, namespace: app}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: admin-token, namespace: app}}\nstringData: {{token: \"{}\"}}\n---\n{}---\n{}---\n{}---\napiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {{name: cluster-fake}}\nspec:\n  provider:\n    fake: {{data: []}}\n",
            fake_store("app", &[("k", "v")]),
            env.cluster.admin_token(),
            kube_store(
                "admin",
                "        token:\n          bearerToken: {name: admin-token, key: token}\n"
            ),
            kube_store(
                "bad-auth",
                "        token:\n          bearerToken: {name: admin-token, key: missing}\n"
            ),
            kube_store(
                "no-rights",
                "        serviceAccount: {name: nobody}\n"
            ),
        ),
    )
    .await;
    for name in ["fake", "admin"] {
        let (reason, message, caps) = store_ready(&env, name, "True").await.expect(name);
        assert_eq!(
            (reason.as_str(), message.as_str(), caps.as_deref()),
            ("Valid", "store validated", Some("ReadWrite")),
            "{name}"
        );
    }
    let css: Api<ClusterSecretStore> = Api::all(env.client.clone());
    let valid = common::wait_until(Duration::from_secs(15), || {
        let css = css.clone();
        async move {
            let s = css.get("cluster-fake").await.ok()?.status?;
            s.conditions
                .iter()
                .any(|c| {
                    c.type_ == "Ready" && c.status == "True" && c.reason.as_deref() == Some("Valid")
                })
                .then_some(())
        }
    })
    .await;
    assert!(valid.is_some(), "a ClusterSecretStore is validated too");

    let (reason, message, _) = store_ready(&env, "bad-auth", "False")
        .await
        .expect("bad-auth");
    assert_eq!(reason, "InvalidProviderConfig");
    assert!(
        message.starts_with("unable to create client") && message.contains("missing"),
        "{message}"
    );
    let (reason, message, _) = store_ready(&env, "no-rights", "False")
        .await
        .expect("no-rights");
    assert_eq!(reason, "InvalidProviderConfig");
    assert!(message.starts_with("unable to validate store"), "{message}");

    // The permission review itself fails: the result is unknown, which still counts as Ready.
    let fault = env.cluster.faults().fail(
        esox_testcluster::FaultMatch {
            verb: Some("create".into()),
            resource: Some("selfsubjectrulesreviews".into()),
            ..Default::default()
        },
        500,
        None,
    );
    let stores: Api<SecretStore> = env.api("app");
    stores
        .patch(
            "admin",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"revalidate": "1"}}})),
        )
        .await
        .unwrap();
    let unknown = common::wait_until(Duration::from_secs(15), || {
        let stores = stores.clone();
        async move {
            let s = stores.get("admin").await.ok()?.status?;
            let c = s.conditions.into_iter().find(|c| c.type_ == "Ready")?;
            (c.reason.as_deref() == Some("ValidationUnknown")).then_some(c)
        }
    })
    .await
    .expect("ValidationUnknown");
    env.cluster.faults().remove(fault);
    assert_eq!(unknown.status, "True");
    assert_eq!(
        unknown.message.as_deref(),
        Some("could not determine validation status")
    );
}
