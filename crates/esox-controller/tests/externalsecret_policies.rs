//! ExternalSecret refresh and target policies, one test each, end to end against the test
//! cluster with the real controllers (refresh intervals and policies, force-sync, creation and
//! deletion policies, `spec.syncWindows`, and ownership conflicts). `dataFrom` shaping is in
//! `externalsecret_data_from.rs`; stores, admission and error cases in
//! `externalsecret_policies_stores.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
#[path = "es_support/mod.rs"]
mod es_support;

use std::time::{Duration, Instant};

use common::{Env, apply, fake_store, value};
use es_support::{es, exact, has_value, keeps, pairs, text_data};
use esox_api::v1::ExternalSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_changes_arrive_within_the_interval_and_never_with_zero() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v1")])).await;
    let data = "  data: [{secretKey: k, remoteRef: {key: k}}]\n";
    apply(
        &env.client,
        &[
            es(
                "fast",
                &format!("  refreshInterval: 1s\n  secretStoreRef: {{name: fake}}\n{data}"),
            ),
            es(
                "once",
                &format!("  refreshInterval: 0s\n  secretStoreRef: {{name: fake}}\n{data}"),
            ),
        ]
        .join("---\n"),
    )
    .await;
    assert!(has_value(&env, "fast", "k", b"v1").await);
    assert!(has_value(&env, "once", "k", b"v1").await);
    let changed = Instant::now();
    apply(&env.client, &fake_store("app", &[("k", "v2")])).await;
    assert!(has_value(&env, "fast", "k", b"v2").await, "refreshed");
    assert!(
        changed.elapsed() < Duration::from_secs(5),
        "a 1s interval took {:?}",
        changed.elapsed()
    );
    assert!(
        keeps(&env, "once", "k", b"v1", Duration::from_secs(3)).await,
        "refreshInterval 0s syncs once only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_policies_and_force_sync() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v1")])).await;
    let body = |policy: &str, interval: &str| {
        format!(
            "  refreshPolicy: {policy}\n  refreshInterval: {interval}\n  secretStoreRef: {{name: fake}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n"
        )
    };
    apply(
        &env.client,
        &[
            es("on-change", &body("OnChange", "1s")),
            es("created-once", &body("CreatedOnce", "1s")),
            es("periodic", &body("Periodic", "1h")),
        ]
        .join("---\n"),
    )
    .await;
    for name in ["on-change", "created-once", "periodic"] {
        assert!(has_value(&env, name, "k", b"v1").await, "{name} synced");
    }
    apply(&env.client, &fake_store("app", &[("k", "v2")])).await;
    // Neither OnChange nor CreatedOnce refreshes on a timer, whatever the interval.
    assert!(keeps(&env, "on-change", "k", b"v1", Duration::from_millis(2500)).await);
    assert!(keeps(&env, "created-once", "k", b"v1", Duration::ZERO).await);
    assert!(keeps(&env, "periodic", "k", b"v1", Duration::ZERO).await);
    let api: Api<ExternalSecret> = env.api("app");
    for name in ["on-change", "created-once", "periodic"] {
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"external-secrets.io/force-sync": "1"}}})),
        )
        .await
        .unwrap();
    }
    assert!(
        has_value(&env, "on-change", "k", b"v2").await,
        "OnChange re-syncs after an annotation change"
    );
    assert!(
        has_value(&env, "periodic", "k", b"v2").await,
        "force-sync refreshes a Periodic ExternalSecret before its interval"
    );
    assert!(
        keeps(&env, "created-once", "k", b"v1", Duration::from_secs(2)).await,
        "CreatedOnce ignores force-sync"
    );
    // The annotation reached the status: the ExternalSecret is in sync with its metadata.
    let es = api.get("on-change").await.unwrap();
    let version = esox_core::hash::synced_resource_version(
        es.metadata.generation.unwrap_or_default(),
        &es.metadata.labels.clone().unwrap_or_default(),
        &es.metadata.annotations.clone().unwrap_or_default(),
    );
    assert_eq!(es.status.unwrap().synced_resource_version, version);
    // CreatedOnce counts on the ExternalSecret's status: a recreated one syncs again and
    // overwrites the Secret its predecessor left (ESO issue #6640).
    let orphan = es_named_created_once_orphan();
    apply(&env.client, &orphan).await;
    let secrets: Api<Secret> = env.api("app");
    let s = env
        .secret_where("app", "again", |s| value(s, "k").is_some())
        .await
        .expect("synced");
    assert_eq!(value(&s, "k").unwrap(), b"v2");
    api.delete("again", &DeleteParams::default()).await.unwrap();
    let gone = common::wait_until(Duration::from_secs(10), || {
        let api = api.clone();
        async move { api.get_opt("again").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some());
    apply(&env.client, &fake_store("app", &[("k", "v3")])).await;
    assert!(
        keeps(&env, "again", "k", b"v2", Duration::ZERO).await,
        "the Secret stays"
    );
    assert!(secrets.get_opt("again").await.unwrap().is_some());
    apply(&env.client, &orphan).await;
    assert!(
        has_value(&env, "again", "k", b"v3").await,
        "a recreated CreatedOnce ExternalSecret syncs once more"
    );
}

fn es_named_created_once_orphan() -> String {
    es(
        "again",
        "  refreshPolicy: CreatedOnce\n  secretStoreRef: {name: fake}\n  target: {creationPolicy: Orphan}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_merge_lifecycle() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v")])).await;
    apply(
        &env.client,
        &es(
            "com",
            "  refreshInterval: 1h\n  secretStoreRef: {name: fake}\n  target: {name: shared, creationPolicy: CreateOrMerge}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
        ),
    )
    .await;
    let created = env
        .secret_where("app", "shared", |s| value(s, "k").as_deref() == Some(b"v"))
        .await
        .expect("CreateOrMerge creates a missing target");
    assert!(
        created
            .metadata
            .owner_references
            .as_ref()
            .is_none_or(Vec::is_empty),
        "no ownerReference"
    );
    let secrets: Api<Secret> = env.api("app");
    let before = created.metadata.resource_version.clone();
    secrets
        .patch(
            "shared",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"foreign": "keep"}})),
        )
        .await
        .unwrap();
    // The edit invalidates the data hash; the controller re-syncs and keeps the foreign key.
    let hash_of = |s: &Secret| {
        s.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("reconcile.external-secrets.io/data-hash").cloned())
    };
    let old_hash = hash_of(&created);
    let merged = env
        .secret_where("app", "shared", |s| {
            s.metadata.resource_version != before && hash_of(s) != old_hash
        })
        .await
        .expect("re-synced after the edit");
    assert_eq!(value(&merged, "foreign").unwrap(), b"keep");
    assert_eq!(value(&merged, "k").unwrap(), b"v");
    secrets
        .delete("shared", &DeleteParams::default())
        .await
        .unwrap();
    env.secret_where("app", "shared", |s| {
        value(s, "k").as_deref() == Some(b"v") && value(s, "foreign").is_none()
    })
    .await
    .expect("a deleted target is recreated at once");
    let api: Api<ExternalSecret> = env.api("app");
    api.delete("com", &DeleteParams::default()).await.unwrap();
    let gone = common::wait_until(Duration::from_secs(10), || {
        let api = api.clone();
        async move { api.get_opt("com").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "the ExternalSecret is deleted");
    // Nothing must happen: garbage collection would follow the deletion, not precede it (the
    // recreation above is the positive control that the controller acts on this Secret).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        secrets.get_opt("shared").await.unwrap().is_some(),
        "the Secret outlives its ExternalSecret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policies_when_the_provider_key_goes_away() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v"), ("k2", "w")])).await;
    let existing: Secret = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "shared"}, "stringData": {"foreign": "keep"}}),
    )
    .unwrap();
    let secrets: Api<Secret> = env.api("app");
    secrets
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();
    let one = "  data: [{secretKey: k, remoteRef: {key: k}}]\n";
    apply(
        &env.client,
        &[
            es(
                "del",
                &format!("  refreshInterval: 1s\n  secretStoreRef: {{name: fake}}\n  target: {{deletionPolicy: Delete}}\n{one}"),
            ),
            es(
                "ret",
                &format!("  refreshInterval: 1s\n  secretStoreRef: {{name: fake}}\n  target: {{deletionPolicy: Retain}}\n{one}"),
            ),
            es(
                "own-merge",
                &format!("  refreshInterval: 1s\n  secretStoreRef: {{name: fake}}\n  target: {{deletionPolicy: Merge}}\n{one}"),
            ),
            es(
                "merge",
                "  refreshInterval: 1s\n  secretStoreRef: {name: fake}\n  target: {name: shared, creationPolicy: Merge, deletionPolicy: Merge}\n  data: [{secretKey: k, remoteRef: {key: k}}, {secretKey: k2, remoteRef: {key: k2}}]\n",
            ),
        ]
        .join("---\n"),
    )
    .await;
    for name in ["del", "ret", "own-merge"] {
        assert!(has_value(&env, name, "k", b"v").await, "{name} synced");
    }
    exact(
        &env,
        "shared",
        &[("foreign", "keep"), ("k", "v"), ("k2", "w")],
    )
    .await;

    apply(&env.client, &fake_store("app", &[("k2", "w")])).await;
    let gone = common::wait_until(Duration::from_secs(10), || {
        let secrets = secrets.clone();
        async move { secrets.get_opt("del").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "Delete removes the target");
    let message = env
        .es_ready_because("app", "del", "True", "SecretDeleted")
        .await
        .expect("Ready=True SecretDeleted after the target is deleted");
    assert_eq!(message, "secret deleted due to DeletionPolicy=Delete");
    // Retain: a missing key is an error and the target is left as it was.
    let (reason, message) = env.es_ready("app", "ret", "False").await.unwrap();
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.starts_with("could not get secret data from provider"),
        "{message}"
    );
    assert_eq!(
        value(&secrets.get("ret").await.unwrap(), "k").unwrap(),
        b"v"
    );
    // Merge: only the keys whose provider data went away are removed.
    exact(&env, "own-merge", &[]).await;
    exact(&env, "shared", &[("foreign", "keep"), ("k2", "w")]).await;
    let (reason, _) = env.es_ready("app", "merge", "True").await.unwrap();
    assert_eq!(reason, "SecretSynced");
    // With nothing left at the provider, only the keys the ExternalSecret wrote go.
    apply(&env.client, &fake_store("app", &[("unrelated", "u")])).await;
    exact(&env, "shared", &[("foreign", "keep")]).await;
}

