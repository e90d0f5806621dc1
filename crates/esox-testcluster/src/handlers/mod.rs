//! HTTP entry point: fault injection, authentication, routing, authorization, dispatch.

pub(crate) mod discovery;
pub(crate) mod objects;
mod reviews;
mod watch;
pub(crate) mod write;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use serde_json::Value;

use crate::auth::UserInfo;
use crate::auth::rbac::{self, Attributes};
use crate::faults::FaultAction;
use crate::resources::ResourceInfo;
use crate::state::State;
use crate::status::{ApiError, ApiResult};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

pub(crate) fn json_response(code: u16, v: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

/// A parsed request.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub user: UserInfo,
}

impl Req {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn header(&self, k: &str) -> &str {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json_body(&self) -> ApiResult<Value> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        if self.body.starts_with(crate::protobuf::MAGIC) {
            return crate::protobuf::decode(&self.body).map_err(ApiError::bad_request);
        }
        match serde_json::from_slice(&self.body) {
            Ok(v) => Ok(v),
            Err(e) => {
                // Apply patches may be YAML.
                if let Ok(text) = std::str::from_utf8(&self.body)
                    && let Ok(v) = serde_saphyr::from_str::<Value>(text)
                {
                    return Ok(v);
                }
                Err(ApiError::bad_request(format!(
                    "the request body is not valid JSON: {e}"
                )))
            }
        }
    }

    /// How the client wants objects rendered.
    pub fn render_as(&self) -> RenderAs {
        let accept = self.header("accept");
        for part in accept.split(',') {
            let part = part.trim();
            if part.contains("as=PartialObjectMetadata") {
                return RenderAs::Metadata;
            }
            if part.contains("as=Table") {
                return RenderAs::Table;
            }
            if part.starts_with("application/json") || part.starts_with("*/*") || part.is_empty() {
                return RenderAs::Full;
            }
        }
        RenderAs::Full
    }

    pub fn field_manager(&self, default_for: &str) -> String {
        if let Some(m) = self.q("fieldManager") {
            return m.to_string();
        }
        let ua = self.header("user-agent");
        let prefix = ua.split('/').next().unwrap_or("").trim();
        if prefix.is_empty() {
            default_for.to_string()
        } else {
            prefix.to_string()
        }
    }

    pub fn dry_run(&self) -> bool {
        self.q("dryRun").is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenderAs {
    Full,
    Metadata,
    Table,
}

/// A request for objects of one resource.
pub(crate) struct Target {
    pub info: Arc<ResourceInfo>,
    pub namespace: String,
    pub name: String,
    pub subresource: String,
    pub verb: &'static str,
}

fn authenticate(state: &State, headers: &HeaderMap) -> Result<UserInfo, ApiError> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(auth) = auth else {
        return Ok(UserInfo {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        });
    };
    let token = auth
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    if token == state.admin_token {
        return Ok(UserInfo {
            name: "esox-admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        });
    }
    let sub = state
        .signer
        .verify(token, crate::util::unix_now())
        .ok_or_else(ApiError::unauthorized)?;
    let sa = state
        .get("", "serviceaccounts", &sub.namespace, &sub.service_account)
        .ok_or_else(ApiError::unauthorized)?;
    if crate::util::meta_str(&sa, "uid") != Some(sub.sa_uid.as_str()) {
        return Err(ApiError::unauthorized());
    }
    if let Some(secret) = &sub.secret {
        let s = state
            .get("", "secrets", &sub.namespace, secret)
            .ok_or_else(ApiError::unauthorized)?;
        let stored = s
            .pointer("/data/token")
            .and_then(Value::as_str)
            .unwrap_or("");
        use base64::Engine;
        let expected = base64::engine::general_purpose::STANDARD.encode(token);
        if stored != expected {
            return Err(ApiError::unauthorized());
        }
    }
    Ok(UserInfo::service_account(
        &sub.namespace,
        &sub.service_account,
        &sub.sa_uid,
    ))
}

/// Serves one HTTP request.
pub(crate) async fn handle(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
    peer: Option<Result<UserInfo, ()>>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    state.requests.record(&parts.method);
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_response(&ApiError::bad_request(format!("reading the body: {e}"))),
    };
    // As the real server's authenticator chain: a client certificate first, then tokens.
    let user = match peer {
        Some(Ok(u)) => u,
        Some(Err(())) => return error_response(&ApiError::unauthorized()),
        None => match authenticate(&state, &parts.headers) {
            Ok(u) => u,
            Err(e) => return error_response(&e),
        },
    };
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let r = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
        user,
    };
    match route(&state, &r).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(method = %r.method, path = %r.path, code = e.code, "request failed");
            error_response(&e)
        }
    }
}

