//! PushSecret end to end: the real controllers against the test cluster, pushing with the
//! Kubernetes provider (property and whole-Secret pushes, `updatePolicy: IfNotExists`,
//! `deletionPolicy: Delete`, the seed's cross-cluster scenario, faults).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::time::{Duration, Instant};

use common::{Env, apply, apply_in, value};
use esox_api::v1alpha1::PushSecret;
use esox_testcluster::TestCluster;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use ps_support::{patch_source, ps_ready, remote_where, setup, warning_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_push_follows_the_source_at_once() {
    let env = Env::start().await;
    setup(&env).await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: p1, namespace: app}
spec:
  refreshInterval: 1h
  secretStoreRefs: [{name: k8s, kind: SecretStore}]
  selector: {secret: {name: src}}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: db, property: pw}}
"#,
    )
    .await;
    let (reason, message) = ps_ready(&env.client, "app", "p1", "True", Duration::from_secs(15))
        .await
        .expect("PushSecret Ready");
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("Synced", "PushSecret synced successfully")
    );
    let remote: Secret = env.api("remote").get("db").await.unwrap();
    assert_eq!(value(&remote, "pw").unwrap(), b"first");
    assert!(
        value(&remote, "user").is_none(),
        "only the property is written"
    );
    let ps: PushSecret = env.api("app").get("p1").await.unwrap();
    let synced = ps.status.unwrap().synced_push_secrets;
    let entry = &synced["SecretStore/k8s"]["db/pw"];
    assert_eq!(entry.match_.secret_key.as_deref(), Some("password"));

    // refreshInterval is 1h: ESO would wait; esox pushes a source change at once.
    let mut delays = Vec::new();
    for round in 0..5 {
        let v = format!("rotated-{round}");
        let started = Instant::now();
        patch_source(&env.client, "app", "src", "password", &v).await;
        let arrived = remote_where(&env.client, "remote", "db", Duration::from_secs(5), |s| {
            s.and_then(|s| value(s, "pw")).as_deref() == Some(v.as_bytes())
        })
        .await;
        assert!(arrived, "round {round}: the change never arrived");
        delays.push(started.elapsed());
    }
    println!("property push, source change to remote: {delays:?}");
    assert!(
        delays.iter().all(|d| *d < Duration::from_secs(3)),
        "{delays:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_secret_push_with_template() {
    let env = Env::start().await;
    setup(&env).await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: p2, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  template:
    type: kubernetes.io/basic-auth
    data: {dsn: "{{ .user }}:{{ .password }}@db"}
  data:
    - match: {remoteRef: {remoteKey: whole}}
"#,
    )
    .await;
    ps_ready(&env.client, "app", "p2", "True", Duration::from_secs(15))
        .await
        .expect("PushSecret Ready");
    let remote: Secret = env.api("remote").get("whole").await.unwrap();
    assert_eq!(value(&remote, "user").unwrap(), b"admin");
    assert_eq!(value(&remote, "password").unwrap(), b"first");
    assert_eq!(value(&remote, "dsn").unwrap(), b"admin:first@db");
    assert_eq!(remote.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(
        remote.metadata.labels.unwrap()["team"],
        "a",
        "the source labels are merged into the remote Secret"
    );
    let src: Secret = env.api("app").get("src").await.unwrap();
    assert!(value(&src, "dsn").is_none(), "the source is never modified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_not_exists_keeps_existing_remote_values() {
    let env = Env::start().await;
    setup(&env).await;
    apply(
        &env.client,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: existing, namespace: remote}\nstringData: {pw: old}\n",
    )
    .await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: p3, namespace: app}
spec:
  updatePolicy: IfNotExists
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {secretKey: password, remoteRef: {remoteKey: existing, property: pw}}
    - match: {secretKey: password, remoteRef: {remoteKey: fresh, property: pw}}
"#,
    )
    .await;
    let (reason, message) = ps_ready(&env.client, "app", "p3", "True", Duration::from_secs(15))
        .await
        .expect("PushSecret Ready");
    assert_eq!(reason, "Synced");
    assert_eq!(
        message,
        "PushSecret synced successfully. Existing secrets in providers unchanged."
    );
    let existing: Secret = env.api("remote").get("existing").await.unwrap();
    assert_eq!(value(&existing, "pw").unwrap(), b"old");
    let fresh: Secret = env.api("remote").get("fresh").await.unwrap();
    assert_eq!(value(&fresh, "pw").unwrap(), b"first");
    let ps: PushSecret = env.api("app").get("p3").await.unwrap();
    let synced = &ps.status.unwrap().synced_push_secrets["SecretStore/k8s"];
    // Only what was written is recorded: the skipped entry is not this PushSecret's.
    assert!(synced.contains_key("fresh/pw"), "{synced:?}");
    assert!(!synced.contains_key("existing/pw"), "{synced:?}");
}

