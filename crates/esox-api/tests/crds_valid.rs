//! The generated CRDs are valid for a Kubernetes 1.24+ API server (structural schemas, CEL rules
//! within the cost budget), and every CEL rule refuses the manifest it exists for, with its message.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use esox_api::crd::{CrdOptions, all, version_schema};
use esox_schema::{CompiledSchema, ValidateOptions, validate_crd_with};
use serde_json::{Value, json};

#[test]
fn every_crd_is_valid_for_kubernetes_1_24() {
    let crds = all(&CrdOptions::default());
    assert_eq!(crds.len(), 11);
    for crd in &crds {
        let json = serde_json::to_value(crd).unwrap();
        if let Err(errors) = validate_crd_with(&json, &ValidateOptions::default()) {
            panic!(
                "{} is refused: {}",
                crd.metadata.name.as_deref().unwrap_or(""),
                esox_schema::format_errors(&errors)
            );
        }
    }
}

#[test]
fn selectable_fields_need_1_30() {
    let crds = all(&CrdOptions {
        selectable_fields: true,
    });
    let es = serde_json::to_value(
        crds.iter()
            .find(|c| c.spec.names.kind == "ExternalSecret")
            .unwrap(),
    )
    .unwrap();
    assert!(
        validate_crd_with(&es, &ValidateOptions::default()).is_err(),
        "1.24 has no selectableFields"
    );
    let new = ValidateOptions {
        kubernetes_minor: 30,
        ..ValidateOptions::default()
    };
    validate_crd_with(&es, &new).unwrap();
}

fn schema(kind: &str, version: &str) -> CompiledSchema {
    let crds = all(&CrdOptions::default());
    let crd = crds.iter().find(|c| c.spec.names.kind == kind).unwrap();
    CompiledSchema::compile(&version_schema(crd, version).unwrap()).unwrap()
}

/// Admits `obj` as the API server would; returns the error messages.
fn refusals(kind: &str, version: &str, mut obj: Value) -> Vec<String> {
    match schema(kind, version).admit(&mut obj, None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn es(spec: Value) -> Value {
    json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "x", "namespace": "n"}, "spec": spec})
}

fn assert_refused(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "expected a refusal containing {needle:?}, got {errors:?}"
    );
}

#[test]
fn a_valid_external_secret_is_admitted() {
    let ok = es(json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "k"}}]}));
    assert_eq!(
        refusals("ExternalSecret", "v1", ok.clone()),
        Vec::<String>::new()
    );
    assert_eq!(
        refusals("ExternalSecret", "v1beta1", ok),
        Vec::<String>::new()
    );
}

#[test]
fn external_secret_without_data_is_refused() {
    let e = refusals(
        "ExternalSecret",
        "v1",
        es(json!({"secretStoreRef": {"name": "s"}})),
    );
    assert_refused(&e, "needs at least one entry in data or dataFrom");
    let e = refusals(
        "ExternalSecret",
        "v1",
        es(json!({"secretStoreRef": {"name": "s"}, "data": []})),
    );
    assert_refused(&e, "needs at least one entry in data or dataFrom");
}

#[test]
fn forbidden_policy_pairs_are_refused() {
    for creation in ["Merge", "None", "CreateOrMerge"] {
        let spec = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"creationPolicy": creation, "deletionPolicy": "Delete"}});
        assert_refused(
            &refusals("ExternalSecret", "v1", es(spec)),
            "deletionPolicy Delete needs creationPolicy Owner or Orphan",
        );
    }
    let spec = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"creationPolicy": "None", "deletionPolicy": "Merge"}});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(spec)),
        "deletionPolicy Merge cannot be combined with creationPolicy None",
    );
    let ok = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"creationPolicy": "Orphan", "deletionPolicy": "Delete"}});
    assert_eq!(
        refusals("ExternalSecret", "v1", es(ok)),
        Vec::<String>::new()
    );
}

#[test]
fn data_from_entries_need_exactly_one_source() {
    let both = json!({"dataFrom": [{"extract": {"key": "k"}, "find": {"name": {"regexp": "x"}}}]});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(both)),
        "exactly one of extract, find or sourceRef.generatorRef",
    );
    let none = json!({"dataFrom": [{"rewrite": [{"regexp": {"source": "a", "target": "b"}}]}]});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(none)),
        "exactly one of extract, find or sourceRef.generatorRef",
    );
    let generator_and_extract = json!({"dataFrom": [{"extract": {"key": "k"}, "sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}]});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(generator_and_extract)),
        "exactly one of extract",
    );
    let store_and_extract = json!({"dataFrom": [{"extract": {"key": "k"}, "sourceRef": {"storeRef": {"name": "other"}}}]});
    assert_eq!(
        refusals("ExternalSecret", "v1", es(store_and_extract)),
        Vec::<String>::new()
    );
}

#[test]
fn privileged_templates_are_refused() {
    let bootstrap = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"template": {"type": "bootstrap.kubernetes.io/token"}}});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(bootstrap)),
        "bootstrap.kubernetes.io/token is refused",
    );
    let sa = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"template": {
        "type": "kubernetes.io/service-account-token",
        "metadata": {"annotations": {"kubernetes.io/service-account.name": "admin"}}}}});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(sa)),
        "may not set the kubernetes.io/service-account.name annotation",
    );
    let sa_from = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"template": {
        "type": "kubernetes.io/service-account-token",
        "templateFrom": [{"literal": "x: y", "target": "annotations"}]}}});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(sa_from)),
        "may not set the kubernetes.io/service-account.name annotation",
    );
    let plain_sa = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"template": {"type": "kubernetes.io/service-account-token"}}});
    assert_eq!(
        refusals("ExternalSecret", "v1", es(plain_sa)),
        Vec::<String>::new()
    );
}