async fn apply_faults(
    state: &State,
    verb: &str,
    resource: &str,
    ns: &str,
    name: &str,
) -> ApiResult<()> {
    for action in state.faults.check(verb, resource, ns, name) {
        match action {
            FaultAction::Delay(d) => tokio::time::sleep(d).await,
            FaultAction::Fail {
                code,
                reason,
                message,
            } => return Err(ApiError::new(code, &reason, message)),
        }
    }
    Ok(())
}

fn non_resource_verb(m: &Method) -> &'static str {
    match *m {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

fn forbidden_non_resource(user: &UserInfo, a: &Attributes) -> ApiError {
    ApiError::new(
        403,
        "Forbidden",
        format!("forbidden: {}", rbac::denial_text(user, a)),
    )
    .with_details(serde_json::json!({}))
}

async fn route(state: &Arc<State>, r: &Req) -> ApiResult<Response<Body>> {
    let segs: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (g, v, rest),
        _ => {
            let a = Attributes {
                verb: non_resource_verb(&r.method).into(),
                path: Some(r.path.clone()),
                ..Default::default()
            };
            apply_faults(state, &a.verb, "", "", "").await?;
            if !rbac::allowed(&state.store, &r.user, &a) {
                return Err(forbidden_non_resource(&r.user, &a));
            }
            return discovery::serve(state, r, &segs);
        }
    };
    let target = parse_target(state, r, group, version, rest)?;
    apply_faults(
        state,
        target.verb,
        &target.info.resource,
        &target.namespace,
        &target.name,
    )
    .await?;
    let a = Attributes {
        verb: target.verb.into(),
        group: group.into(),
        resource: target.info.resource.clone(),
        subresource: target.subresource.clone(),
        namespace: target.namespace.clone(),
        name: target.name.clone(),
        path: None,
    };
    if !rbac::allowed(&state.store, &r.user, &a) {
        return Err(ApiError::forbidden(
            group,
            &target.info.resource,
            &target.name,
            &rbac::denial_text(&r.user, &a),
        ));
    }
    objects::dispatch(state, r, &target).await
}

fn parse_target(
    state: &State,
    r: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> ApiResult<Target> {
    let namespaced_form = rest.len() >= 3
        && rest[0] == "namespaces"
        && !(group.is_empty() && rest.len() == 3 && (rest[2] == "status" || rest[2] == "finalize"));
    let (namespace, tail) = if namespaced_form {
        (rest[1], &rest[2..])
    } else {
        ("", rest)
    };
    let (resource, name, sub) = match tail {
        [res] => (*res, "", ""),
        [res, name] => (*res, *name, ""),
        [res, name, sub] => (*res, *name, *sub),
        _ => return Err(ApiError::route_not_found()),
    };
    let info = state
        .info(group, version, resource)
        .ok_or_else(ApiError::route_not_found)?;
    if namespaced_form && !info.namespaced {
        return Err(ApiError::route_not_found());
    }
    if !sub.is_empty() && !info.subresources.contains(&sub) {
        return Err(ApiError::route_not_found());
    }
    let verb: &'static str = match (&r.method, name.is_empty()) {
        (&Method::GET, false) => "get",
        (&Method::GET, true) => {
            if matches!(r.q("watch"), Some("true" | "1")) {
                "watch"
            } else {
                "list"
            }
        }
        (&Method::POST, _) => "create",
        (&Method::PUT, false) => "update",
        (&Method::PATCH, false) => "patch",
        (&Method::DELETE, false) => "delete",
        (&Method::DELETE, true) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(
                r.method.as_str(),
                group,
                resource,
            ));
        }
    };
    if info.namespaced && namespace.is_empty() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::route_not_found());
    }
    if info.virtual_only && verb != "create" {
        return Err(ApiError::method_not_allowed(
            r.method.as_str(),
            group,
            resource,
        ));
    }
    Ok(Target {
        info,
        namespace: namespace.to_string(),
        name: name.to_string(),
        subresource: sub.to_string(),
        verb,
    })
}