const DELETE_POLICY_PUSH: &str = r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: p4, namespace: app}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: KEY}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_delete_removes_remote_entries() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    let exists = |present: bool| move |s: Option<&Secret>| s.is_some() == present;
    apply(c, &DELETE_POLICY_PUSH.replace("KEY", "first-key")).await;
    assert!(
        remote_where(
            c,
            "remote",
            "first-key",
            Duration::from_secs(15),
            exists(true)
        )
        .await
    );
    let ps: PushSecret = env.api("app").get("p4").await.unwrap();
    assert!(
        ps.metadata
            .finalizers
            .unwrap()
            .contains(&"pushsecret.externalsecrets.io/finalizer".to_owned())
    );

    // Renaming the remote key removes the old entry.
    apply(c, &DELETE_POLICY_PUSH.replace("KEY", "second-key")).await;
    assert!(
        remote_where(
            c,
            "remote",
            "second-key",
            Duration::from_secs(10),
            exists(true)
        )
        .await
    );
    assert!(
        remote_where(
            c,
            "remote",
            "first-key",
            Duration::from_secs(10),
            exists(false)
        )
        .await
    );

    // The source goes: the remote entry goes, and the status says so.
    let secrets: Api<Secret> = env.api("app");
    secrets
        .delete("src", &DeleteParams::default())
        .await
        .unwrap();
    let (reason, message) = ps_ready(c, "app", "p4", "False", Duration::from_secs(10))
        .await
        .expect("Ready=False after the source is deleted");
    assert_eq!(reason, "SourceDeleted", "{message}");
    assert!(
        remote_where(
            c,
            "remote",
            "second-key",
            Duration::from_secs(10),
            exists(false)
        )
        .await
    );

    // The source comes back and is pushed again; deleting the PushSecret removes the copy and
    // releases the finalizer.
    apply(
        c,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: src, namespace: app}\nstringData: {user: back}\n",
    )
    .await;
    assert!(
        remote_where(
            c,
            "remote",
            "second-key",
            Duration::from_secs(10),
            exists(true)
        )
        .await
    );
    ps_ready(c, "app", "p4", "True", Duration::from_secs(10))
        .await
        .expect("synced again");
    let api: Api<PushSecret> = env.api("app");
    api.delete("p4", &DeleteParams::default()).await.unwrap();
    assert!(
        remote_where(
            c,
            "remote",
            "second-key",
            Duration::from_secs(10),
            exists(false)
        )
        .await
    );
    let gone = common::wait_until(Duration::from_secs(10), || {
        let api = api.clone();
        async move { api.get_opt("p4").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "finalizer released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_store_never_wedges_the_finalizer() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, &DELETE_POLICY_PUSH.replace("KEY", "kept")).await;
    ps_ready(c, "app", "p4", "True", Duration::from_secs(15))
        .await
        .expect("synced");
    Api::<esox_api::v1::SecretStore>::namespaced(c.clone(), "app")
        .delete("k8s", &DeleteParams::default())
        .await
        .unwrap();
    let started = Instant::now();
    let api: Api<PushSecret> = env.api("app");
    api.delete("p4", &DeleteParams::default()).await.unwrap();
    let gone = common::wait_until(Duration::from_secs(30), || {
        let api = api.clone();
        async move { api.get_opt("p4").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "finalizer released within 30 s");
    println!("finalizer released {:?} after deletion", started.elapsed());
    let note = warning_event(c, "app", "DeleteFailed", "SecretStore/k8s")
        .await
        .expect("a Warning event names the entries left behind");
    assert!(note.contains("\"kept\""), "{note}");
    // Nothing else is removed.
    assert!(remote_where(c, "remote", "kept", Duration::from_secs(1), |s| s.is_some()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_report_errored_and_remove_nothing() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(
        c,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: nokey, namespace: app}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {secretKey: nope, remoteRef: {remoteKey: r, property: p}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: nosource, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: missing}}
  data:
    - match: {remoteRef: {remoteKey: r2}}
"#,
    )
    .await;
    let (reason, message) = ps_ready(c, "app", "nokey", "False", Duration::from_secs(15))
        .await
        .expect("Errored");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("\"nope\"") && message.contains("app/src"),
        "{message}"
    );
    let (reason, message) = ps_ready(c, "app", "nosource", "False", Duration::from_secs(15))
        .await
        .expect("Errored");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("app/missing") && message.contains("does not exist"),
        "{message}"
    );
    warning_event(c, "app", "Errored", "app/missing")
        .await
        .expect("Warning event");
    // The source appears: the push completes by itself.
    apply(
        c,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: missing, namespace: app}\nstringData: {a: b}\n",
    )
    .await;
    assert!(remote_where(c, "remote", "r2", Duration::from_secs(10), |s| s.is_some()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_cross_cluster_push_follows_the_source_and_survives_an_outage() {
    // The dev (target) cluster, with the seed's ServiceAccount, Role and token Secret.
    let dev = TestCluster::start(esox_testcluster::Config::default())
        .await
        .unwrap();
    let dev_client = dev.client().await.unwrap();
    apply(
        &dev_client,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: foo}\n",
    )
    .await;
    apply_in(
        &dev_client,
        "foo",
        &common::seed("3-cross-cluster-dev.yaml"),
    )
    .await;
    let dev_secrets: Api<Secret> = Api::namespaced(dev_client.clone(), "foo");
    let token = common::wait_until(Duration::from_secs(10), || {
        let s = dev_secrets.clone();
        async move {
            let t = s.get("eso-token").await.ok()?;
            (value(&t, "token").is_some() && value(&t, "ca.crt").is_some()).then_some(t)
        }
    })
    .await
    .expect("the token controller fills eso-token");

    // The platform (source) cluster runs esox.
    let env = Env::start().await;
    let c = &env.client;
    apply(
        c,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: foo}\n",
    )
    .await;
    let mut copy = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("eso-token".into()),
            namespace: Some("foo".into()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: token.data.clone(),
        ..Default::default()
    };
    copy.data
        .as_mut()
        .unwrap()
        .retain(|k, _| k == "token" || k == "ca.crt");
    env.api::<Secret>("foo")
        .create(&PostParams::default(), &copy)
        .await
        .unwrap();
    apply(
        c,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: my-secret, namespace: foo}\nstringData: {username: harbor, password: first}\n",
    )
    .await;
    let platform = common::seed("4-cross-cluster-platform.yaml")
        .replace("<url du cluster dev>:6443", &dev.addr().to_string());
    apply_in(c, "foo", &platform).await;

    let synced = remote_where(
        &dev_client,
        "foo",
        "my-secret",
        Duration::from_secs(20),
        |s| s.and_then(|s| value(s, "password")).as_deref() == Some(b"first"),
    )
    .await;
    let status = env
        .api::<PushSecret>("foo")
        .get("push-my-secret-to-dev")
        .await
        .unwrap()
        .status;
    assert!(synced, "never pushed; status {status:?}");
    let remote: Secret = dev_secrets.get("my-secret").await.unwrap();
    assert_eq!(value(&remote, "username").unwrap(), b"harbor");

    let mut delays = Vec::new();
    for round in 0..10 {
        let v = format!("rotated-{round}");
        let started = Instant::now();
        patch_source(c, "foo", "my-secret", "password", &v).await;
        let arrived = remote_where(
            &dev_client,
            "foo",
            "my-secret",
            Duration::from_secs(5),
            |s| s.and_then(|s| value(s, "password")).as_deref() == Some(v.as_bytes()),
        )
        .await;
        assert!(arrived, "round {round}: the change never arrived");
        delays.push(started.elapsed());
    }
    println!("cross-cluster source change to dev: {delays:?}");
    assert!(
        delays.iter().all(|d| *d < Duration::from_secs(3)),
        "{delays:?}"
    );

    // The dev cluster goes away for a while; a change made meanwhile is reported, then pushed
    // when it comes back, without touching the PushSecret.
    // 20 s: long enough that an error backoff doubling past 4 s would retry more than 5 s after
    // the dev cluster answers again.
    let outage = dev.restart_after(Duration::from_secs(20));
    let observe = async {
        // The change is made once the dev cluster no longer answers.
        let down = common::wait_until(Duration::from_secs(5), || async {
            dev_secrets
                .get_opt("my-secret")
                .await
                .is_err()
                .then_some(())
        })
        .await;
        assert!(down.is_some(), "the dev cluster goes down");
        patch_source(c, "foo", "my-secret", "password", "during-outage").await;
        ps_ready(
            c,
            "foo",
            "push-my-secret-to-dev",
            "False",
            Duration::from_secs(5),
        )
        .await
    };
    let (restarted, errored) = tokio::join!(outage, observe);
    restarted.unwrap();
    let (reason, message) = errored.expect("Ready=False while the dev cluster is down");
    println!("during the outage: {reason}: {message}");
    assert_eq!(reason, "Errored");
    assert!(message.contains("foo-secret-store-dev"), "{message}");
    let back = Instant::now();
    let recovered = remote_where(
        &dev_client,
        "foo",
        "my-secret",
        Duration::from_secs(40),
        |s| s.and_then(|s| value(s, "password")).as_deref() == Some(b"during-outage"),
    )
    .await;
    assert!(recovered, "the push never completed after the outage");
    let took = back.elapsed();
    println!("pushed {took:?} after the dev cluster came back");
    assert!(
        took <= Duration::from_secs(5),
        "a change made during the outage was pushed {took:?} after the dev cluster answered, more than 5 s"
    );
    ps_ready(
        c,
        "foo",
        "push-my-secret-to-dev",
        "True",
        Duration::from_secs(10),
    )
    .await
    .expect("Ready again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_cluster_releases_the_finalizer_within_30_seconds() {
    let dev = TestCluster::start(esox_testcluster::Config::default())
        .await
        .unwrap();
    let dev_client = dev.client().await.unwrap();
    apply(
        &dev_client,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: remote}\n",
    )
    .await;
    let env = Env::start().await;
    let c = &env.client;
    let creds = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "dev-creds", "namespace": "app"},
        "stringData": {"token": dev.admin_token(), "ca.crt": dev.ca_pem()},
    });
    apply(
        c,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n",
    )
    .await;
    apply(c, &creds.to_string()).await;
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata: {{name: src, namespace: app}}
stringData: {{a: b}}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {{name: dev, namespace: app}}
spec:
  provider:
    kubernetes:
      remoteNamespace: remote
      server:
        url: {}
        caProvider: {{type: Secret, name: dev-creds, key: ca.crt}}
      auth:
        token:
          bearerToken: {{name: dev-creds, key: token}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {{name: gone, namespace: app}}
spec:
  deletionPolicy: Delete
  secretStoreRefs: [{{name: dev}}]
  selector: {{secret: {{name: src}}}}
  data:
    - match: {{remoteRef: {{remoteKey: copy}}}}
"#,
            dev.url()
        ),
    )
    .await;
    assert!(
        remote_where(
            &dev_client,
            "remote",
            "copy",
            Duration::from_secs(15),
            |s| s.is_some()
        )
        .await
    );
    dev.shutdown();
    let started = Instant::now();
    let api: Api<PushSecret> = env.api("app");
    api.delete("gone", &DeleteParams::default()).await.unwrap();
    let gone = common::wait_until(Duration::from_secs(30), || {
        let api = api.clone();
        async move { api.get_opt("gone").await.ok()?.is_none().then_some(()) }
    })
    .await;
    assert!(gone.is_some(), "finalizer released within 30 s");
    println!(
        "unreachable target: finalizer released {:?} after deletion",
        started.elapsed()
    );
    let note = warning_event(c, "app", "DeleteFailed", "SecretStore/dev")
        .await
        .expect("a Warning event names the entries left behind");
    assert!(note.contains("\"copy\""), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_reports_errored_then_recovers_by_itself() {
    let env = Env::start_in_memory().await;
    setup(&env).await;
    let c = &env.client;
    // The target refuses to create Secrets, as with a Role lacking `create`.
    let fault = env.cluster.faults().fail(
        esox_testcluster::FaultMatch {
            verb: Some("create".into()),
            resource: Some("secrets".into()),
            namespace: Some("remote".into()),
            name: None,
        },
        403,
        None,
    );
    apply(
        c,
        r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: refused, namespace: app}
spec:
  secretStoreRefs: [{name: k8s}]
  selector: {secret: {name: src}}
  data:
    - match: {remoteRef: {remoteKey: out}}
"#,
    )
    .await;
    let (reason, message) = ps_ready(c, "app", "refused", "False", Duration::from_secs(15))
        .await
        .expect("Errored");
    println!("refused write: {message}");
    assert_eq!(reason, "Errored");
    assert!(
        message.contains("remote ref out") && message.contains("SecretStore/k8s"),
        "{message}"
    );
    warning_event(c, "app", "Errored", "remote ref out")
        .await
        .expect("Warning event");
    env.cluster.faults().remove(fault);
    let started = Instant::now();
    assert!(remote_where(c, "remote", "out", Duration::from_secs(70), |s| s.is_some()).await);
    println!(
        "pushed {:?} after the permission came back",
        started.elapsed()
    );
    ps_ready(c, "app", "refused", "True", Duration::from_secs(10))
        .await
        .expect("Ready again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_with_push_secrets_never_hangs() {
    let env = Env::start().await;
    setup(&env).await;
    let c = &env.client;
    apply(c, &DELETE_POLICY_PUSH.replace("KEY", "ns-copy")).await;
    ps_ready(c, "app", "p4", "True", Duration::from_secs(15))
        .await
        .expect("synced");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    let started = Instant::now();
    namespaces
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let gone = common::wait_until(Duration::from_secs(30), || {
        let namespaces = namespaces.clone();
        async move {
            namespaces
                .get_opt("app")
                .await
                .ok()?
                .is_none()
                .then_some(())
        }
    })
    .await;
    assert!(gone.is_some(), "namespace deleted within 30 s");
    println!(
        "namespace with a PushSecret deleted in {:?}",
        started.elapsed()
    );
}