#[test]
fn stores_need_exactly_one_provider() {
    let store = |provider: Value| json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "s", "namespace": "n"}, "spec": {"provider": provider}});
    assert_refused(
        &refusals("SecretStore", "v1", store(json!({}))),
        "exactly one provider",
    );
    let two = json!({"fake": {"data": []}, "kubernetes": {"remoteNamespace": "x"}});
    assert_refused(
        &refusals("SecretStore", "v1", store(two)),
        "exactly one provider",
    );
    // A provider key no version of ESO knows is pruned, which leaves none.
    assert_refused(
        &refusals("SecretStore", "v1", store(json!({"vaulty": {}}))),
        "exactly one provider",
    );
    // Providers ESO has and esox does not implement are kept, so the store reports them.
    let mut obj = store(json!({"akeyless": {"akeylessGWApiURL": "https://x"}}));
    schema("SecretStore", "v1").admit(&mut obj, None).unwrap();
    assert_eq!(
        obj["spec"]["provider"]["akeyless"]["akeylessGWApiURL"],
        "https://x"
    );
    assert_eq!(
        refusals("ClusterSecretStore", "v1beta1", {
            let mut s = store(json!({"fake": {"data": []}}));
            s["kind"] = json!("ClusterSecretStore");
            s
        }),
        Vec::<String>::new()
    );
}

#[test]
fn push_secret_rules_are_enforced() {
    let ps = |spec: Value| json!({"apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret", "metadata": {"name": "p", "namespace": "n"}, "spec": spec});
    let base = |data_to: Value| json!({"secretStoreRefs": [{"name": "s"}], "selector": {"secret": {"name": "src"}}, "dataTo": data_to});
    assert_refused(
        &refusals(
            "PushSecret",
            "v1alpha1",
            ps(base(json!([{"remoteKey": "b"}]))),
        ),
        "dataTo[].storeRef must name a store",
    );
    let bundle_and_rewrite = json!([{"storeRef": {"name": "s"}, "remoteKey": "b", "rewrite": [{"regexp": {"source": "a", "target": "b"}}]}]);
    assert_refused(
        &refusals("PushSecret", "v1alpha1", ps(base(bundle_and_rewrite))),
        "rewrite cannot apply",
    );
    let two_ops = json!([{"storeRef": {"name": "s"}, "rewrite": [{"regexp": {"source": "a", "target": "b"}, "transform": {"template": "x"}}]}]);
    assert_refused(
        &refusals("PushSecret", "v1alpha1", ps(base(two_ops))),
        "exactly one of regexp or transform",
    );
    assert_eq!(
        refusals(
            "PushSecret",
            "v1alpha1",
            ps(base(json!([{"storeRef": {"name": "s"}}])))
        ),
        Vec::<String>::new()
    );
}

#[test]
fn v1beta1_is_a_subset_of_v1() {
    let crds = all(&CrdOptions::default());
    for crd in crds.iter().filter(|c| c.spec.versions.len() == 2) {
        let v1 = version_schema(crd, "v1").unwrap();
        let beta = version_schema(crd, "v1beta1").unwrap();
        assert_subset(&beta, &v1, crd.spec.names.kind.as_str());
    }
    // The v1-only fields are really gone from v1beta1.
    let es = crds
        .iter()
        .find(|c| c.spec.names.kind == "ExternalSecret")
        .unwrap();
    let beta = version_schema(es, "v1beta1").unwrap();
    let spec = &beta["properties"]["spec"]["properties"];
    assert!(spec.get("syncWindows").is_none());
    assert!(spec["target"]["properties"].get("manifest").is_none());
    assert!(
        !spec["target"]["properties"]["creationPolicy"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("CreateOrMerge"))
    );
}

/// Every property of `small` exists in `big` with a compatible schema.
fn assert_subset(small: &Value, big: &Value, path: &str) {
    if let (Some(sp), Some(bp)) = (
        small.get("properties").and_then(Value::as_object),
        big.get("properties"),
    ) {
        for (k, v) in sp {
            let other = bp
                .get(k)
                .unwrap_or_else(|| panic!("{path}.{k} is in v1beta1 but not in v1"));
            assert_subset(v, other, &format!("{path}.{k}"));
        }
    }
    if let (Some(si), Some(bi)) = (small.get("items"), big.get("items")) {
        assert_subset(si, bi, &format!("{path}[]"));
    }
    assert_eq!(small.get("type"), big.get("type"), "{path}: type differs");
    if let (Some(se), Some(be)) = (
        small.get("enum").and_then(Value::as_array),
        big.get("enum").and_then(Value::as_array),
    ) {
        for v in se {
            assert!(be.contains(v), "{path}: enum value {v} only in v1beta1");
        }
    }
}
