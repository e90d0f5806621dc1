//! The write path shared by the HTTP handlers and the built-in controllers: defaulting,
//! admission, validation, generation, managedFields and the store operation.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::patch::apply::{Writer, record_update};
use crate::resources::ResourceInfo;
use crate::state::State;
use crate::status::{ApiError, ApiResult};
use crate::store::{Mutation, StoreError};
use crate::util::{self, meta, meta_mut, meta_str};

/// Who writes, and how.
#[derive(Debug, Clone)]
pub(crate) struct WriteCtx<'a> {
    pub manager: &'a str,
    pub subresource: &'a str,
    pub dry_run: bool,
    /// managedFields were already computed (server-side apply).
    pub managed_done: bool,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being dropped.
    pub strict: bool,
}

impl<'a> WriteCtx<'a> {
    pub fn new(manager: &'a str) -> Self {
        Self {
            manager,
            subresource: "",
            dry_run: false,
            managed_done: false,
            strict: false,
        }
    }
}

pub(crate) fn invalid_one(
    info: &ResourceInfo,
    name: &str,
    reason: &str,
    field: &str,
    msg: &str,
) -> ApiError {
    ApiError::invalid(
        &info.group,
        &info.kind,
        name,
        &[(reason.to_string(), field.to_string(), msg.to_string())],
    )
}

