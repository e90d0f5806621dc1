//! The verbs on resources: get, list, create, update, patch, delete, deletecollection.

use std::sync::Arc;

use base64::Engine;
use http::Response;
use serde_json::{Value, json};

use super::write::{self, DeleteOpts, WriteCtx};
use super::{Body, RenderAs, Req, Target, json_response};
use crate::patch::{
    PatchKind, apply, json::json_patch, merge::merge_patch, strategic::strategic_merge,
};
use crate::resources::ResourceInfo;
use crate::selectors::{FieldSelector, LabelSelector, supported_fields};
use crate::state::State;
use crate::status::{ApiError, ApiResult};
use crate::util::{meta, meta_str, name_of};

pub(super) async fn dispatch(state: &Arc<State>, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    if t.info.virtual_only {
        return super::reviews::create(state, r, t);
    }
    match (t.verb, t.subresource.as_str()) {
        ("create", "token") => super::reviews::token_request(state, r, t),
        ("get", _) => get(state, r, t),
        ("list", _) => list(state, r, t),
        ("watch", _) => super::watch::watch(state.clone(), r, t),
        ("create", "") => create(state, r, t),
        ("update", _) => update(state, r, t),
        ("patch", _) => patch(state, r, t),
        ("delete", "") => delete(state, r, t),
        ("deletecollection", "") => delete_collection(state, r, t),
        _ => Err(ApiError::method_not_allowed(
            t.verb,
            &t.info.group,
            &t.info.resource,
        )),
    }
}

/// The object as served at the requested version.
pub(crate) fn present(info: &ResourceInfo, obj: &Value) -> Value {
    let mut v = obj.clone();
    v["apiVersion"] = json!(info.api_version());
    v["kind"] = json!(info.kind);
    v
}

pub(crate) fn as_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

pub(crate) fn render(info: &ResourceInfo, how: RenderAs, obj: &Value) -> Value {
    match how {
        RenderAs::Metadata => as_metadata(obj),
        _ => present(info, obj),
    }
}

fn get(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let obj = state
        .store
        .get(&t.info.gr(), &t.namespace, &t.name)
        .ok_or_else(|| ApiError::not_found(&t.info.group, &t.info.resource, &t.name))?;
    match r.render_as() {
        RenderAs::Table => {
            let rv = meta_str(&obj, "resourceVersion").unwrap_or("").to_string();
            Ok(json_response(
                200,
                &crate::table::table(&t.info, &[(*obj).clone()], json!({"resourceVersion": rv})),
            ))
        }
        how => Ok(json_response(200, &render(&t.info, how, &obj))),
    }
}

pub(super) fn selectors(r: &Req, info: &ResourceInfo) -> ApiResult<(LabelSelector, FieldSelector)> {
    let ls = LabelSelector::parse(r.q("labelSelector").unwrap_or(""))?;
    let fs = FieldSelector::parse(
        r.q("fieldSelector").unwrap_or(""),
        supported_fields(&info.group, &info.resource),
    )?;
    Ok((ls, fs))
}

fn object_key(o: &Value) -> String {
    format!("{}/{}", meta_str(o, "namespace").unwrap_or(""), name_of(o))
}

/// Matching objects, with the list's resourceVersion.
pub(crate) fn matching(state: &State, r: &Req, t: &Target) -> ApiResult<(Vec<Arc<Value>>, u64)> {
    let (ls, fs) = selectors(r, &t.info)?;
    let ns = if t.namespace.is_empty() {
        None
    } else {
        Some(t.namespace.as_str())
    };
    let (items, rv) = state.store.list(&t.info.gr(), ns);
    Ok((
        items
            .into_iter()
            .filter(|o| ls.matches(o) && fs.matches(o))
            .collect(),
        rv,
    ))
}

