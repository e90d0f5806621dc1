//! `dataFrom` and the provider pipeline end to end against the test cluster with the real
//! controllers (and provider changes and deletion policies through the kubernetes provider):
//! extract, find by name and tags, rewrites, key conversion and decoding, with the
//! fake and kubernetes providers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
#[path = "es_support/mod.rs"]
mod es_support;

use std::time::Duration;

use common::kube_store;
use common::{Env, apply, fake_store};
use es_support::{es, exact, has_value, keeps};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_from_with_the_fake_provider() {
    let env = Env::start().await;
    apply(
        &env.client,
        &fake_store(
            "app",
            &[
                ("db", r#"{"user":"admin","pass":"s3cr3t"}"#),
                ("app/one", "1"),
                ("app/two", "2"),
                ("other", "x"),
                ("b64", "aGVsbG8="),
                // std base64 of "hi", URL-alphabet base64 of "???", and plain text.
                (
                    "mixed",
                    r#"{"std":"aGk=","url":"Pz8_","plain":"not base64!"}"#,
                ),
                ("slashed", r#"{"a/b":"1","c.d":"2"}"#),
                ("conf-a", r#"{"x":"1","y":"2"}"#),
                ("conf-b", r#"{"y":"3","z":{"n":1}}"#),
            ],
        ),
    )
    .await;
    apply(
        &env.client,
        &[
            es(
                "extract",
                "  secretStoreRef: {name: fake}\n  dataFrom:\n    - extract: {key: db}\n      rewrite: [{regexp: {source: \"(.*)\", target: \"db_$1\"}}, {transform: {template: \"{{ .value | upper }}\"}}]\n",
            ),
            es(
                "find-default",
                "  secretStoreRef: {name: fake}\n  dataFrom: [{find: {name: {regexp: \"^app/\"}}}]\n",
            ),
            es(
                "find-unicode",
                "  secretStoreRef: {name: fake}\n  dataFrom: [{find: {name: {regexp: \"^app/\"}, conversionStrategy: Unicode}}]\n",
            ),
            es(
                "convert",
                "  secretStoreRef: {name: fake}\n  dataFrom:\n    - extract: {key: slashed}\n    - extract: {key: slashed, conversionStrategy: Unicode}\n",
            ),
            es(
                "decode",
                "  secretStoreRef: {name: fake}\n  data: [{secretKey: hello, remoteRef: {key: b64, decodingStrategy: Base64}}]\n  dataFrom: [{extract: {key: mixed, decodingStrategy: Auto}}]\n",
            ),
            es(
                "merged",
                "  secretStoreRef: {name: fake}\n  dataFrom:\n    - find: {name: {regexp: \"^conf-\"}}\n      rewrite: [{merge: {conflictPolicy: Ignore, priority: [conf-a]}}]\n",
            ),
            es(
                "merge-conflict",
                "  secretStoreRef: {name: fake}\n  dataFrom:\n    - find: {name: {regexp: \"^conf-\"}}\n      rewrite: [{merge: {}}]\n",
            ),
        ]
        .join("---\n"),
    )
    .await;
    // Rewrites apply in order: regexp, then transform.
    exact(
        &env,
        "extract",
        &[("DB_PASS", "s3cr3t"), ("DB_USER", "admin")],
    )
    .await;
    exact(&env, "find-default", &[("app_one", "1"), ("app_two", "2")]).await;
    exact(
        &env,
        "find-unicode",
        &[("app_U002f_one", "1"), ("app_U002f_two", "2")],
    )
    .await;
    // Later dataFrom entries win; both conversions keep the dot.
    exact(
        &env,
        "convert",
        &[("a_U002f_b", "1"), ("a_b", "1"), ("c.d", "2")],
    )
    .await;
    exact(
        &env,
        "decode",
        &[
            ("hello", "hello"),
            ("plain", "not base64!"),
            ("std", "hi"),
            ("url", "???"),
        ],
    )
    .await;
    // Non-priority keys first, then the priority list: conf-a's y wins; objects stay JSON.
    exact(
        &env,
        "merged",
        &[("x", "1"), ("y", "2"), ("z", r#"{"n":1}"#)],
    )
    .await;
    let (reason, message) = env
        .es_ready("app", "merge-conflict", "False")
        .await
        .expect("a merge conflict fails the sync");
    assert_eq!(reason, "SecretSyncedError");
    assert!(message.contains("conflict"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_from_with_the_kubernetes_provider() {
    let env = Env::start().await;
    kube_store(
        &env,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: one, namespace: remote, labels: {app: blue}}
stringData: {a: "1", b: "two"}
---
apiVersion: v1
kind: Secret
metadata: {name: two, namespace: remote, labels: {app: green}}
stringData: {c: "3"}
---
apiVersion: v1
kind: Secret
metadata: {name: encoded, namespace: remote}
stringData: {token: "aGVsbG8="}
"#,
    )
    .await;
    apply(
        &env.client,
        &[
            es(
                "by-tags",
                "  secretStoreRef: {name: k8s}\n  dataFrom: [{find: {tags: {app: blue}}}]\n",
            ),
            es(
                "by-name",
                "  secretStoreRef: {name: k8s}\n  dataFrom:\n    - find: {name: {regexp: \"^tw\"}}\n      rewrite: [{regexp: {source: \"^\", target: \"secret-\"}}]\n",
            ),
            es(
                "extracted",
                "  secretStoreRef: {name: k8s}\n  dataFrom: [{extract: {key: one}}, {extract: {key: encoded, decodingStrategy: Base64}}]\n",
            ),
            es(
                "merged",
                "  secretStoreRef: {name: k8s}\n  dataFrom:\n    - find: {name: {regexp: \"^(one|two)$\"}}\n      rewrite: [{merge: {}}]\n",
            ),
        ]
        .join("---\n"),
    )
    .await;
    // The find result maps each Secret name to the JSON of its data.
    exact(&env, "by-tags", &[("one", r#"{"a":"1","b":"two"}"#)]).await;
    exact(&env, "by-name", &[("secret-two", r#"{"c":"3"}"#)]).await;
    exact(
        &env,
        "extracted",
        &[("a", "1"), ("b", "two"), ("token", "hello")],
    )
    .await;
    exact(&env, "merged", &[("a", "1"), ("b", "two"), ("c", "3")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_provider_changes_arrive_and_deleted_keys_follow_the_deletion_policy() {
    let env = Env::start().await;
    kube_store(
        &env,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: src, namespace: remote}\nstringData: {a: v1}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: doomed, namespace: remote}\nstringData: {d: here}\n",
    )
    .await;
    let data = "  data: [{secretKey: a, remoteRef: {key: src, property: a}}]\n";
    apply(
        &env.client,
        &[
            es(
                "hourly",
                &format!("  refreshInterval: 1h\n  secretStoreRef: {{name: k8s}}\n{data}"),
            ),
            es(
                "once",
                &format!("  refreshInterval: 0s\n  secretStoreRef: {{name: k8s}}\n{data}"),
            ),
            es(
                "gone",
                "  refreshInterval: 1h\n  secretStoreRef: {name: k8s}\n  target: {deletionPolicy: Delete}\n  dataFrom: [{extract: {key: doomed}}]\n",
            ),
        ]
        .join("---\n"),
    )
    .await;
    assert!(has_value(&env, "hourly", "a", b"v1").await);
    assert!(has_value(&env, "once", "a", b"v1").await);
    assert!(has_value(&env, "gone", "d", b"here").await);
    let remote: Api<Secret> = env.api("remote");
    remote
        .patch(
            "src",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"stringData": {"a": "v2"}})),
        )
        .await
        .unwrap();
    // Beyond ESO: esox watches the remote namespace, so a change arrives before the interval.
    assert!(has_value(&env, "hourly", "a", b"v2").await);
    assert!(
        keeps(&env, "once", "a", b"v1", Duration::from_secs(2)).await,
        "refreshInterval 0s syncs once only, watch or not"
    );
    // extract of a missing remote Secret is "no secret": deletionPolicy Delete removes the target.
    remote
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<Secret> = env.api("app");
    let deleted = common::wait_until(Duration::from_secs(10), || {
        let secrets = secrets.clone();
        async move { secrets.get_opt("gone").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(deleted.is_some(), "the target follows the remote deletion");
    // The status write follows the delete: wait for it rather than read the previous condition.
    env.es_ready_because("app", "gone", "True", "SecretDeleted")
        .await
        .expect("Ready=True SecretDeleted after the remote Secret went");
}
