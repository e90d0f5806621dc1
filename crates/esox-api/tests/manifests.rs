//! Reading manifests: the seed's, round trips of every kind, and the errors people get.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::path::PathBuf;

use esox_api::manifest::{Document, ManifestError, parse_documents, to_typed};
use esox_api::v1::{ClusterExternalSecret, ClusterSecretStore, ExternalSecret, SecretStore};
use esox_api::v1alpha1::{ClusterPushSecret, PushSecret};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn seed(name: &str) -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/seed")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path.display().to_string(), text)
}

/// Typed read, then write and read again: nothing may be lost or changed on the way.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    file: &str,
    doc: &Document,
) -> T {
    let typed: T = to_typed(file, doc).unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&typed).unwrap();
    let again: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(typed, again);
    // Every field the user wrote survives (defaults may add fields, never remove any).
    assert_contains(&doc.value, &json, "");
    typed
}

fn assert_contains(want: &serde_json::Value, got: &serde_json::Value, path: &str) {
    match (want, got) {
        (serde_json::Value::Object(w), serde_json::Value::Object(g)) => {
            for (k, v) in w {
                // v1beta1 objects are read into the v1 types, as the API server does with strategy None.
                if path.is_empty() && k == "apiVersion" {
                    continue;
                }
                let child = format!("{path}.{k}");
                let gv = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{child} lost in round trip"));
                assert_contains(v, gv, &child);
            }
        }
        (serde_json::Value::Array(w), serde_json::Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path} changed length in round trip");
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                assert_contains(wv, gv, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(want, got, "{path} changed in round trip"),
    }
}

#[test]
fn seed_namespace_sync_manifests_read_unchanged() {
    let (file, text) = seed("1-namespace-sync-clustersecretstore.yaml");
    let docs = parse_documents(&file, &text).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].api_version(), "external-secrets.io/v1beta1");
    let css: ClusterSecretStore = round_trip(&file, &docs[0]);
    let k8s = css
        .spec
        .store
        .provider
        .kubernetes
        .as_ref()
        .expect("kubernetes provider");
    assert_eq!(k8s.remote_namespace, "foo");
    let ca = k8s
        .server
        .as_ref()
        .and_then(|s| s.ca_provider.as_ref())
        .expect("caProvider");
    assert_eq!(
        (ca.name.as_str(), ca.key.as_str(), ca.namespace.as_deref()),
        ("kube-root-ca.crt", "ca.crt", Some("foo"))
    );
    let sa = k8s
        .auth
        .as_ref()
        .and_then(|a| a.service_account.as_ref())
        .expect("serviceAccount");
    assert_eq!(
        (sa.name.as_str(), sa.namespace.as_deref()),
        ("external-secrets", Some("argocd"))
    );
    assert_eq!(
        css.spec.store.provider.configured().unwrap().key(),
        "kubernetes"
    );

    let (file, text) = seed("2-namespace-sync-externalsecret.yaml");
    let docs = parse_documents(&file, &text).unwrap();
    let es: ExternalSecret = round_trip(&file, &docs[0]);
    assert_eq!(es.spec.target.name.as_deref(), Some("my-secret"));
    assert_eq!(es.spec.refresh_interval.as_deref(), Some("1h"));
    assert_eq!(
        es.spec.data_from[0]
            .extract
            .as_ref()
            .map(|r| r.key.as_str()),
        Some("my-secret")
    );
    let store = es.spec.secret_store_ref.as_ref().unwrap();
    assert_eq!(
        store.kind,
        Some(esox_api::v1::StoreKind::ClusterSecretStore)
    );
}

#[test]
fn seed_cross_cluster_manifests_read_unchanged() {
    let (file, text) = seed("4-cross-cluster-platform.yaml");
    let docs = parse_documents(&file, &text).unwrap();
    assert_eq!(docs.len(), 2);
    let ss: SecretStore = round_trip(&file, &docs[0]);
    let k8s = ss.spec.provider.kubernetes.as_ref().unwrap();
    assert_eq!(
        k8s.server.as_ref().unwrap().url,
        "https://<url du cluster dev>:6443"
    );
    let token = &k8s
        .auth
        .as_ref()
        .unwrap()
        .token
        .as_ref()
        .unwrap()
        .bearer_token;
    assert_eq!(
        (token.name.as_str(), token.key.as_str()),
        ("eso-token", "token")
    );
    let ps: PushSecret = round_trip(&file, &docs[1]);
    assert_eq!(
        ps.spec.selector.secret.as_ref().unwrap().name.as_deref(),
        Some("my-secret")
    );
    assert_eq!(ps.spec.data[0].match_.remote_ref.remote_key, "my-secret");
    assert_eq!(
        ps.spec.deletion_policy,
        esox_api::v1alpha1::PushDeletionPolicy::None
    );

    // The Dev-cluster manifest holds only core kinds, but it must parse as a stream.
    let (file, text) = seed("3-cross-cluster-dev.yaml");
    let kinds: Vec<String> = parse_documents(&file, &text)
        .unwrap()
        .iter()
        .map(|d| d.kind().to_owned())
        .collect();
    assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding", "Secret"]);
}

