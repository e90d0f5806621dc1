//! Create-only virtual resources: TokenRequest, SelfSubjectAccessReview,
//! SelfSubjectRulesReview and SelfSubjectReview.

use std::sync::Arc;

use http::Response;
use serde_json::{Value, json};

use super::{Body, Req, Target, json_response};
use crate::auth::rbac::{self, Attributes};
use crate::state::State;
use crate::status::{ApiError, ApiResult};
use crate::util::{meta_str, unix_now};

pub(super) fn create(state: &Arc<State>, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let mut body = r.json_body()?;
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let status = match t.info.resource.as_str() {
        "selfsubjectaccessreviews" => {
            let a = if let Some(ra) = body.pointer("/spec/resourceAttributes") {
                Attributes {
                    verb: s(ra, "verb"),
                    group: s(ra, "group"),
                    resource: s(ra, "resource"),
                    subresource: s(ra, "subresource"),
                    namespace: s(ra, "namespace"),
                    name: s(ra, "name"),
                    path: None,
                }
            } else if let Some(nra) = body.pointer("/spec/nonResourceAttributes") {
                Attributes {
                    verb: s(nra, "verb"),
                    path: Some(s(nra, "path")),
                    ..Default::default()
                }
            } else {
                return Err(ApiError::invalid("authorization.k8s.io", "SelfSubjectAccessReview", "", &[(
                    "FieldValueRequired".into(), "spec.resourceAttributes".into(),
                    "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into())]));
            };
            let allowed = rbac::allowed(&state.store, &r.user, &a);
            let mut st = json!({"allowed": allowed});
            if allowed {
                st["reason"] = json!(if r.user.is_master() {
                    "allowed by the system:masters group"
                } else {
                    "RBAC: allowed"
                });
            }
            st
        }
        "selfsubjectrulesreviews" => {
            let ns = body
                .pointer("/spec/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let rules = rbac::rules_for(&state.store, &r.user, &ns);
            let mut resource_rules = Vec::new();
            let mut non_resource_rules = Vec::new();
            for rule in rules {
                if rule.get("nonResourceURLs").is_some() {
                    non_resource_rules.push(
                        json!({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}),
                    );
                } else {
                    let mut rr = json!({"verbs": rule["verbs"], "apiGroups": rule.get("apiGroups").cloned().unwrap_or(json!([])),
                                        "resources": rule.get("resources").cloned().unwrap_or(json!([]))});
                    if let Some(n) = rule.get("resourceNames") {
                        rr["resourceNames"] = n.clone();
                    }
                    resource_rules.push(rr);
                }
            }
            json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
        }
        "selfsubjectreviews" => {
            let mut ui = json!({"username": r.user.name, "groups": r.user.groups});
            if !r.user.uid.is_empty() {
                ui["uid"] = json!(r.user.uid);
            }
            json!({"userInfo": ui})
        }
        _ => return Err(ApiError::route_not_found()),
    };
    body["apiVersion"] = json!(t.info.api_version());
    body["kind"] = json!(t.info.kind);
    if body.get("metadata").is_none() {
        body["metadata"] = json!({"creationTimestamp": null});
    }
    body["status"] = status;
    Ok(json_response(201, &body))
}

/// `POST serviceaccounts/{name}/token`.
pub(super) fn token_request(state: &Arc<State>, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let mut body = r.json_body()?;
    if !body.is_object() {
        body = json!({});
    }
    let sa = state
        .get("", "serviceaccounts", &t.namespace, &t.name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", &t.name))?;
    let uid = meta_str(&sa, "uid").unwrap_or("").to_string();
    let ttl = body
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600);
    if ttl < 600 {
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            &t.name,
            &[(
                "FieldValueInvalid".into(),
                "spec.expirationSeconds".into(),
                format!("Invalid value: {ttl}: may not specify a duration less than 10 minutes"),
            )],
        ));
    }
    let audiences: Vec<String> = body
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![crate::auth::token::ISSUER.to_string()]);
    let now = unix_now();
    let token = state
        .signer
        .issue_bound(&t.namespace, &t.name, &uid, &audiences, now, ttl);
    let exp = jiff::Timestamp::from_second(now + ttl)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let resp = json!({
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": t.name, "namespace": t.namespace, "creationTimestamp": null},
        "spec": {"audiences": audiences, "expirationSeconds": ttl, "boundObjectRef": body.pointer("/spec/boundObjectRef").cloned().unwrap_or(Value::Null)},
        "status": {"token": token, "expirationTimestamp": exp},
    });
    Ok(json_response(201, &resp))
}
