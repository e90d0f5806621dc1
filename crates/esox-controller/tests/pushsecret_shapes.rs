//! PushSecret end to end, the shapes of what gets pushed: `data[].metadata` merge policies,
//! `dataTo`, `conversionStrategy: ReverseUnicode`, stores and sources chosen by label
//! selectors, a store change under `deletionPolicy: None`, and a revoked token.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Env, apply, hand_out_token, value};
use esox_api::v1alpha1::PushSecret;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use ps_support::{patch_source, ps_ready, remote_where, setup, warning_event};

fn labels(s: &Secret) -> BTreeMap<String, String> {
    s.metadata.labels.clone().unwrap_or_default()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn remote(env: &Env, ns: &str, name: &str) -> Secret {
    ps_support::remote_secret(&env.client, ns, name, Duration::from_secs(10), |_| true)
        .await
        .unwrap_or_else(|| panic!("remote Secret {ns}/{name} exists"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_merge_policies_shape_the_remote_labels() {
    let env = Env::start().await;
    setup(&env).await; // source app/src carries the label team=a
    for name in ["merged", "replaced", "ignored"] {
        apply(
            &env.client,
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: remote, labels: {{old: keep}}}}\nstringData: {{stale: x}}\n"
            ),
        )
        .await;
    }
    let meta = |spec: &str| {
        format!(
            "{{apiVersion: kubernetes.external-secrets.io/v1alpha1, kind: PushSecretMetadata, spec: {spec}}}"
        )
    };
    apply(
        &env.client,
        &format!(
            r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {{name: p5, namespace: app}}
spec:
  secretStoreRefs: [{{name: k8s}}]
  selector: {{secret: {{name: src}}}}
  data:
    - match: {{remoteRef: {{remoteKey: merged}}}}
      metadata: {}
    - match: {{remoteRef: {{remoteKey: replaced}}}}
      metadata: {}
    - match: {{remoteRef: {{remoteKey: ignored}}}}
      metadata: {}
"#,
            meta("{sourceMergePolicy: Replace, labels: {env: dev}}"),
            meta("{targetMergePolicy: Replace, labels: {env: dev}}"),
            meta("{targetMergePolicy: Ignore, labels: {env: dev}}"),
        ),
    )
    .await;
    ps_ready(&env.client, "app", "p5", "True", Duration::from_secs(15))
        .await
        .expect("PushSecret Ready");

    // Source Replace: only the spec labels, merged onto the remote's own.
    let merged = remote(&env, "remote", "merged").await;
    assert_eq!(labels(&merged), map(&[("old", "keep"), ("env", "dev")]));
    // Target Replace: source labels plus the spec ones, the remote's own are gone.
    let replaced = remote(&env, "remote", "replaced").await;
    assert_eq!(labels(&replaced), map(&[("team", "a"), ("env", "dev")]));
    // Target Ignore: the remote metadata is left alone, the data is still pushed.
    let ignored = remote(&env, "remote", "ignored").await;
    assert_eq!(labels(&ignored), map(&[("old", "keep")]));
    for s in [&merged, &replaced, &ignored] {
        assert_eq!(value(s, "password").unwrap(), b"first");
        assert!(
            value(s, "stale").is_none(),
            "a whole-Secret push replaces the remote data"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_with_unknown_fields_or_a_remote_namespace_on_a_secret_store_is_refused() {
    let env = Env::start().await;
    setup(&env).await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: elsewhere, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: moved}}
      metadata:
        apiVersion: kubernetes.external-secrets.io/v1alpha1
        kind: PushSecretMetadata
        spec: {remoteNamespace: other}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: typo, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: typo}}
      metadata:
        apiVersion: kubernetes.external-secrets.io/v1alpha1
        kind: PushSecretMetadata
        spec: {lables: {env: dev}}
"#,
    )
    .await;
    let (reason, message) = ps_ready(
        &env.client,
        "app",
        "elsewhere",
        "False",
        Duration::from_secs(15),
    )
    .await
    .expect("Errored");
    println!("remoteNamespace on a SecretStore: {message}");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("remoteNamespace") && message.contains("ClusterSecretStore"),
        "the message names the field and what it needs: {message}"
    );
    let (reason, message) = ps_ready(&env.client, "app", "typo", "False", Duration::from_secs(15))
        .await
        .expect("Errored");
    println!("unknown metadata field: {message}");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("lables"),
        "the message names the unknown field: {message}"
    );
    for name in ["moved", "typo"] {
        assert!(
            remote_where(
                &env.client,
                "remote",
                name,
                Duration::from_millis(300),
                |s| s.is_none()
            )
            .await,
            "{name}: nothing is pushed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_to_bundles_matching_keys_and_reverse_unicode_restores_key_names() {
    let env = Env::start().await;
    setup(&env).await;
    apply(
        &env.client,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: many, namespace: app}
stringData: {db_user: u, db_pass: p, other: o, tls_U002E_crt: cert}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: bundle, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: many}}
  dataTo:
    - storeRef: {name: k8s}
      remoteKey: db-bundle
      match: {regexp: "^db_"}
  data:
    - match: {secretKey: tls.crt, remoteRef: {remoteKey: certs, property: tls.crt}}
      conversionStrategy: ReverseUnicode
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: per-key, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: many}}
  dataTo:
    - storeRef: {name: k8s}
      match: {regexp: "^db_"}
      rewrite: [{regexp: {source: "^db_", target: "db-"}}]
