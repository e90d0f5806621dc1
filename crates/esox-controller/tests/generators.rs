//! Generators referenced from `dataFrom[].sourceRef.generatorRef`, end to end against the test
//! cluster: a value is generated on refresh only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;

use std::time::Duration;

use common::{Env, apply, value};

const PASSWORD_ES: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: gen}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: Password
metadata: {name: db-password, namespace: gen}
spec: {}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: db, namespace: gen}
spec:
  refreshInterval: 1h
  target: {name: db-secret}
  dataFrom:
    - sourceRef:
        generatorRef:
          apiVersion: generators.external-secrets.io/v1alpha1
          kind: Password
          name: db-password
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_is_generated_once_and_again_on_force_sync() {
    let env = Env::start().await;
    apply(&env.client, PASSWORD_ES).await;
    let s = env
        .secret_where("gen", "db-secret", |s| value(s, "password").is_some())
        .await
        .expect("target Secret with a password");
    let first = value(&s, "password").unwrap();
    assert_eq!(first.len(), 24, "{}", String::from_utf8_lossy(&first));
    let digits = first.iter().filter(|b| b.is_ascii_digit()).count();
    assert_eq!(digits, 6);

    // No refresh is due within the hour: the value stays. Nothing must happen, so there is no
    // event to wait for; the force-sync below is the positive control that regenerates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> = env.api("gen");
    let again = api.get("db-secret").await.unwrap();
    assert_eq!(value(&again, "password").unwrap(), first);

    // A force-sync annotation change refreshes, which generates a new password.
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db
  namespace: gen
  annotations: {external-secrets.io/force-sync: "1"}
spec:
  refreshInterval: 1h
  target: {name: db-secret}
  dataFrom:
    - sourceRef:
        generatorRef:
          apiVersion: generators.external-secrets.io/v1alpha1
          kind: Password
          name: db-password
"#,
    )
    .await;
    let changed = env
        .secret_where("gen", "db-secret", |s| {
            value(s, "password").is_some_and(|v| v != first)
        })
        .await
        .expect("a new password after force-sync");
    assert_eq!(value(&changed, "password").unwrap().len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_generator_uuid_with_rewrite_and_unsupported_kind() {
    let env = Env::start().await;
    apply(
        &env.client,
        r#"
apiVersion: v1
kind: Namespace
metadata: {name: gen}
---
apiVersion: generators.external-secrets.io/v1alpha1
kind: ClusterGenerator
metadata: {name: ids}
spec:
  kind: UUID
  generator:
    uuidSpec: {}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: ids, namespace: gen}
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef:
        generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ClusterGenerator, name: ids}
      rewrite:
        - regexp: {source: "uuid", target: "request-id"}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: ecr, namespace: gen}
spec:
  refreshInterval: 1h
  dataFrom:
    - sourceRef:
        generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: ECRAuthorizationToken, name: ecr}
"#,
    )
    .await;
    let s = env
        .secret_where("gen", "ids", |s| value(s, "request-id").is_some())
        .await
        .expect("target Secret with the rewritten uuid key");
    let id = String::from_utf8(value(&s, "request-id").unwrap()).unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(&id[14..15], "4", "version 4: {id}");
    assert!(value(&s, "uuid").is_none());

    let (_, message) = env
        .es_ready("gen", "ecr", "False")
        .await
        .expect("ecr fails");
    assert!(
        message.contains("ECRAuthorizationToken") && message.contains("not supported"),
        "{message}"
    );
}
