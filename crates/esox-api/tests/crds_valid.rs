//! The generated CRDs are valid for a Kubernetes 1.24+ API server (structural schemas, CEL rules
//! within the cost budget), and every CEL rule refuses the manifest it exists for, with its message.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use esox_api::crd::{CrdOptions, all, version_schema};
use esox_schema::{CompiledSchema, ValidateOptions, validate_crd_with};
use serde_json::{Value, json};

#[test]
fn every_crd_is_valid_for_kubernetes_1_24() {
    let crds = all(&CrdOptions::default());
    assert_eq!(crds.len(), 14);
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

fn keyed(keys: &[&str]) -> Value {
    keys.iter()
        .map(|k| json!({"secretKey": k, "remoteRef": {"key": "remote"}}))
        .collect()
}

const DUPLICATE_KEY: &str = "data[].secretKey must be unique while target.deletionPolicy is Retain";

#[test]
fn duplicate_secret_keys_are_refused_under_retain() {
    let dup = keyed(&["a", "b", "a"]);
    for version in ["v1", "v1beta1"] {
        // Retain is the default deletionPolicy, so an ExternalSecret that names none is refused too.
        let e = refusals("ExternalSecret", version, es(json!({"data": dup.clone()})));
        assert_refused(&e, DUPLICATE_KEY);
        let retain = json!({"data": dup.clone(), "target": {"deletionPolicy": "Retain"}});
        assert_refused(
            &refusals("ExternalSecret", version, es(retain)),
            DUPLICATE_KEY,
        );
        // ESO checks duplicates only under Retain: with Delete or Merge the later entry wins.
        for policy in ["Delete", "Merge"] {
            let spec = json!({"data": dup.clone(), "target": {"deletionPolicy": policy}});
            assert_eq!(
                refusals("ExternalSecret", version, es(spec)),
                Vec::<String>::new(),
                "{version} deletionPolicy {policy}"
            );
        }
        let unique = json!({"data": keyed(&["a", "b", "c"])});
        assert_eq!(
            refusals("ExternalSecret", version, es(unique)),
            Vec::<String>::new()
        );
        // Keys differing only in case are different Secret keys.
        let case = json!({"data": keyed(&["token", "Token"])});
        assert_eq!(
            refusals("ExternalSecret", version, es(case)),
            Vec::<String>::new()
        );
    }
    // dataFrom keys are not checked: which keys a provider returns is only known when it syncs.
    let from = json!({"data": keyed(&["a"]), "dataFrom": [{"extract": {"key": "k"}}, {"extract": {"key": "k"}}]});
    assert_eq!(
        refusals("ExternalSecret", "v1", es(from)),
        Vec::<String>::new()
    );
}

#[test]
fn cluster_external_secret_templates_carry_both_rules() {
    let ces = |es_spec: Value| json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": "c"}, "spec": {"externalSecretSpec": es_spec}});
    for version in ["v1", "v1beta1"] {
        assert_refused(
            &refusals(
                "ClusterExternalSecret",
                version,
                ces(json!({"data": keyed(&["x", "x"])})),
            ),
            DUPLICATE_KEY,
        );
        let bad_target = json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"template": {"templateFrom": [{"literal": "a: b", "target": "type"}]}}});
        assert_refused(
            &refusals("ClusterExternalSecret", version, ces(bad_target)),
            TEMPLATE_FROM_TARGET,
        );
        assert_eq!(
            refusals(
                "ClusterExternalSecret",
                version,
                ces(json!({"data": keyed(&["x", "y"])}))
            ),
            Vec::<String>::new()
        );
    }
}

#[test]
fn data_is_bounded_for_the_unique_key_rule() {
    let max = esox_api::v1::MAX_DATA_ENTRIES as usize;
    let names: Vec<String> = (0..=max).map(|i| format!("key-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        refusals(
            "ExternalSecret",
            "v1",
            es(json!({"data": keyed(&refs[..max])}))
        ),
        Vec::<String>::new()
    );
    assert_refused(
        &refusals("ExternalSecret", "v1", es(json!({"data": keyed(&refs)}))),
        &format!(
            "spec.data: Too many: {}: must have at most {max} items",
            max + 1
        ),
    );
}

/// The ExternalSecret CRD with `maxItems` of `spec.data` replaced (`None` removes it).
fn es_crd_with_data_bound(max: Option<u64>) -> Value {
    let crds = all(&CrdOptions::default());
    let es = crds
        .iter()
        .find(|c| c.spec.names.kind == "ExternalSecret")
        .unwrap();
    let mut json = serde_json::to_value(es).unwrap();
    for version in json["spec"]["versions"].as_array_mut().unwrap() {
        let data = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["data"]
            .as_object_mut()
            .unwrap();
        match max {
            Some(m) => data.insert("maxItems".to_owned(), json!(m)),
            None => data.remove("maxItems"),
        };
    }
    json
}

