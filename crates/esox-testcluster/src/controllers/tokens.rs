//! The token controller: fills Secrets of type `kubernetes.io/service-account-token` with a
//! token, the CA and the namespace, and deletes them when their ServiceAccount goes.

use base64::Engine;
use serde_json::{Value, json};

use crate::resources::GroupResource;
use crate::state::State;
use crate::util::{meta_str, name_of};

const SA_TOKEN: &str = "kubernetes.io/service-account-token";
const SA_NAME_PTR: &str = "/metadata/annotations/kubernetes.io~1service-account.name";

pub(crate) fn reconcile_secret(state: &State, secret: &Value) {
    if secret.get("type").and_then(Value::as_str) != Some(SA_TOKEN) {
        return;
    }
    if secret.pointer("/metadata/deletionTimestamp").is_some()
        || secret.pointer("/data/token").is_some()
    {
        return;
    }
    let Some(sa_name) = secret.pointer(SA_NAME_PTR).and_then(Value::as_str) else {
        return;
    };
    let ns = meta_str(secret, "namespace").unwrap_or("").to_string();
    let Some(sa) = state.get("", "serviceaccounts", &ns, sa_name) else {
        return;
    };
    let sa_uid = meta_str(&sa, "uid").unwrap_or("").to_string();
    let name = name_of(secret).to_string();
    let token = state.signer.issue_legacy(&ns, sa_name, &sa_uid, &name);
    let b64 = |s: &str| Value::String(base64::engine::general_purpose::STANDARD.encode(s));
    let Some(info) = state.info("", "v1", "secrets") else {
        return;
    };
    let ca = b64(&state.ca_pem);
    let nsv = b64(&ns);
    let r = crate::handlers::write::update(state, &info, &ns, &name, &super::ctx(), |cur| {
        let mut n = cur.clone();
        if n.pointer("/data/token").is_some() {
            return Ok(n);
        }
        if !n.get("data").is_some_and(Value::is_object) {
            n["data"] = json!({});
        }
        n["data"]["token"] = b64(&token);
        n["data"]["ca.crt"] = ca;
        n["data"]["namespace"] = nsv;
        n["metadata"]["annotations"]["kubernetes.io/service-account.uid"] = json!(sa_uid);
        Ok(n)
    });
    if let Err(e) = r {
        tracing::debug!(secret = %name, error = %e, "filling the token secret failed; will retry");
    }
}

pub(crate) fn reconcile_account(state: &State, ns: &str, sa: &str) {
    let (secrets, _) = state
        .store
        .list(&GroupResource::new("", "secrets"), Some(ns));
    for s in secrets {
        if s.pointer(SA_NAME_PTR).and_then(Value::as_str) == Some(sa) {
            reconcile_secret(state, &s);
        }
    }
}

pub(crate) fn account_deleted(state: &State, ns: &str, sa: &str) {
    let (secrets, _) = state
        .store
        .list(&GroupResource::new("", "secrets"), Some(ns));
    let Some(info) = state.info("", "v1", "secrets") else {
        return;
    };
    for s in secrets {
        if s.get("type").and_then(Value::as_str) == Some(SA_TOKEN)
            && s.pointer(SA_NAME_PTR).and_then(Value::as_str) == Some(sa)
        {
            let _ =
                crate::handlers::write::delete(state, &info, ns, name_of(&s), &Default::default());
        }
    }
}