fn name_rule_message(value: &str, label: bool) -> String {
    if label {
        format!(
            "Invalid value: \"{value}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    } else {
        format!(
            "Invalid value: \"{value}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    }
}

fn validate_name(info: &ResourceInfo, name: &str) -> ApiResult<()> {
    let ok = match (info.group.as_str(), info.resource.as_str()) {
        ("", "namespaces") => util::is_dns_label(name),
        ("rbac.authorization.k8s.io", _) => {
            !name.is_empty() && !name.contains('/') && !name.contains('%')
        }
        _ => util::is_dns_subdomain(name),
    };
    if ok {
        return Ok(());
    }
    let msg = name_rule_message(name, info.resource == "namespaces");
    Err(invalid_one(
        info,
        name,
        "FieldValueInvalid",
        "metadata.name",
        &msg,
    ))
}

fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

fn check_data_keys(info: &ResourceInfo, name: &str, obj: &Value, field: &str) -> ApiResult<()> {
    if let Some(m) = obj.get(field).and_then(Value::as_object) {
        for k in m.keys() {
            if !is_config_key(k) {
                return Err(invalid_one(
                    info,
                    name,
                    "FieldValueInvalid",
                    &format!("{field}[{k}]"),
                    &format!(
                        "Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Kind-specific defaulting and validation. Must not touch the store (it may run under its lock).
fn admit(info: &ResourceInfo, old: Option<&Value>, obj: &mut Value, strict: bool) -> ApiResult<()> {
    let name = meta_str(obj, "name").unwrap_or("").to_string();
    match (info.group.as_str(), info.resource.as_str()) {
        ("", "secrets") => {
            if let Some(Value::Object(sd)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                let data = obj
                    .as_object_mut()
                    .map(|m| m.entry("data").or_insert_with(|| json!({})));
                if let Some(Value::Object(d)) = data {
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or("").to_string();
                        d.insert(
                            k,
                            Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
                        );
                    }
                }
            }
            if obj
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                obj["type"] = json!("Opaque");
            }
            if let Some(d) = obj.get("data").and_then(Value::as_object) {
                for (k, v) in d {
                    let ok = v.as_str().is_some_and(|s| {
                        base64::engine::general_purpose::STANDARD.decode(s).is_ok()
                    });
                    if !ok {
                        return Err(ApiError::bad_request(format!(
                            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{k}]"
                        )));
                    }
                }
            }
            check_data_keys(info, &name, obj, "data")?;
            if let Some(old) = old {
                if old.get("type") != obj.get("type") {
                    let t = obj.get("type").and_then(Value::as_str).unwrap_or("");
                    return Err(invalid_one(
                        info,
                        &name,
                        "FieldValueInvalid",
                        "type",
                        &format!("Invalid value: \"{t}\": field is immutable"),
                    ));
                }
                if old.get("immutable") == Some(&json!(true))
                    && (old.get("data") != obj.get("data"))
                {
                    return Err(invalid_one(
                        info,
                        &name,
                        "FieldValueForbidden",
                        "data",
                        "Forbidden: field is immutable when `immutable` is set",
                    ));
                }
            }
            if obj.get("type").and_then(Value::as_str)
                == Some("kubernetes.io/service-account-token")
                && obj
                    .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                return Err(invalid_one(
                    info,
                    &name,
                    "FieldValueRequired",
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "Required value",
                ));
            }
        }
        ("", "configmaps") => {
            check_data_keys(info, &name, obj, "data")?;
            check_data_keys(info, &name, obj, "binaryData")?;
            if let Some(old) = old
                && old.get("immutable") == Some(&json!(true))
                && (old.get("data") != obj.get("data"))
            {
                return Err(invalid_one(
                    info,
                    &name,
                    "FieldValueForbidden",
                    "data",
                    "Forbidden: field is immutable when `immutable` is set",
                ));
            }
        }
        ("", "namespaces") => {
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            if old.is_none() {
                obj["status"] = json!({"phase": "Active"});
            }
            let labels = meta_mut(obj).entry("labels").or_insert_with(|| json!({}));
            if let Value::Object(l) = labels {
                l.insert(
                    "kubernetes.io/metadata.name".into(),
                    Value::String(name.clone()),
                );
            }
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            if obj.get("roleRef").is_none() {
                return Err(invalid_one(
                    info,
                    &name,
                    "FieldValueRequired",
                    "roleRef.name",
                    "Required value",
                ));
            }
            if let Some(old) = old
                && old.get("roleRef") != obj.get("roleRef")
            {
                return Err(invalid_one(
                    info,
                    &name,
                    "FieldValueInvalid",
                    "roleRef",
                    "Invalid value: cannot change roleRef",
                ));
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => crate::crd::admit(info, old, obj)?,
        _ if info.is_crd => crate::schema::admit_custom(info, old, obj, strict)?,
        _ => {}
    }
    Ok(())
}

fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

fn uses_generation(info: &ResourceInfo, obj: &Value) -> bool {
    info.is_crd || (obj.get("spec").is_some() && info.resource != "namespaces")
}

/// Creates an object; `obj` is what the client sent.
pub(crate) fn create(
    state: &State,
    info: &ResourceInfo,
    ns: &str,
    mut obj: Value,
    ctx: &WriteCtx<'_>,
) -> ApiResult<Arc<Value>> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str) {
        let (g, _) = crate::resources::split_api_version(av);
        if g != info.group {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                info.api_version()
            )));
        }
    }
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && kind != info.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            info.kind
        )));
    }
    obj["apiVersion"] = json!(info.api_version());
    obj["kind"] = json!(info.kind);
    let m = meta_mut(&mut obj);
    if info.namespaced {
        match m.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                m.insert("namespace".into(), json!(ns));
            }
        }
    } else {
        m.remove("namespace");
    }
    let name = match m
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(n) => n.to_string(),
        None => match m
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(prefix) => format!("{prefix}{}", util::random_suffix(5)),
            None => {
                return Err(invalid_one(
                    info,
                    "",
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        },
    };
    m.insert("name".into(), json!(name));
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        m.remove(k);
    }
    m.insert("uid".into(), json!(util::new_uid()));
    m.insert("creationTimestamp".into(), json!(util::now_rfc3339()));
    if !ctx.managed_done {
        m.remove("managedFields");
    }
    validate_name(info, &name)?;
    if info.namespaced {
        let nsobj = state
            .get("", "namespaces", "", ns)
            .ok_or_else(|| ApiError::not_found("", "namespaces", ns))?;
        if meta(&nsobj).is_some_and(|m| m.contains_key("deletionTimestamp")) {
            return Err(ApiError::forbidden(&info.group, &info.resource, &name,
                &format!("unable to create new content in namespace {ns} because it is being terminated"))
                .with_details(json!({"name": name, "group": info.group, "kind": info.resource,
                    "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]})));
        }
    }
    if info.has_status()
        && info.is_crd
        && let Value::Object(o) = &mut obj
    {
        o.remove("status");
    }
    if uses_generation(info, &obj) {
        meta_mut(&mut obj).insert("generation".into(), json!(1));
    }
    admit(info, None, &mut obj, ctx.strict)?;
    if !ctx.managed_done {
        let time = util::now_rfc3339();
        let av = info.api_version();
        record_update(
            None,
            &mut obj,
            &Writer {
                manager: ctx.manager,
                api_version: &av,
                subresource: "",
                time: &time,
            },
        );
    }
    if ctx.dry_run {
        if state.store.get(&info.gr(), ns, &name).is_some() {
            return Err(ApiError::already_exists(&info.group, &info.resource, &name));
        }
        return Ok(Arc::new(obj));
    }
    let stored = state
        .store
        .create(&info.gr(), ns, obj)
        .map_err(|e| match e {
            StoreError::AlreadyExists => {
                ApiError::already_exists(&info.group, &info.resource, &name)
            }
            other => ApiError::internal(format!("store: {other:?}")),
        })?;
    after_write(state, info, &stored);
    Ok(stored)
}

/// Side effects of a successful write that the real server performs synchronously or that
/// other requests must observe at once (CRD registration, namespace defaults).
fn after_write(state: &State, info: &ResourceInfo, obj: &Arc<Value>) {
    match (info.group.as_str(), info.resource.as_str()) {
        ("apiextensions.k8s.io", "customresourcedefinitions") => crate::crd::register(state, obj),
        ("", "namespaces") => {
            crate::controllers::namespace::ensure_defaults(state, util::name_of(obj))
        }
        _ => {}
    }
    state.controller_kick.notify_one();
}

/// Updates an object: `f` turns the current object into the desired one (a PUT body or a
/// patched copy). Returns the stored object.
pub(crate) fn update(
    state: &State,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    ctx: &WriteCtx<'_>,
    f: impl FnOnce(&Value) -> ApiResult<Value>,
) -> ApiResult<Arc<Value>> {
    let gr = info.gr();
    let sub = ctx.subresource;
    let av = info.api_version();
    let result = state.store.mutate(&gr, ns, name, |current| -> ApiResult<Mutation> {
        let mut new = f(current)?;
        if !new.is_object() {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        }
        if let Some(want) = meta_str(&new, "resourceVersion").filter(|s| !s.is_empty())
            && Some(want) != meta_str(current, "resourceVersion") {
                return Err(ApiError::stale(&info.group, &info.resource, name));
            }
        if let Some(n) = meta_str(&new, "name")
            && n != name {
                return Err(ApiError::bad_request(format!("the name of the object ({n}) does not match the name on the URL ({name})")));
            }
        if info.namespaced
            && let Some(n) = meta_str(&new, "namespace").filter(|s| !s.is_empty())
                && n != ns {
                    return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
                }
        // The status subresource changes only status; the main resource never changes status
        // of kinds that have the subresource.
        if sub == "status" {
            let mut merged = (**current).clone();
            merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if merged["status"].is_null()
                && let Value::Object(m) = &mut merged {
                    m.remove("status");
                }
            // Only status changes through the status subresource (plus the managedFields that
            // server-side apply computed for it).
            if ctx.managed_done
                && let Some(mf) = new.pointer("/metadata/managedFields").cloned()
            {
                meta_mut(&mut merged).insert("managedFields".into(), mf);
            }
            new = merged;
        } else if info.has_status() {
            match current.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Value::Object(m) = &mut new {
                        m.remove("status");
                    }
                }
            }
        }
        new["apiVersion"] = json!(av);
        new["kind"] = json!(info.kind);
        let cm = meta(current).cloned().unwrap_or_default();
        {
            let m = meta_mut(&mut new);
            for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name", "namespace", "resourceVersion"] {
                match cm.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            if !ctx.managed_done && !m.contains_key("managedFields")
                && let Some(v) = cm.get("managedFields") {
                    m.insert("managedFields".into(), v.clone());
                }
            if m.get("finalizers").and_then(Value::as_array).is_some_and(Vec::is_empty) {
                m.remove("finalizers");
            }
            for k in ["labels", "annotations"] {
                if m.get(k).and_then(Value::as_object).is_some_and(Map::is_empty) || m.get(k) == Some(&Value::Null) {
                    m.remove(k);
                }
            }
        }
        admit(info, Some(current), &mut new, ctx.strict)?;
        if cm.contains_key("generation") && spec_part(current) != spec_part(&new) {
            let g = cm.get("generation").and_then(Value::as_i64).unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if !ctx.managed_done {
            let time = util::now_rfc3339();
            record_update(Some(current), &mut new, &Writer { manager: ctx.manager, api_version: &av, subresource: sub, time: &time });
        }
        if without_volatile(&new) == without_volatile(current) {
            return Ok(Mutation::Keep);
        }
        if ctx.dry_run {
            return Err(ApiError::new(299, "DryRun", serde_json::to_string(&new).unwrap_or_default()));
        }
        let deleting = meta(&new).is_some_and(|m| m.contains_key("deletionTimestamp"));
        if deleting && util::finalizers(&new).is_empty() {
            return Ok(Mutation::Remove);
        }
        Ok(Mutation::Replace(new))
    });
    match result {
        Err(StoreError::NotFound) => Err(ApiError::not_found(&info.group, &info.resource, name)),
        Err(e) => Err(ApiError::internal(format!("store: {e:?}"))),
        Ok(Err(e)) if e.code == 299 => {
            let v: Value = serde_json::from_str(&e.message).unwrap_or(Value::Null);
            Ok(Arc::new(v))
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok((obj, changed))) => {
            if changed {
                after_write(state, info, &obj);
            }
            Ok(obj)
        }
    }
}

/// The object without the fields that differ between otherwise identical writes.
fn without_volatile(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Object(m)) = v.get_mut("metadata") {
        m.remove("resourceVersion");
        if let Some(Value::Array(mf)) = m.get_mut("managedFields") {
            for e in mf {
                if let Value::Object(em) = e {
                    em.remove("time");
                }
            }
        }
    }
    v
}

/// Options of a DELETE.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOpts {
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// Deletes an object, honouring finalizers. Returns the final object and whether it is gone.
pub(crate) fn delete(
    state: &State,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    opts: &DeleteOpts,
) -> ApiResult<(Arc<Value>, bool)> {
    let gr = info.gr();
    let mut gone = false;
    let result = state.store.mutate(&gr, ns, name, |current| -> ApiResult<Mutation> {
        if let Some(uid) = &opts.precondition_uid
            && meta_str(current, "uid") != Some(uid.as_str()) {
                return Err(ApiError::conflict(&info.group, &info.resource, name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", meta_str(current, "uid").unwrap_or(""))));
            }
        if let Some(rv) = &opts.precondition_rv
            && meta_str(current, "resourceVersion") != Some(rv.as_str()) {
                return Err(ApiError::conflict(&info.group, &info.resource, name,
                    &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}", meta_str(current, "resourceVersion").unwrap_or(""))));
            }
        let mut new = (**current).clone();
        let m = meta_mut(&mut new);
        let already = m.contains_key("deletionTimestamp");
        let mut fins = util::finalizers(current);
        match opts.propagation.as_deref() {
            Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => fins.push("foregroundDeletion".into()),
            Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
            _ => {}
        }
        let is_ns = info.group.is_empty() && info.resource == "namespaces";
        if fins.is_empty() && !is_ns {
            if opts.dry_run {
                return Err(ApiError::new(299, "DryRun", String::new()));
            }
            gone = true;
            return Ok(Mutation::Remove);
        }
        if already && fins == util::finalizers(current) {
            return Ok(Mutation::Keep);
        }
        if opts.dry_run {
            return Err(ApiError::new(299, "DryRun", String::new()));
        }
        if !fins.is_empty() {
            m.insert("finalizers".into(), json!(fins));
        }
        if !already {
            m.insert("deletionTimestamp".into(), json!(util::now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if is_ns {
            new["status"] = json!({"phase": "Terminating"});
        }
        Ok(Mutation::Replace(new))
    });
    match result {
        Err(StoreError::NotFound) => Err(ApiError::not_found(&info.group, &info.resource, name)),
        Err(e) => Err(ApiError::internal(format!("store: {e:?}"))),
        Ok(Err(e)) if e.code == 299 => {
            let cur = state
                .store
                .get(&gr, ns, name)
                .ok_or_else(|| ApiError::not_found(&info.group, &info.resource, name))?;
            Ok((cur, false))
        }
        Ok(Err(e)) => Err(e),
        Ok(Ok((obj, changed))) => {
            if changed {
                if gone && info.group == "apiextensions.k8s.io" {
                    crate::crd::unregister(state, &obj);
                }
                state.controller_kick.notify_one();
            }
            Ok((obj, gone))
        }
    }
}