fn list(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let (mut items, mut rv) = matching(state, r, t)?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if let Some(token) = r.q("continue") {
        let decoded: Value = b64
            .decode(token)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                ApiError::bad_request("continue key is not valid: illegal base64 data")
            })?;
        let start = decoded
            .get("start")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        rv = decoded.get("rv").and_then(Value::as_u64).unwrap_or(rv);
        items.retain(|o| object_key(o) > start);
    }
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if let Some(limit) = r
        .q("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        let last = items.last().map(|o| object_key(o)).unwrap_or_default();
        let token = b64.encode(json!({"rv": rv, "start": last}).to_string());
        list_meta["continue"] = json!(token);
        list_meta["remainingItemCount"] = json!(remaining);
    }
    let how = r.render_as();
    if how == RenderAs::Table {
        let objs: Vec<Value> = items.iter().map(|o| (**o).clone()).collect();
        return Ok(json_response(
            200,
            &crate::table::table(&t.info, &objs, list_meta),
        ));
    }
    let rendered: Vec<Value> = items.iter().map(|o| render(&t.info, how, o)).collect();
    let (kind, av) = match how {
        RenderAs::Metadata => (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        ),
        _ => (format!("{}List", t.info.kind), t.info.api_version()),
    };
    Ok(json_response(
        200,
        &json!({"kind": kind, "apiVersion": av, "metadata": list_meta, "items": rendered}),
    ))
}

fn create(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let body = r.json_body()?;
    let manager = r.field_manager("unknown");
    let ctx = WriteCtx {
        dry_run: r.dry_run(),
        strict: r.q("fieldValidation") == Some("Strict"),
        ..WriteCtx::new(&manager)
    };
    let obj = write::create(state, &t.info, &t.namespace, body, &ctx)?;
    Ok(json_response(201, &render(&t.info, r.render_as(), &obj)))
}

fn update(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let body = r.json_body()?;
    let manager = r.field_manager("unknown");
    let sub = t.subresource.as_str();
    if sub == "finalize" {
        // Namespace finalize: only spec.finalizers changes.
        let fins = body
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(json!([]));
        let ctx = WriteCtx::new(&manager);
        let obj = write::update(state, &t.info, &t.namespace, &t.name, &ctx, |cur| {
            let mut n = cur.clone();
            n["spec"]["finalizers"] = fins;
            Ok(n)
        })?;
        return Ok(json_response(200, &present(&t.info, &obj)));
    }
    let ctx = WriteCtx {
        subresource: sub,
        dry_run: r.dry_run(),
        strict: r.q("fieldValidation") == Some("Strict"),
        ..WriteCtx::new(&manager)
    };
    let obj = write::update(state, &t.info, &t.namespace, &t.name, &ctx, |_| Ok(body))?;
    Ok(json_response(200, &render(&t.info, r.render_as(), &obj)))
}

fn patch(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let kind = PatchKind::from_content_type(r.header("content-type"))
        .ok_or_else(|| ApiError::unsupported_media(r.header("content-type")))?;
    let body = r.json_body()?;
    let sub = t.subresource.as_str();
    let info = &t.info;
    if kind == PatchKind::Strategic && info.is_crd {
        return Err(ApiError::unsupported_media(
            "application/strategic-merge-patch+json",
        ));
    }
    if kind == PatchKind::Apply {
        let manager = r.q("fieldManager").ok_or_else(|| {
            ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager parameter",
            )
        })?;
        return server_side_apply(state, r, t, body, manager);
    }
    let manager = r.field_manager("unknown");
    let ctx = WriteCtx {
        subresource: sub,
        dry_run: r.dry_run(),
        strict: r.q("fieldValidation") == Some("Strict"),
        ..WriteCtx::new(&manager)
    };
    let obj = write::update(state, info, &t.namespace, &t.name, &ctx, |cur| {
        let mut doc = cur.clone();
        match kind {
            PatchKind::Json => {
                json_patch(&mut doc, &body).map_err(|e| ApiError::new(422, "Invalid", e))?
            }
            PatchKind::Merge => merge_patch(&mut doc, &body),
            PatchKind::Strategic => {
                strategic_merge(&mut doc, &body).map_err(ApiError::bad_request)?
            }
            PatchKind::Apply => {}
        }
        // A patch carries the resourceVersion only when the client wants the precondition.
        let wanted = body.pointer("/metadata/resourceVersion").is_some() && kind != PatchKind::Json
            || (kind == PatchKind::Json
                && meta_str(&doc, "resourceVersion") != meta_str(cur, "resourceVersion"));
        if !wanted && let Some(Value::Object(m)) = doc.get_mut("metadata") {
            m.remove("resourceVersion");
        }
        Ok(doc)
    })?;
    Ok(json_response(200, &render(info, r.render_as(), &obj)))
}