const EVERY_KIND: &str = r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: full, namespace: app}
spec:
  secretStoreRef: {name: vault, kind: SecretStore}
  refreshPolicy: Periodic
  refreshInterval: 15m
  syncWindows: {kind: deny, windows: [{schedule: "0 2 * * *", duration: 1h}]}
  target:
    name: app-secret
    creationPolicy: CreateOrMerge
    deletionPolicy: Merge
    immutable: true
    template:
      type: kubernetes.io/dockerconfigjson
      engineVersion: v2
      mergePolicy: Merge
      metadata: {labels: {a: b}, annotations: {c: d}, finalizers: [example.com/keep]}
      data: {".dockerconfigjson": "{{ .cfg | toString }}"}
      templateFrom:
        - configMap: {name: tpl, items: [{key: conf, templateAs: KeysAndValues}]}
        - secret: {name: tpl2, items: [{key: x}]}
          target: Annotations
        - literal: "k: v"
          valuesDecodingStrategy: Base64
  data:
    - secretKey: password
      remoteRef: {key: db, property: password, version: "2", metadataPolicy: None, conversionStrategy: Default, decodingStrategy: Auto, nullBytePolicy: Fail}
      sourceRef: {storeRef: {name: other, kind: ClusterSecretStore}}
  dataFrom:
    - extract: {key: db}
      rewrite:
        - regexp: {source: "(.*)", target: "db_$1"}
        - transform: {template: "{{ .value | upper }}"}
        - merge: {into: all, priority: [a], priorityPolicy: IgnoreNotFound, conflictPolicy: Ignore, strategy: JSON}
    - find: {path: /app, name: {regexp: "^db"}, tags: {env: prod}, conversionStrategy: Unicode, decodingStrategy: Base64URL}
    - sourceRef: {generatorRef: {apiVersion: generators.external-secrets.io/v1alpha1, kind: Password, name: pw}}
---
apiVersion: external-secrets.io/v1
kind: ClusterExternalSecret
metadata: {name: ces}
spec:
  externalSecretName: child
  externalSecretMetadata: {labels: {team: a}, annotations: {note: x}}
  namespaceSelector: {matchLabels: {env: dev}}
  namespaceSelectors: [{matchExpressions: [{key: tier, operator: In, values: [web]}]}]
  namespaces: [one, two]
  refreshTime: 1m
  externalSecretSpec:
    secretStoreRef: {name: css, kind: ClusterSecretStore}
    dataFrom: [{extract: {key: shared}}]
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: fake, namespace: app}
spec:
  controller: dev
  refreshInterval: 300
  retrySettings: {maxRetries: 3, retryInterval: 10s}
  provider:
    fake:
      data: [{key: a, value: b, version: v1}]
---
apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: {name: kube}
spec:
  refreshInterval: 5m
  conditions:
    - namespaces: [a]
      namespaceRegexes: ["^team-"]
      namespaceSelector: {matchLabels: {x: "z"}}
  provider:
    kubernetes:
      remoteNamespace: src
      server: {url: "https://10.0.0.1:6443", caBundle: "LS0tLS1CRUdJTg=="}
      auth: {cert: {clientCert: {name: c, key: tls.crt, namespace: ns}, clientKey: {name: c, key: tls.key, namespace: ns}}}
---
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata: {name: ps, namespace: app}
spec:
  refreshInterval: 10m
  updatePolicy: IfNotExists
  deletionPolicy: Delete
  secretStoreRefs:
    - {name: s1, kind: SecretStore}
    - {labelSelector: {matchLabels: {push: "yes"}}, kind: ClusterSecretStore}
  selector: {secret: {selector: {matchLabels: {app: x}}}}
  data:
    - match: {secretKey: k, remoteRef: {remoteKey: r, property: p}}
      conversionStrategy: ReverseUnicode
      metadata:
        apiVersion: kubernetes.external-secrets.io/v1alpha1
        kind: PushSecretMetadata
        spec: {targetMergePolicy: Replace, labels: {a: b}}
  dataTo:
    - storeRef: {name: s1}
      match: {regexp: "^db"}
      rewrite: [{regexp: {source: "^db", target: "app"}}]
    - storeRef: {name: s1}
      remoteKey: bundle
  template:
    data: {k: "{{ .k }}"}