/// A cron hour that is not the current UTC hour, so a window there is closed now.
fn closed_hour() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (secs / 3600 % 24 + 12) % 24
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_windows_restrict_periodic_refreshes_only() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("k", "v1")])).await;
    let body = |kind: &str, schedule: &str, duration: &str| {
        format!(
            "  refreshInterval: 1s\n  secretStoreRef: {{name: fake}}\n  syncWindows: {{kind: {kind}, windows: [{{schedule: \"{schedule}\", duration: {duration}}}]}}\n  data: [{{secretKey: k, remoteRef: {{key: k}}}}]\n"
        )
    };
    let closed = format!("0 {} * * *", closed_hour());
    apply(
        &env.client,
        &[
            // Opens every minute for an hour: always active.
            es("deny-open", &body("deny", "* * * * *", "1h")),
            es("allow-closed", &body("allow", &closed, "1m")),
            es("allow-open", &body("allow", "* * * * *", "1h")),
            es("deny-closed", &body("deny", &closed, "1m")),
            // Minute 61 passes the CRD pattern but never parses: the window is ignored.
            es("deny-unparsable", &body("deny", "61 * * * *", "1h")),
        ]
        .join("---\n"),
    )
    .await;
    let all = [
        "deny-open",
        "allow-closed",
        "allow-open",
        "deny-closed",
        "deny-unparsable",
    ];
    for name in all {
        assert!(
            has_value(&env, name, "k", b"v1").await,
            "{name}: windows never block the first sync"
        );
        // The first sync is complete once its status is written (the target is written before).
        env.es_ready_because("app", name, "True", "SecretSynced")
            .await
            .unwrap_or_else(|| panic!("{name}: first sync recorded"));
    }
    apply(&env.client, &fake_store("app", &[("k", "v2")])).await;
    for name in ["allow-open", "deny-closed", "deny-unparsable"] {
        assert!(
            has_value(&env, name, "k", b"v2").await,
            "{name} refreshes periodically"
        );
    }
    for name in ["deny-open", "allow-closed"] {
        assert!(
            keeps(&env, name, "k", b"v1", Duration::from_millis(1500)).await,
            "{name}: the window holds back periodic refreshes"
        );
    }
    // A metadata change is not periodic: windows never block it.
    let api: Api<ExternalSecret> = env.api("app");
    for name in ["deny-open", "allow-closed"] {
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
        assert!(
            has_value(&env, name, "k", b"v2").await,
            "{name} refreshes on a metadata change"
        );
    }
}

