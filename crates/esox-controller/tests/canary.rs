//! Secret values never reach a condition, an Event, a log line or a metric: known canary values
//! are pushed through every provider and controller error path the Kubernetes provider and the
//! PushSecret controller have (bad decoding, bad properties and JSON, remote error bodies that
//! echo a value, null bytes under `nullBytePolicy: Fail`, missing keys, bad push metadata),
//! then everything esox wrote is searched. Templates of ExternalSecrets and PushSecrets are
//! among them (YAML from `templateFrom`, `mustToDate`, `urlParse`, `mustFromJson`, `semver`, regexes); every
//! function's error paths are covered by the template engine's own canary test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

mod common;
mod ps_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::{Env, apply};
use esox_api::v1::ExternalSecret;
use esox_api::v1alpha1::PushSecret;
use esox_testcluster::{FaultAction, FaultMatch};
use kube::Api;

const CANARY_A: &str = "CANARY!a1b2c3SuperSecretValue";
const CANARY_B: &str = "CANARYd4e5f6{not json";
const CANARY_C: &str = "CANARYg7h8i9EchoedByTheServer";
const CANARY_D: &str = "CANARYj0k1l2PushedValue";
const CANARY_E: &str = "CANARYm3n4o5ConvertedValue";

/// Every form a value may take on its way out: as is, base64 (Secret data), and JSON-quoted.
fn forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for c in [CANARY_A, CANARY_B, CANARY_C, CANARY_D, CANARY_E] {
        out.push(c.to_owned());
        out.push(b64.encode(c));
        // A prefix catches values cut or escaped in a message.
        out.push(c[..16].to_owned());
    }
    out
}

/// Collects every log line of the process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn es(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  refreshInterval: 1h\n  secretStoreRef: {{name: k8s}}\n{spec}\n---\n"
    )
}