"#,
    )
    .await;
    ps_ready(
        &env.client,
        "app",
        "bundle",
        "True",
        Duration::from_secs(15),
    )
    .await
    .expect("bundle PushSecret Ready");
    let bundle = remote(&env, "remote", "db-bundle").await;
    let keys: Vec<&String> = bundle.data.as_ref().unwrap().keys().collect();
    assert_eq!(keys, ["db_pass", "db_user"], "only the matched keys");
    let certs = remote(&env, "remote", "certs").await;
    assert_eq!(value(&certs, "tls.crt").unwrap(), b"cert");

    // Per-key dataTo makes entries with a key but no property, which this provider refuses (as
    // ESO's): the status says so and nothing is written.
    let (reason, message) = ps_ready(
        &env.client,
        "app",
        "per-key",
        "False",
        Duration::from_secs(15),
    )
    .await
    .expect("per-key PushSecret Errored");
    println!("per-key dataTo: {message}");
    assert_eq!(reason, "Errored");
    assert!(message.contains("property"), "{message}");
    for name in ["db-user", "db-pass"] {
        assert!(
            remote_where(
                &env.client,
                "remote",
                name,
                Duration::from_millis(200),
                |s| s.is_none()
            )
            .await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_sources_chosen_by_label_and_a_store_change_keeps_the_old_copy() {
    let env = Env::start().await;
    setup(&env).await;
    // A second store like `k8s`, writing to namespace `remote2`; both carry push=yes.
    let k8s: esox_api::v1::SecretStore = env.api("app").get("k8s").await.unwrap();
    let mut second = serde_json::to_value(&k8s.spec).unwrap();
    second["provider"]["kubernetes"]["remoteNamespace"] = "remote2".into();
    apply(
        &env.client,
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: remote2}}\n---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {{name: k8s2, namespace: app, labels: {{push: 'yes'}}}}\nspec: {second}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: other-team, namespace: app, labels: {{team: b}}}}\nstringData: {{password: not-mine}}\n"
        ),
    )
    .await;
    Api::<esox_api::v1::SecretStore>::namespaced(env.client.clone(), "app")
        .patch(
            "k8s",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"push": "yes"}}})),
        )
        .await
        .unwrap();
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: by-label, namespace: app}
spec:
  secretStoreRefs: [{labelSelector: {matchLabels: {push: "yes"}}}]
  selector: {secret: {selector: {matchLabels: {team: a}}}}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: labelled, property: pw}}
