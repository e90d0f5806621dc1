//! The CustomResourceDefinitions, generated from the Rust types.
//!
//! ExternalSecret, SecretStore, ClusterSecretStore and ClusterExternalSecret are stored as `v1` and
//! also served as the deprecated `v1beta1` (ESO 2.9 no longer serves it, but manifests such as the
//! seed's still use it). There is no conversion webhook: with strategy `None` the API server only
//! rewrites `apiVersion`, which is sound because the `v1beta1` schema is `v1` minus the fields that
//! `v1beta1` never had.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion, SelectableField,
};
use kube::CustomResourceExt;
use serde_json::Value;

use crate::labels::LABEL_COMPONENT;
use crate::{generators, v1, v1alpha1};

/// Options of the generated CRDs.
#[derive(Clone, Debug, Default)]
pub struct CrdOptions {
    /// Add `selectableFields` (field selectors on custom resources), which needs Kubernetes 1.30+.
    pub selectable_fields: bool,
}

/// Fields that exist in `v1` only, as paths below `.spec` of an ExternalSecret spec
/// (`[]` steps into list items). ESO's `v1beta1` types lack them.
const V1_ONLY_EXTERNAL_SECRET_FIELDS: &[&[&str]] = &[
    &["syncWindows"],
    &["target", "manifest"],
    &["target", "template", "metadata", "finalizers"],
    &[
        "target",
        "template",
        "templateFrom",
        "[]",
        "valuesDecodingStrategy",
    ],
    &["data", "[]", "remoteRef", "nullBytePolicy"],
    &["dataFrom", "[]", "extract", "nullBytePolicy"],
    &["dataFrom", "[]", "find", "nullBytePolicy"],
    &["dataFrom", "[]", "rewrite", "[]", "merge"],
];

/// Every CRD esox serves, in a stable order.
pub fn all(options: &CrdOptions) -> Vec<CustomResourceDefinition> {
    let mut es = v1::ExternalSecret::crd();
    if options.selectable_fields {
        add_selectable_fields(
            &mut es,
            &[
                ".spec.secretStoreRef.name",
                ".spec.secretStoreRef.kind",
                ".spec.target.name",
                ".spec.refreshInterval",
            ],
        );
    }
    add_v1beta1(&mut es, &[]);
    let mut ces = v1::ClusterExternalSecret::crd();
    add_v1beta1(&mut ces, &["externalSecretSpec"]);
    let mut ss = v1::SecretStore::crd();
    add_v1beta1(&mut ss, NO_PREFIX);
    let mut css = v1::ClusterSecretStore::crd();
    add_v1beta1(&mut css, NO_PREFIX);

    let mut crds = vec![
        es,
        ces,
        ss,
        css,
        v1alpha1::PushSecret::crd(),
        v1alpha1::ClusterPushSecret::crd(),
    ];
    crds.extend(generators::crds());
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
                && let Ok(mut json) = serde_json::to_value(&*schema)
            {
                strip_nullable(&mut json);
                if let Ok(stripped) = serde_json::from_value(json) {
                    *schema = stripped;
                }
            }
        }
        crd.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(LABEL_COMPONENT.to_owned(), "controller".to_owned());
    }
    crds
}

/// Marker for stores: their `v1beta1` schema equals `v1`'s.
const NO_PREFIX: &[&str] = &["<none>"];

/// All CRDs as one multi-document YAML stream, as `esox crds` prints it.
pub fn to_yaml(crds: &[CustomResourceDefinition]) -> Result<String, serde_saphyr::ser::Error> {
    let mut out = String::new();
    for crd in crds {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(crd)?);
    }
    Ok(out)
}

fn add_selectable_fields(crd: &mut CustomResourceDefinition, paths: &[&str]) {
    for version in &mut crd.spec.versions {
        version.selectable_fields = Some(
            paths
                .iter()
                .map(|p| SelectableField {
                    json_path: (*p).to_owned(),
                })
                .collect(),
        );
    }
}

