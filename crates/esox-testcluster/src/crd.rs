//! CustomResourceDefinitions: validation as the apiextensions server does it, the status it
//! writes (NamesAccepted, Established), and serving the custom resources it defines.

use serde_json::{Value, json};

use crate::handlers::write::invalid_one;
use crate::resources::{ResourceInfo, version_priority};
use crate::state::State;
use crate::status::{ApiError, ApiResult};
use crate::util::{meta_str, now_rfc3339};

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn admit(info: &ResourceInfo, old: Option<&Value>, obj: &mut Value) -> ApiResult<()> {
    let name = meta_str(obj, "name").unwrap_or("").to_string();
    let mut causes: Vec<(String, String, String)> = Vec::new();
    let mut add =
        |reason: &str, field: &str, msg: String| causes.push((reason.into(), field.into(), msg));
    let group = s(obj, "/spec/group").to_string();
    let plural = s(obj, "/spec/names/plural").to_string();
    let kind = s(obj, "/spec/names/kind").to_string();
    if group.is_empty() {
        add("FieldValueRequired", "spec.group", "Required value".into());
    } else if !group.contains('.') {
        add(
            "FieldValueInvalid",
            "spec.group",
            format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
        );
    }
    if plural.is_empty() {
        add(
            "FieldValueRequired",
            "spec.names.plural",
            "Required value".into(),
        );
    }
    if kind.is_empty() {
        add(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value".into(),
        );
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        add(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        );
    }
    let scope = s(obj, "/spec/scope");
    if scope != "Namespaced" && scope != "Cluster" {
        add(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""
            ),
        );
    }
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        add(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: null: must have exactly one version marked as storage version".into(),
        );
    } else if versions
        .iter()
        .filter(|v| v.get("storage") == Some(&json!(true)))
        .count()
        != 1
    {
        add(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: ...: must have exactly one version marked as storage version".into(),
        );
    }
    for (i, v) in versions.iter().enumerate() {
        let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
        if version_priority(vname) == (0, 0, 0) && !vname.starts_with('v') {
            add(
                "FieldValueInvalid",
                &format!("spec.versions[{i}].name"),
                format!(
                    "Invalid value: \"{vname}\": a DNS-1035 label starting with 'v' is expected"
                ),
            );
        }
        if v.pointer("/schema/openAPIV3Schema").is_none() {
            add(
                "FieldValueRequired",
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required".into(),
            )
        }
    }
    if let Some(old) = old {
        if s(old, "/spec/group") != group {
            add(
                "FieldValueInvalid",
                "spec.group",
                format!("Invalid value: \"{group}\": field is immutable"),
            );
        }
        if s(old, "/spec/scope") != scope {
            add(
                "FieldValueInvalid",
                "spec.scope",
                format!("Invalid value: \"{scope}\": field is immutable"),
            );
        }
    }
    if causes.is_empty() {
        // The full apiextensions validation (structural schema, defaults, CEL rules).
        causes = crate::schema::crd_errors(obj);
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(&info.group, &info.kind, &name, &causes));
    }
    let storage: Vec<Value> = versions
        .iter()
        .filter(|v| v.get("storage") == Some(&json!(true)))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let mut stored = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in storage {
        if !stored.contains(&v) {
            stored.push(v);
        }
    }
    let now = now_rfc3339();
    let mut accepted = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    obj["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": stored,
    });
    let _ = invalid_one;
    Ok(())
}

/// Serves (or re-serves) every served version of a stored CRD.
pub(crate) fn register(state: &State, crd: &Value) {
    let group = s(crd, "/spec/group").to_string();
    let plural = s(crd, "/spec/names/plural").to_string();
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let mut reg = state.registry_mut();
    reg.remove(&group, &plural);
    let kind = s(crd, "/spec/names/kind").to_string();
    let singular = match s(crd, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        x => x.to_string(),
    };
    let short_names: Vec<String> = crd
        .pointer("/spec/names/shortNames")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let namespaced = s(crd, "/spec/scope") == "Namespaced";
    for v in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        if v.get("served") != Some(&json!(true)) {
            continue;
        }
        let mut subresources = Vec::new();
        if v.pointer("/subresources/status").is_some() {
            subresources.push("status");
        }
        reg.insert(ResourceInfo {
            group: group.clone(),
            version: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            resource: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            namespaced,
            verbs: vec![
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ],
            short_names: short_names.clone(),
            subresources,
            virtual_only: false,
            crd_schema: v
                .pointer("/schema/openAPIV3Schema")
                .and_then(crate::schema::compile),
            printer_columns: v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            is_crd: true,
        });
    }
}

/// Stops serving a deleted CRD and deletes its objects, as the CRD finalizer does.
pub(crate) fn unregister(state: &State, crd: &Value) {
    let group = s(crd, "/spec/group").to_string();
    let plural = s(crd, "/spec/names/plural").to_string();
    let info = state
        .registry()
        .any_version(&crate::resources::GroupResource::new(&group, &plural));
    state.registry_mut().remove(&group, &plural);
    if let Some(info) = info {
        let (items, _) = state.store.list(&info.gr(), None);
        for it in items {
            let ns = meta_str(&it, "namespace").unwrap_or("").to_string();
            let name = crate::util::name_of(&it).to_string();
            let _ = state.store.mutate(&info.gr(), &ns, &name, |_| {
                Ok::<_, ApiError>(crate::store::Mutation::Remove)
            });
        }
    }
}