---
apiVersion: external-secrets.io/v1alpha1
kind: ClusterPushSecret
metadata: {name: cps}
spec:
  pushSecretName: child
  pushSecretMetadata: {labels: {a: b}}
  namespaceSelectors: [{matchLabels: {push: "true"}}]
  refreshTime: 1m
  pushSecretSpec:
    secretStoreRefs: [{name: s1}]
    selector: {secret: {name: src}}
    data: [{match: {remoteRef: {remoteKey: whole}}}]
"#;

#[test]
fn every_kind_round_trips_with_every_field() {
    let docs = parse_documents("every-kind.yaml", EVERY_KIND).unwrap();
    assert_eq!(docs.len(), 6);
    let es: ExternalSecret = round_trip("f", &docs[0]);
    assert_eq!(es.spec.data_from.len(), 3);
    let _: ClusterExternalSecret = round_trip("f", &docs[1]);
    let ss: SecretStore = round_trip("f", &docs[2]);
    assert_eq!(ss.spec.provider.configured().unwrap().key(), "fake");
    let css: ClusterSecretStore = round_trip("f", &docs[3]);
    assert_eq!(
        css.spec
            .store
            .provider
            .kubernetes
            .as_ref()
            .unwrap()
            .server
            .as_ref()
            .unwrap()
            .ca_bundle
            .as_ref()
            .unwrap()
            .0,
        b"-----BEGIN"
    );
    let _: PushSecret = round_trip("f", &docs[4]);
    let _: ClusterPushSecret = round_trip("f", &docs[5]);
}

#[test]
fn v1beta1_manifests_read_into_the_same_types() {
    let beta = EVERY_KIND.replace("external-secrets.io/v1\n", "external-secrets.io/v1beta1\n");
    let docs = parse_documents("beta.yaml", &beta).unwrap();
    assert_eq!(docs[0].api_version(), "external-secrets.io/v1beta1");
    let _: ExternalSecret = round_trip("beta.yaml", &docs[0]);
    let _: SecretStore = round_trip("beta.yaml", &docs[2]);
}

#[test]
fn non_breaking_space_is_named_with_its_position() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata:\n\u{a0}name: x\n";
    let err = parse_documents("page.yaml", text).unwrap_err();
    assert!(
        matches!(
            err,
            ManifestError::NonBreakingSpace {
                line: 4,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("page.yaml:4:1") && msg.contains("U+00A0") && msg.contains("plain space"),
        "{msg}"
    );
}

#[test]
fn yaml_syntax_error_names_file_line_and_column() {
    let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: [unclosed\n";
    let msg = parse_documents("broken.yaml", text)
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("broken.yaml: invalid YAML"), "{msg}");
    assert!(
        msg.contains("line") || msg.contains(":5:") || msg.contains(":4:"),
        "no position in: {msg}"
    );
}

#[test]
fn unknown_field_is_named_by_its_path() {
    let text = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: x}\nspec:\n  target: {nmae: y}\n  dataFrom: [{extract: {key: k}}]\n";
    let docs = parse_documents("typo.yaml", text).unwrap();
    let msg = to_typed::<ExternalSecret>("typo.yaml", &docs[0])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("unknown field spec.target.nmae"), "{msg}");
    assert!(msg.contains("ExternalSecret x"), "{msg}");
}

#[test]
fn wrong_type_is_named_by_its_path() {
    let text = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: x}\nspec:\n  data:\n    - secretKey: a\n      remoteRef: {key: [not, a, string]}\n";
    let docs = parse_documents("type.yaml", text).unwrap();
    let msg = to_typed::<ExternalSecret>("type.yaml", &docs[0])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("field spec.data[0].remoteRef.key"), "{msg}");
}

#[test]
fn unknown_provider_gets_a_clear_error() {
    let text = "apiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: x}\nspec:\n  provider:\n    vaulty: {server: x}\n";
    let docs = parse_documents("p.yaml", text).unwrap();
    let msg = to_typed::<SecretStore>("p.yaml", &docs[0])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("spec.provider") && msg.contains("vaulty"),
        "{msg}"
    );

    // An ESO provider esox does not implement parses, and says so when selected.
    let text = text.replace("vaulty: {server: x}", "akeyless: {akeylessGWApiURL: x}");
    let docs = parse_documents("p.yaml", &text).unwrap();
    let store: SecretStore = to_typed("p.yaml", &docs[0]).unwrap();
    let msg = store.spec.provider.configured().unwrap_err().to_string();
    assert!(
        msg.contains("akeyless") && msg.contains("does not implement"),
        "{msg}"
    );
}