/// Adds a served, deprecated `v1beta1` copy of the storage version. `es_spec_prefix` locates the
/// ExternalSecret spec inside `.spec` whose v1-only fields are removed (`[]` for an ExternalSecret
/// itself, `["externalSecretSpec"]` for a ClusterExternalSecret, [`NO_PREFIX`] for none).
fn add_v1beta1(crd: &mut CustomResourceDefinition, es_spec_prefix: &[&str]) {
    let Some(v1) = crd.spec.versions.first().cloned() else {
        return;
    };
    let mut beta = CustomResourceDefinitionVersion {
        name: "v1beta1".to_owned(),
        served: true,
        storage: false,
        deprecated: Some(true),
        deprecation_warning: Some(format!(
            "external-secrets.io/v1beta1 {} is deprecated; use external-secrets.io/v1",
            crd.spec.names.kind
        )),
        ..v1
    };
    if es_spec_prefix != NO_PREFIX
        && let Some(schema) = beta
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        && let Ok(mut json) = serde_json::to_value(&*schema)
    {
        for field in V1_ONLY_EXTERNAL_SECRET_FIELDS {
            let mut path: Vec<&str> = vec!["spec"];
            path.extend_from_slice(es_spec_prefix);
            path.extend_from_slice(field);
            remove_schema_field(&mut json, &path);
        }
        remove_enum_value(
            &mut json,
            &with_prefix(es_spec_prefix, &["target", "creationPolicy"]),
            "CreateOrMerge",
        );
        // The v1 rule reads `target.manifest`, which v1beta1 lacks: its CEL would not compile.
        replace_rule(
            &mut json,
            &with_prefix(es_spec_prefix, &["target"]),
            v1::externalsecret::TEMPLATE_FROM_TARGETS_RULE_V1,
            v1::externalsecret::TEMPLATE_FROM_TARGETS_RULE,
        );
        if let Ok(stripped) = serde_json::from_value(json) {
            *schema = stripped;
        }
    }
    crd.spec.versions.push(beta);
}

fn with_prefix<'a>(prefix: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    let mut path = vec!["spec"];
    path.extend_from_slice(prefix);
    path.extend_from_slice(rest);
    path
}

/// Walks `properties`/`items` along `path` and returns the schema node there.
fn schema_node<'a>(schema: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    let mut node = schema;
    for step in path {
        node = if *step == "[]" {
            node.get_mut("items")?
        } else {
            node.get_mut("properties")?.get_mut(*step)?
        };
    }
    Some(node)
}

fn remove_schema_field(schema: &mut Value, path: &[&str]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    if let Some(node) = schema_node(schema, parent) {
        if let Some(props) = node.get_mut("properties").and_then(Value::as_object_mut) {
            props.remove(*last);
        }
        if let Some(required) = node.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| r.as_str() != Some(*last));
        }
    }
}

fn remove_enum_value(schema: &mut Value, path: &[&str], value: &str) {
    if let Some(values) = schema_node(schema, path)
        .and_then(|n| n.get_mut("enum"))
        .and_then(Value::as_array_mut)
    {
        values.retain(|v| v.as_str() != Some(value));
    }
}

fn replace_rule(schema: &mut Value, path: &[&str], from: &str, to: &str) {
    if let Some(rules) = schema_node(schema, path)
        .and_then(|n| n.get_mut("x-kubernetes-validations"))
        .and_then(Value::as_array_mut)
    {
        for text in rules.iter_mut().filter_map(|r| r.get_mut("rule")) {
            if text.as_str() == Some(from) {
                *text = Value::String(to.to_owned());
            }
        }
    }
}

/// The schema of one version of one CRD, for tests and tools.
pub fn version_schema(crd: &CustomResourceDefinition, version: &str) -> Option<Value> {
    crd.spec
        .versions
        .iter()
        .find(|v| v.name == version)
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok())
}

/// Removes `nullable` and `null` enum members that schemars emits for `Option` fields.
///
/// esox never writes nulls (every optional field is skipped when empty) and ESO's schemas have no
/// nullable fields, so keeping them would only let `field: null` through where ESO refuses it.
fn strip_nullable(node: &mut Value) {
    match node {
        Value::Object(map) => {
            map.remove("nullable");
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            for (key, child) in map.iter_mut() {
                // `default` and `example` hold data, not schemas.
                if key != "default" && key != "example" {
                    strip_nullable(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nullable),
        _ => {}
    }
}
