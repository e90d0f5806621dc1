#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

//! A template whose rendered output does not parse fails without quoting the output, which holds
//! secret values (issue 15's reproduction: a `templateFrom` literal rendering `*SuperSecretValue123`,
//! read as a YAML alias, used to fail with a message quoting that line into the Ready condition,
//! a Warning Event and the log).

mod common;

use std::time::Duration;

use common::{Env, apply, fake_store};

const SECRET: &str = "*SuperSecretValue123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendered_template_that_does_not_parse_is_reported_without_its_text() {
    let env = Env::start().await;
    apply(&env.client, &fake_store("app", &[("pw", SECRET)])).await;
    apply(
        &env.client,
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: leaky, namespace: app}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: fake}
  data: [{secretKey: password, remoteRef: {key: pw}}]
  target:
    template:
      templateFrom: [{literal: "{{ .password }}"}]
"#,
    )
    .await;
    let message = env
        .es_ready_because("app", "leaky", "False", "SecretSyncedError")
        .await
        .expect("the ExternalSecret reports the template error");
    assert!(message.contains("YAML"), "names the problem: {message}");
    assert!(!message.contains("SuperSecretValue123"), "{message}");

    let events: kube::Api<k8s_openapi::api::events::v1::Event> = env.api("app");
    let notes = common::wait_until(Duration::from_secs(10), || async {
        let list = events.list(&Default::default()).await.ok()?;
        let notes: Vec<String> = list
            .items
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .filter_map(|e| e.note)
            .collect();
        (!notes.is_empty()).then_some(notes)
    })
    .await
    .expect("a Warning Event");
    for note in notes {
        assert!(!note.contains("SuperSecretValue123"), "{note}");
    }
}