fn over_rule_budget(crd: &Value) -> bool {
    match validate_crd_with(crd, &ValidateOptions::default()) {
        Ok(()) => false,
        Err(errors) => errors
            .iter()
            .any(|e| e.to_string().contains("estimated rule cost exceeds budget")),
    }
}

#[test]
fn the_unique_key_rule_cost_is_bounded_with_margin() {
    let max = u64::from(esox_api::v1::MAX_DATA_ENTRIES);
    // The rule compares every pair of entries, so its cost grows with the square of the bound.
    // Twice the bound still fits the per-rule limit: at the bound the estimate is at most a
    // quarter of it, room for estimator differences between Kubernetes versions.
    validate_crd_with(
        &es_crd_with_data_bound(Some(2 * max)),
        &ValidateOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{}", esox_schema::format_errors(&e)));
    assert!(over_rule_budget(&es_crd_with_data_bound(Some(4 * max))));
    // Without a bound the API server would refuse the whole CRD.
    assert!(over_rule_budget(&es_crd_with_data_bound(None)));
}

const TEMPLATE_FROM_TARGET: &str =
    "template.templateFrom[].target must be Data, Annotations or Labels (any letter case)";

fn with_template_from(targets: &[Option<&str>]) -> Value {
    let entries: Vec<Value> = targets
        .iter()
        .map(|t| match t {
            Some(target) => json!({"literal": "a: b", "target": target}),
            None => json!({"literal": "a: b"}),
        })
        .collect();
    json!({"dataFrom": [{"extract": {"key": "k"}}], "target": {"template": {"templateFrom": entries}}})
}

#[test]
fn template_from_targets_other_than_secret_fields_are_refused() {
    for version in ["v1", "v1beta1"] {
        for bad in [
            "type",
            "immutable",
            "metadata.ownerReferences",
            "spec",
            "data.x",
            "Data ",
        ] {
            assert_refused(
                &refusals(
                    "ExternalSecret",
                    version,
                    es(with_template_from(&[Some(bad)])),
                ),
                TEMPLATE_FROM_TARGET,
            );
        }
        // One bad entry among good ones is enough.
        assert_refused(
            &refusals(
                "ExternalSecret",
                version,
                es(with_template_from(&[Some("Data"), Some("type")])),
            ),
            TEMPLATE_FROM_TARGET,
        );
        let good = [
            None,
            Some(""),
            Some("Data"),
            Some("data"),
            Some("ANNOTATIONS"),
            Some("Labels"),
            Some("lAbElS"),
        ];
        assert_eq!(
            refusals("ExternalSecret", version, es(with_template_from(&good))),
            Vec::<String>::new(),
            "{version}"
        );
    }
}

#[test]
fn template_from_paths_are_left_to_non_secret_manifest_targets() {
    // ESO accepts nested paths when v1's target.manifest names something other than a Secret.
    let mut config_map = with_template_from(&[Some("data"), Some("spec.database.config")]);
    config_map["target"]["manifest"] = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    assert_eq!(
        refusals("ExternalSecret", "v1", es(config_map)),
        Vec::<String>::new()
    );
    let mut secret = with_template_from(&[Some("type")]);
    secret["target"]["manifest"] = json!({"apiVersion": "v1", "kind": "Secret"});
    assert_refused(
        &refusals("ExternalSecret", "v1", es(secret)),
        TEMPLATE_FROM_TARGET,
    );
}

#[test]
fn seed_resources_are_admitted() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/seed");
    let crds = all(&CrdOptions::default());
    let mut admitted = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.display().to_string();
        for doc in esox_api::manifest::parse_documents(&file, &text).unwrap() {
            let Some((group, version)) = doc.api_version().split_once('/') else {
                continue;
            };
            if !group.ends_with("external-secrets.io") {
                continue;
            }
            let kind = doc.value["kind"].as_str().unwrap();
            let crd = crds
                .iter()
                .find(|c| c.spec.group == group && c.spec.names.kind == kind)
                .unwrap_or_else(|| panic!("{file}: no CRD for {group} {kind}"));
            let schema = CompiledSchema::compile(&version_schema(crd, version).unwrap()).unwrap();
            let mut obj = doc.value.clone();
            if let Err(errors) = schema.admit(&mut obj, None) {
                panic!(
                    "{file}: {kind} refused: {}",
                    esox_schema::format_errors(&errors)
                );
            }
            admitted += 1;
        }
    }
    // The ClusterSecretStore, the ExternalSecret, the SecretStore and the PushSecret.
    assert_eq!(admitted, 4);
}