/// How many reconciles of `app/name` the metrics counted.
fn reconciles(env: &Env, name: &str) -> u64 {
    let prefix = format!("externalsecret_sync_calls_total{{name=\"{name}\",namespace=\"app\"}} ");
    env.ctx
        .metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str())?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_before_the_watch_shows_the_first_status_does_not_sync_again() {
    let env = Env::start_in_memory().await;
    apply(&env.client, &fake_store("app", &[("k", "v1")])).await;
    let faults = env.cluster.faults();
    let on = |verb: &str, name: Option<&str>| esox_testcluster::FaultMatch {
        verb: Some(verb.into()),
        resource: Some("externalsecrets".into()),
        name: name.map(Into::into),
        ..Default::default()
    };
    // The first sync's status patch lands 1 s after the target; meanwhile the ExternalSecret
    // watch is cut and cannot resume for 6 s, so esox's copy keeps showing no status.
    let slow_status = faults.delay(on("patch", Some("lagging")), Duration::from_secs(1), None);
    apply(
        &env.client,
        &es(
            "lagging",
            "  refreshInterval: 1h\n  secretStoreRef: {name: fake}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
        ),
    )
    .await;
    assert!(has_value(&env, "lagging", "k", b"v1").await, "first sync");
    let frozen = faults.delay(on("watch", None), Duration::from_secs(6), None);
    let cut_at = Instant::now();
    env.cluster.cut_watches();
    env.es_ready_because("app", "lagging", "True", "SecretSynced")
        .await
        .expect("first status written");
    faults.remove(slow_status);
    let before = reconciles(&env, "lagging");

    // A store change triggers a reconcile from the stale copy: refreshInterval 1h is not due.
    apply(&env.client, &fake_store("app", &[("k", "v2")])).await;
    let reconciled = common::wait_until(Duration::from_secs(3), || async {
        (reconciles(&env, "lagging") > before).then_some(())
    })
    .await;
    assert!(
        cut_at.elapsed() < Duration::from_secs(5),
        "the test ran past the frozen window ({:?}); it proves nothing",
        cut_at.elapsed()
    );
    assert!(
        reconciled.is_some(),
        "the store change reconciled the ExternalSecret"
    );
    assert_eq!(
        env.ctx.recent_statuses.pending(),
        1,
        "the watched copy still lacks the status"
    );
    assert!(
        keeps(&env, "lagging", "k", b"v1", Duration::from_millis(500)).await,
        "a reconcile that saw no refreshTime synced again before refreshInterval"
    );
    faults.remove(frozen);
    assert!(
        common::wait_until(Duration::from_secs(10), || async {
            (env.ctx.recent_statuses.pending() == 0).then_some(())
        })
        .await
        .is_some(),
        "the remembered status is dropped once the watch shows it"
    );
    assert!(
        keeps(&env, "lagging", "k", b"v1", Duration::from_millis(500)).await,
        "refreshInterval 1h: no refresh after the watch caught up either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_owned_by_another_external_secret_is_left_alone() {
    let env = Env::start().await;
    apply(
        &env.client,
        &fake_store("app", &[("k", "first"), ("j", "second")]),
    )
    .await;
    apply(
        &env.client,
        &es(
            "first",
            "  secretStoreRef: {name: fake}\n  target: {name: shared}\n  data: [{secretKey: k, remoteRef: {key: k}}]\n",
        ),
    )
    .await;
    env.secret_where("app", "shared", |s| value(s, "k").is_some())
        .await
        .expect("the first ExternalSecret owns the target");
    apply(
        &env.client,
        &es(
            "second",
            "  secretStoreRef: {name: fake}\n  target: {name: shared}\n  data: [{secretKey: j, remoteRef: {key: j}}]\n",
        ),
    )
    .await;
    let (reason, message) = env
        .es_ready("app", "second", "False")
        .await
        .expect("refused");
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.starts_with("target is owned by another ExternalSecret"),
        "{message}"
    );
    assert!(message.contains("first"), "{message}");
    let secrets: Api<Secret> = env.api("app");
    assert_eq!(
        text_data(&secrets.get("shared").await.unwrap()),
        pairs(&[("k", "first")])
    );
}