"#,
    )
    .await;
    ps_ready(
        &env.client,
        "app",
        "by-label",
        "True",
        Duration::from_secs(15),
    )
    .await
    .expect("PushSecret Ready");
    for ns in ["remote", "remote2"] {
        let s = remote(&env, ns, "labelled").await;
        assert_eq!(
            value(&s, "pw").unwrap(),
            b"first",
            "{ns}: the team=a source, not team=b"
        );
    }
    let ps: PushSecret = env.api("app").get("by-label").await.unwrap();
    let synced = ps.status.unwrap().synced_push_secrets;
    assert!(
        synced.contains_key("SecretStore/k8s") && synced.contains_key("SecretStore/k8s2"),
        "{synced:?}"
    );

    // k8s leaves the selection. deletionPolicy None: its copy stays where it is; the other
    // store still follows the source.
    Api::<esox_api::v1::SecretStore>::namespaced(env.client.clone(), "app")
        .patch(
            "k8s",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"push": null}}})),
        )
        .await
        .unwrap();
    patch_source(&env.client, "app", "src", "password", "second").await;
    assert!(
        remote_where(
            &env.client,
            "remote2",
            "labelled",
            Duration::from_secs(10),
            |s| { s.and_then(|s| value(s, "pw")).as_deref() == Some(b"second".as_slice()) }
        )
        .await,
        "the store still selected follows the source"
    );
    let old = remote(&env, "remote", "labelled").await;
    assert_eq!(
        value(&old, "pw").unwrap(),
        b"first",
        "the store that left is neither updated nor emptied"
    );
}

const TOKEN_SETUP: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: src, namespace: app}
stringData: {password: first}
---
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
          bearerToken: {name: pusher-token, key: token}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: pushed, namespace: app}
spec:
  refreshInterval: 1h
  secretStoreRefs: [{name: remote}]
  selector: {secret: {name: src}}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: copy, property: pw}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_reports_errored_keeps_the_remote_and_recovers_with_a_new_one() {
    // In memory: its restart only cuts connections. A real API-server restart also stalls
    // Kubernetes' token controller for tens of seconds, which this test is not about; the same
    // revocation is checked on the real server by `externalsecret_source_watch`.
    let env = Env::start_in_memory().await;
    let first = {
        let rbac = common::service_account_in_remote(
            "pusher",
            &[
                "get", "list", "watch", "create", "update", "patch", "delete",
            ],
        );
        apply(&env.client, &format!("{rbac}---\n{TOKEN_SETUP}")).await;
        hand_out_token(&env, "pusher", "pusher-token-1", "pusher-token").await
    };
    ps_ready(
        &env.client,
        "app",
        "pushed",
        "True",
        Duration::from_secs(15),
    )
    .await
    .expect("PushSecret Ready with the first token");
    assert_eq!(
        value(&remote(&env, "remote", "copy").await, "pw").unwrap(),
        b"first"
    );

    // Revoke the token (its Secret goes) and drop open connections, then change the source.
    env.api::<Secret>("remote")
        .delete("pusher-token-1", &DeleteParams::default())
        .await
        .unwrap();
    env.cluster.restart().await.unwrap();
    env.cluster.wait_for_kubernetes_controllers().await.unwrap();
    patch_source(&env.client, "app", "src", "password", "second").await;
    let (reason, message) = ps_ready(
        &env.client,
        "app",
        "pushed",
        "False",
        Duration::from_secs(15),
    )
    .await
    .expect("Errored once the token is refused");
    println!("revoked token: {message}");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("Unauthorized") && message.contains("Secret app/pusher-token"),
        "the message names the refused credentials and where they live: {message}"
    );
    assert!(
        !message.contains(&first),
        "the token never appears in status"
    );
    let note = warning_event(&env.client, "app", "Errored", "copy")
        .await
        .expect("a Warning event");
    assert!(!note.contains(&first), "the token never appears in Events");
    assert_eq!(
        value(&remote(&env, "remote", "copy").await, "pw").unwrap(),
        b"first",
        "nothing is removed or emptied on the remote side"
    );

    // A new token in the store's Secret: the push completes without touching the PushSecret.
    hand_out_token(&env, "pusher", "pusher-token-2", "pusher-token").await;
    assert!(
        remote_where(
            &env.client,
            "remote",
            "copy",
            Duration::from_secs(40),
            |s| { s.and_then(|s| value(s, "pw")).as_deref() == Some(b"second".as_slice()) }
        )
        .await,
        "the retry pushes with the new token"
    );
    ps_ready(
        &env.client,
        "app",
        "pushed",
        "True",
        Duration::from_secs(15),
    )
    .await
    .expect("Ready again");
}
