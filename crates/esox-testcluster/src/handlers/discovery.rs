//! Discovery documents (/api, /apis, /apis/{group}/{version}), /version and health checks.

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use super::{Body, Req, json_response};
use crate::resources::{Registry, ResourceInfo};
use crate::state::State;
use crate::status::{ApiError, ApiResult};

/// The Kubernetes minor version this server claims to be.
pub const KUBE_MINOR: &str = "32";

fn text(s: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(s.to_string())).boxed());
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn group_doc(reg: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = reg
        .versions_of(group)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

fn resource_entries(info: &ResourceInfo) -> Vec<Value> {
    let mut out = vec![json!({
        "name": info.resource,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": info.verbs,
        "shortNames": info.short_names,
    })];
    if info.short_names.is_empty()
        && let Some(Value::Object(m)) = out.first_mut()
    {
        m.remove("shortNames");
    }
    for sub in &info.subresources {
        let entry = match *sub {
            "token" => {
                json!({"name": format!("{}/token", info.resource), "singularName": "", "namespaced": info.namespaced,
                              "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]})
            }
            "finalize" => {
                json!({"name": format!("{}/finalize", info.resource), "singularName": "", "namespaced": info.namespaced,
                                 "kind": info.kind, "verbs": ["update"]})
            }
            other => {
                json!({"name": format!("{}/{other}", info.resource), "singularName": "", "namespaced": info.namespaced,
                            "kind": info.kind, "verbs": ["get", "patch", "update"]})
            }
        };
        out.push(entry);
    }
    out
}

pub(super) fn serve(state: &State, r: &Req, segs: &[&str]) -> ApiResult<Response<Body>> {
    let reg = state.registry();
    match segs {
        [] => Ok(json_response(
            200,
            &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]}),
        )),
        ["healthz" | "livez" | "readyz", ..] => Ok(text("ok")),
        ["version"] => Ok(json_response(
            200,
            &json!({
                "major": "1", "minor": KUBE_MINOR, "gitVersion": format!("v1.{KUBE_MINOR}.0-esox"),
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"
            }),
        )),
        ["api"] => Ok(json_response(
            200,
            &json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": r.header("host")}]
            }),
        )),
        ["api", "v1"] => Ok(json_response(200, &resource_list(&reg, "", "v1"))),
        ["apis"] => {
            let groups: Vec<Value> = reg.groups().iter().map(|g| group_doc(&reg, g)).collect();
            Ok(json_response(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            ))
        }
        ["apis", g] if !reg.versions_of(g).is_empty() => {
            let mut doc = group_doc(&reg, g);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            Ok(json_response(200, &doc))
        }
        ["apis", g, v] if !reg.resources_of(g, v).is_empty() => {
            Ok(json_response(200, &resource_list(&reg, g, v)))
        }
        ["openapi", "v3"] => Ok(json_response(200, &openapi_v3_index(&reg))),
        ["openapi", "v3", "api", "v1"] => Ok(json_response(200, &openapi_v3_doc(&reg, "", "v1"))),
        ["openapi", "v3", "apis", g, v] if !reg.resources_of(g, v).is_empty() => {
            Ok(json_response(200, &openapi_v3_doc(&reg, g, v)))
        }
        _ => Err(ApiError::route_not_found()),
    }
}

fn resource_list(reg: &Registry, group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = reg
        .resources_of(group, version)
        .iter()
        .flat_map(|i| resource_entries(i))
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn gv_hash(reg: &Registry, group: &str, version: &str) -> String {
    // FNV-1a over the served resources: changes when a CRD adds or drops a version.
    let mut h: u64 = 0xcbf29ce484222325;
    for i in reg.resources_of(group, version) {
        for b in i
            .resource
            .bytes()
            .chain(i.kind.bytes())
            .chain(i.version.bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016X}")
}

/// The OpenAPI v3 index. Documents are minimal: one PATCH operation per kind, which is what
/// kubectl inspects to learn that the server validates fields itself (`fieldValidation`).
fn openapi_v3_index(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    paths.insert(
        "api/v1".into(),
        json!({"serverRelativeURL": format!("/openapi/v3/api/v1?hash={}", gv_hash(reg, "", "v1"))}),
    );
    for g in reg.groups() {
        for v in reg.versions_of(&g) {
            if reg.resources_of(&g, &v).iter().all(|i| i.virtual_only) {
                continue;
            }
            paths.insert(format!("apis/{g}/{v}"), json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash={}", gv_hash(reg, &g, &v))}));
        }
    }
    json!({"paths": paths})
}

fn openapi_v3_doc(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let prefix = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/{version}")
    };
    let body_schema = json!({"schema": {"type": "object"}});
    for i in reg
        .resources_of(group, version)
        .iter()
        .filter(|i| !i.virtual_only)
    {
        let path = if i.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", i.resource)
        } else {
            format!("{prefix}/{}/{{name}}", i.resource)
        };
        let gvk = json!({"group": group, "version": version, "kind": i.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}}
        ]);
        paths.insert(
            path,
            json!({
                "patch": {
                    "operationId": format!("patch{}", i.kind),
                    "parameters": params,
                    "requestBody": {"content": {
                        "application/json-patch+json": body_schema,
                        "application/merge-patch+json": body_schema,
                        "application/apply-patch+yaml": body_schema
                    }},
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk
                }
            }),
        );
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": format!("v1.{KUBE_MINOR}.0")}, "paths": paths, "components": {"schemas": {}}})
}