fn server_side_apply(
    state: &State,
    r: &Req,
    t: &Target,
    config: Value,
    manager: &str,
) -> ApiResult<Response<Body>> {
    let info = &t.info;
    let force = matches!(r.q("force"), Some("true"));
    let sub = t.subresource.as_str();
    let av = info.api_version();
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    if let Some(n) = meta_str(&config, "name")
        && n != t.name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({})",
            t.name
        )));
    }
    let conflict_err = |c: Vec<apply::Conflict>| {
        let (msg, causes) = apply::conflict_message(&c);
        ApiError::new(409, "Conflict", msg).with_details(
            json!({"name": t.name, "group": info.group, "kind": info.resource, "causes": causes}),
        )
    };
    let time = crate::util::now_rfc3339();
    let w = apply::Writer {
        manager,
        api_version: &av,
        subresource: sub,
        time: &time,
    };
    let ctx = WriteCtx {
        subresource: sub,
        dry_run: r.dry_run(),
        managed_done: true,
        ..WriteCtx::new(manager)
    };
    if state.store.get(&info.gr(), &t.namespace, &t.name).is_none() {
        if sub == "status" {
            return Err(ApiError::not_found(&info.group, &info.resource, &t.name));
        }
        let mut cfg = config.clone();
        cfg["metadata"]["name"] = json!(t.name);
        let mut obj = apply::apply(None, &cfg, &w, force).map_err(conflict_err)?;
        obj["metadata"]["name"] = json!(t.name);
        let created = write::create(state, info, &t.namespace, obj, &ctx)?;
        return Ok(json_response(201, &render(info, r.render_as(), &created)));
    }
    let obj = write::update(state, info, &t.namespace, &t.name, &ctx, |cur| {
        let mut next = apply::apply(Some(cur), &config, &w, force).map_err(conflict_err)?;
        if config.pointer("/metadata/resourceVersion").is_none()
            && let Some(Value::Object(m)) = next.get_mut("metadata")
        {
            m.remove("resourceVersion");
        }
        Ok(next)
    })?;
    Ok(json_response(200, &render(info, r.render_as(), &obj)))
}

pub(crate) fn delete_opts(r: &Req) -> ApiResult<DeleteOpts> {
    let body = r.json_body()?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let mut opts = DeleteOpts {
        propagation: s(body.get("propagationPolicy"))
            .or_else(|| r.q("propagationPolicy").map(str::to_string)),
        precondition_uid: s(body.pointer("/preconditions/uid")),
        precondition_rv: s(body.pointer("/preconditions/resourceVersion")),
        dry_run: r.dry_run()
            || body
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()),
    };
    if opts.propagation.is_none() && body.get("orphanDependents") == Some(&json!(true)) {
        opts.propagation = Some("Orphan".into());
    }
    if let Some(p) = &opts.propagation
        && !["Foreground", "Background", "Orphan"].contains(&p.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        )));
    }
    Ok(opts)
}

fn deleted_response(info: &ResourceInfo, obj: &Value, gone: bool) -> Response<Body> {
    if gone && !info.is_crd && info.resource != "customresourcedefinitions" {
        let mut details = json!({"name": name_of(obj), "kind": info.resource, "uid": meta_str(obj, "uid").unwrap_or("")});
        if !info.group.is_empty() {
            details["group"] = json!(info.group);
        }
        return json_response(
            200,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        );
    }
    json_response(200, &present(info, obj))
}

fn delete(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let opts = delete_opts(r)?;
    let (obj, gone) = write::delete(state, &t.info, &t.namespace, &t.name, &opts)?;
    Ok(deleted_response(&t.info, &obj, gone))
}

fn delete_collection(state: &State, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let opts = delete_opts(r)?;
    let (items, rv) = matching(state, r, t)?;
    let mut out = Vec::new();
    for it in items {
        let ns = meta(&it)
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match write::delete(state, &t.info, &ns, name_of(&it), &opts) {
            Ok((o, _)) => out.push(present(&t.info, &o)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json_response(
        200,
        &json!({"kind": format!("{}List", t.info.kind), "apiVersion": t.info.api_version(), "metadata": {"resourceVersion": rv.to_string()}, "items": out}),
    ))
}
