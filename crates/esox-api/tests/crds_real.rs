//! esox's CRDs install where users install them. The judges are Kubernetes' own code: the API
//! server the tests run on (a real kube-apiserver with `ESOX_TEST_KUBECONFIG`, else esox's
//! in-memory one), and Kubernetes 1.24's CRD validation with its CEL gate on (`tools/crd-check`,
//! built from the Go module k8s.io/apiextensions-apiserver v0.24), whose cost estimator is the
//! strictest and which no API server built here can run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use esox_testenv::Cluster;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bundle() -> String {
    std::fs::read_to_string(repo().join("deploy/crds/bundle.yaml")).expect("bundle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checked_in_bundle_installs_and_every_crd_is_established() {
    let cluster = Cluster::start().await.expect("cluster");
    let client = cluster.client().await.expect("client");
    // As a user does: `kubectl apply --server-side -f deploy/crds/bundle.yaml`.
    esox_testcluster::apply_yaml(&client, &bundle(), None, "kubectl")
        .await
        .unwrap_or_else(|e| panic!("the API server refused the bundle: {e}"));
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let expected = esox_api::crd::all(&Default::default());
    for crd in &expected {
        let name = crd.metadata.name.clone().unwrap();
        let established = wait_established(&api, &name).await;
        assert!(established, "{name} not Established within 30 s");
    }
    assert_eq!(expected.len(), 14);
}

async fn wait_established(api: &Api<CustomResourceDefinition>, name: &str) -> bool {
    for _ in 0..300 {
        let conditions = api
            .get(name)
            .await
            .ok()
            .and_then(|c| c.status)
            .and_then(|s| s.conditions)
            .unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// `tools/crd-check`, built once per source version into a cache outside the checkout.
fn crd_check() -> Option<PathBuf> {
    let dir = repo().join("tools/crd-check");
    let go = Command::new("go").arg("version").output();
    if go.is_err() {
        assert!(
            std::env::var_os("ESOX_REQUIRE_GO_ORACLE").is_none(),
            "Go is required (ESOX_REQUIRE_GO_ORACLE) but not on PATH"
        );
        eprintln!("skipping: Go is not installed");
        return None;
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let cache = std::env::var_os("ESOX_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/esox"));
    // Keyed by the sources, so a change to the tool rebuilds it.
    let mut key = 0u64;
    for f in ["main.go", "go.mod", "go.sum"] {
        for b in std::fs::read(dir.join(f)).unwrap() {
            key = key
                .wrapping_mul(1_099_511_628_211)
                .wrapping_add(u64::from(b));
        }
    }
    let out = cache.join(format!("tools/crd-check-{key:016x}/crd-check"));
    if !out.exists() {
        let status = Command::new("go")
            .args(["build", "-mod=readonly", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(&dir)
            .status()
            .expect("go build runs");
        assert!(status.success(), "building tools/crd-check failed");
    }
    Some(out)
}

fn run_crd_check(tool: &Path, yaml: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_crd_passes_kubernetes_1_24_validation_with_cel_on() {
    let Some(tool) = crd_check() else { return };
    let (ok, report) = run_crd_check(&tool, &bundle());
    println!("{report}");
    assert!(ok, "Kubernetes 1.24 refuses a CRD:\n{report}");
    assert!(report.contains("14 checked, 0 refused"), "{report}");
}

#[test]
fn the_1_24_check_refuses_what_1_24_refuses() {
    // Positive control: the check can fail. `has(a) != has(b)` on PushSecret's rewrites is the
    // form that 1.24's estimator prices as unbounded, which is what users met.
    let Some(tool) = crd_check() else { return };
    let bundle = bundle();
    let cheap = "has(self.regexp) ? !has(self.transform) : has(self.transform)";
    assert!(bundle.contains(cheap), "the rule is in the bundle");
    let costly = bundle.replace(cheap, "has(self.regexp) != has(self.transform)");
    let (ok, report) = run_crd_check(&tool, &costly);
    assert!(!ok, "{report}");
    assert!(
        report.contains("estimated rule cost exceeds budget"),
        "{report}"
    );
    assert!(report.contains("14 checked, 2 refused"), "{report}");
}

/// The API server's verdict on a CRD: a dry-run create (nothing is stored).
async fn server_accepts(client: &kube::Client, crd: &serde_json::Value) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(crd.clone()).unwrap();
    let params = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    match api.create(&params, &crd).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 422 => Err(s.message),
        Err(e) => panic!("dry-run create failed for another reason: {e}"),
    }
}

/// Moves a CRD to another group, so a dry-run create does not collide with the installed one.
fn regrouped(mut crd: serde_json::Value) -> serde_json::Value {
    let group = "agreement.esox.test";
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap().to_owned();
    crd["spec"]["group"] = group.into();
    crd["metadata"] = serde_json::json!({"name": format!("{plural}.{group}")});
    crd["apiVersion"] = "apiextensions.k8s.io/v1".into();
    crd["kind"] = "CustomResourceDefinition".into();
    crd
}

fn synthetic(names: serde_json::Value, rule: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.agreement.esox.test"},
        "spec": {
            "group": "agreement.esox.test",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object",
                    "properties": {"names": names},
                    "x-kubernetes-validations": [{"rule": rule}],
                }}}},
            }],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esox_schema_accepts_and_refuses_the_crds_the_api_server_does() {
    // esox-schema (which the in-memory server uses) is kept only while it agrees with the API
    // server the tests run on; on the real one, this is the check.
    let cluster = Cluster::start().await.expect("cluster");
    let client = cluster.client().await.expect("client");
    let mut cases: Vec<(String, serde_json::Value)> = esox_api::crd::all(&Default::default())
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap();
            (name, regrouped(serde_json::to_value(crd).unwrap()))
        })
        .collect();
    let costly = bundle().replace(
        "has(self.regexp) ? !has(self.transform) : has(self.transform)",
        "has(self.regexp) != has(self.transform)",
    );
    for doc in costly.split("\n---\n") {
        if doc.contains("name: pushsecrets.external-secrets.io") {
            let value: serde_json::Value = serde_saphyr::from_str(doc).unwrap();
            cases.push(("pushsecrets with has() != has()".into(), regrouped(value)));
        }
    }
    let unbounded = serde_json::json!({"type": "array", "items": {"type": "string"}});
    let bounded = serde_json::json!({"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 64}});
    let rule = "self.names.all(n, n.matches('^[a-z]+$'))";
    cases.push((
        "unbounded strings scanned".into(),
        synthetic(unbounded, rule),
    ));
    cases.push(("bounded strings scanned".into(), synthetic(bounded, rule)));

    let mut refused_by_server = 0;
    for (name, crd) in &cases {
        let server = server_accepts(&client, crd).await;
        let ours = esox_schema::validate_crd(crd).map_err(|e| format!("{e:?}"));
        println!(
            "{name}: server {:?}, esox-schema {:?}",
            server.is_ok(),
            ours.is_ok()
        );
        assert_eq!(
            server.is_ok(),
            ours.is_ok(),
            "{name}: the API server says {server:?}, esox-schema says {ours:?}"
        );
        refused_by_server += usize::from(server.is_err());
    }
    // Positive control: the cases include a refusal, so agreement is not just "both accept".
    assert!(refused_by_server >= 1, "no case was refused");
}