fn ps(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  secretStoreRefs: [{{name: k8s}}]\n  selector: {{secret: {{name: canary-src}}}}\n{spec}\n---\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_values_appear_in_no_condition_event_log_or_metric() {
    // Everything at debug, with the directives `esox run` always adds.
    let logs = Captured::default();
    let mut filter =
        tracing_subscriber::EnvFilter::new("debug,hyper=info,h2=info,rustls=info,tower=info");
    for d in esox_controller::LOG_SAFETY_DIRECTIVES {
        filter = filter.add_directive(d.parse().unwrap());
    }
    tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_env_filter(filter)
        .with_ansi(false)
        .init();

    let env = Env::start().await;
    common::kube_store(&env, "").await;
    let c = &env.client;
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata: {{name: vault, namespace: remote}}
stringData:
  notb64: "{CANARY_A}"
  notjson: "{CANARY_B}"
  nul: "{CANARY_E}\0"
---
apiVersion: v1
kind: Secret
metadata: {{name: canary-src, namespace: app}}
stringData: {{pw: "{CANARY_D}"}}
"#
        ),
    )
    .await;
    // The remote server answers reads of `echo` and writes of `push-echo` with a body and a
    // reason that echo a value (as a proxy reflecting a request might).
    // (A create names its object in the body: it is matched by namespace; nothing else is
    // created in `remote`.)
    for (verb, name) in [
        ("get", Some("echo")),
        ("create", None),
        ("get", Some("push-echo")),
    ] {
        env.cluster.faults().add(
            FaultMatch {
                verb: Some(verb.into()),
                resource: Some("secrets".into()),
                namespace: Some("remote".into()),
                name: name.map(str::to_owned),
            },
            FaultAction::Fail {
                code: 500,
                reason: CANARY_C.into(),
                message: format!("upstream said: {CANARY_C} / {CANARY_A}"),
            },
            None,
        );
    }

    let mut manifests = String::new();
    let external_secrets = [
        (
            "bad-base64",
            "  data: [{secretKey: x, remoteRef: {key: vault, property: notb64, decodingStrategy: Base64}}]",
        ),
        (
            "bad-base64-map",
            "  dataFrom: [{extract: {key: vault, decodingStrategy: Base64}}]",
        ),
        (
            "bad-json-property",
            "  dataFrom: [{extract: {key: vault, property: notjson}}]",
        ),
        (
            "bad-gjson-path",
            "  data: [{secretKey: x, remoteRef: {key: vault, property: notjson.deeper.path}}]",
        ),
        (
            "find-bad-base64",
            "  dataFrom: [{find: {name: {regexp: vau}, decodingStrategy: Base64}}]",
        ),
        (
            "null-bytes",
            "  data: [{secretKey: x, remoteRef: {key: vault, property: nul, nullBytePolicy: Fail}}]",
        ),
        (
            "remote-echo",
            "  data: [{secretKey: x, remoteRef: {key: echo}}]",
        ),
        // Templates, through the controller: a templateFrom literal that renders invalid YAML
        // (the parser's own message quotes the line), and functions whose Go errors quote
        // their input.
        (
            "template-yaml",
            "  dataFrom: [{extract: {key: vault}}]\n  target:\n    template:\n      templateFrom:\n      - literal: '[{{ .notb64 }}: {'",
        ),
        (
            "template-todate",
            "  dataFrom: [{extract: {key: vault}}]\n  target:\n    template:\n      data: {x: '{{ mustToDate \"2006-01-02\" .notb64 }}'}",
        ),
        (
            "template-urlparse",
            "  dataFrom: [{extract: {key: vault}}]\n  target:\n    template:\n      data: {x: '{{ urlParse (printf \"http://u:%s@[::1\" .notb64) }}'}",
        ),
        (
            "template-fromjson",
            "  dataFrom: [{extract: {key: vault}}]\n  target:\n    template:\n      data: {x: '{{ mustFromJson .notjson }}'}",
        ),
        (
            "template-semver",
            "  dataFrom: [{extract: {key: vault}}]\n  target:\n    template:\n      data: {x: '{{ semver .notb64 }}'}",
        ),
        (
            "template-regex",
            "  dataFrom: [{extract: {key: vault}}]\n  target:\n    template:\n      data: {x: '{{ mustRegexMatch (printf \"(%s\" .notb64) \"x\" }}'}",
        ),
    ];
    for (name, spec) in external_secrets {
        manifests.push_str(&es(name, spec));
    }
    let push_secrets = [
        (
            "missing-key",
            "  data: [{match: {secretKey: nope, remoteRef: {remoteKey: out, property: p}}}]",
        ),
        (
            "remote-echo-push",
            "  data: [{match: {secretKey: pw, remoteRef: {remoteKey: push-echo, property: p}}}]",
        ),
        (
            "template-push",
            "  data: [{match: {secretKey: pw, remoteRef: {remoteKey: out3, property: p}}}]\n  template:\n    data: {pw: '{{ mustToDate \"2006-01-02\" .pw }}'}",
        ),
        (
            "template-push-yaml",
            "  data: [{match: {secretKey: pw, remoteRef: {remoteKey: out4, property: p}}}]\n  template:\n    templateFrom:\n    - literal: '{{ .pw }}: [: {'",
        ),
        (
            "bad-metadata",
            "  data: [{match: {secretKey: pw, remoteRef: {remoteKey: out2, property: p}}, metadata: {apiVersion: kubernetes.external-secrets.io/v1alpha1, kind: PushSecretMetadata, spec: {sourceMergePolicy: Sideways}}}]",
        ),
    ];
    for (name, spec) in push_secrets {
        manifests.push_str(&ps(name, spec));
    }
    apply(c, &manifests).await;

    // Positive control: every path was taken (each object reports its error).
    let mut messages = Vec::new();
    for (name, _) in external_secrets {
        let Some((reason, message)) = env.es_ready("app", name, "False").await else {
            let es: ExternalSecret = env.api("app").get(name).await.unwrap();
            panic!("{name} reports an error: {:?}", es.status);
        };
        assert_eq!(reason, "SecretSyncedError", "{name}: {message}");
        messages.push(format!("{name}: {message}"));
    }
    for (name, _) in push_secrets {
        let (reason, message) =
            ps_support::ps_ready(c, "app", name, "False", Duration::from_secs(20))
                .await
                .unwrap_or_else(|| panic!("{name} reports an error"));
        assert_eq!(reason, "Errored", "{name}: {message}");
        messages.push(format!("{name}: {message}"));
    }
    // Wait until every object's failure is also in a Warning Event and in the log.
    let events_api: Api<k8s_openapi::api::events::v1::Event> = env.api("app");
    let names: Vec<&str> = external_secrets
        .iter()
        .map(|(n, _)| *n)
        .chain(push_secrets.iter().map(|(n, _)| *n))
        .collect();
    let recorded = common::wait_until(Duration::from_secs(20), || {
        let events_api = events_api.clone();
        let names = names.clone();
        let logs = logs.clone();
        async move {
            let events = events_api.list(&Default::default()).await.ok()?.items;
            let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
            names
                .iter()
                .all(|name| {
                    log.contains(name)
                        && events.iter().any(|e| {
                            e.type_.as_deref() == Some("Warning")
                                && e.regarding.as_ref().and_then(|r| r.name.as_deref())
                                    == Some(*name)
                        })
                })
                .then_some(())
        }
    })
    .await;
    assert!(
        recorded.is_some(),
        "every failure is in an Event and the log"
    );

    // Everything esox wrote: statuses, Events, logs, metrics.
    let mut written = messages.join("\n");
    let es_api: Api<ExternalSecret> = env.api("app");
    for es in es_api.list(&Default::default()).await.unwrap() {
        written.push_str(&serde_json::to_string(&es.status).unwrap());
    }
    let ps_api: Api<PushSecret> = env.api("app");
    for p in ps_api.list(&Default::default()).await.unwrap() {
        written.push_str(&serde_json::to_string(&p.status).unwrap());
    }
    let events: Api<k8s_openapi::api::events::v1::Event> = env.api("app");
    let events = events.list(&Default::default()).await.unwrap().items;
    assert!(
        events.iter().any(|e| e.type_.as_deref() == Some("Warning")),
        "Warning events were recorded"
    );
    for e in &events {
        written.push_str(&serde_json::to_string(e).unwrap());
    }
    let metrics = env.ctx.metrics.render();
    assert!(
        metrics.contains("externalsecret_sync_calls_error"),
        "metrics rendered"
    );
    written.push_str(&metrics);
    let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        log.contains("reconcile failed") && log.contains("bad-base64"),
        "logs were captured"
    );
    written.push_str(&log);

    for form in forms() {
        if let Some(at) = written.find(&form) {
            let start = written[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            let end = (at + form.len() + 100).min(written.len());
            let end = (end..=written.len())
                .find(|i| written.is_char_boundary(*i))
                .unwrap_or(written.len());
            panic!("canary {form:?} leaked:\n...{}...", &written[start..end]);
        }
    }
    println!(
        "searched {} bytes: {} messages, {} events, {} log bytes",
        written.len(),
        messages.len(),
        events.len(),
        log.len()
    );
}
