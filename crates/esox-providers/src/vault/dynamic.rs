//! The `VaultDynamicSecret` generator (ESO's `generators/v1/vault`): one call to any Vault path
//! through the session a store with the same `provider` block would use (same login, same
//! token reuse), its answer turned into generated values.
//!
//! Where esox differs from ESO: ESO builds a new client and logs in for every generation; here
//! the login is shared with stores and generators of the same settings and credentials.

use std::time::Duration;

use esox_api::generators::{VaultDynamicSecretResultType, VaultDynamicSecretSpec};
use esox_api::v1::{RetrySettings, SecretStoreSpec, StoreKind};
use esox_core::SecretData;
use http::{Method, StatusCode};
use serde_json::Value;

use super::{VaultClient, VaultProvider};
use crate::{ProviderError, ProviderRuntime, StoreInfo};

/// Retries of a failed call when `retrySettings` does not say (the Vault Go client's default,
/// which ESO keeps).
const DEFAULT_RETRIES: u32 = 2;
/// Wait between retries when `retrySettings.retryInterval` is unset (the Vault Go client's
/// minimum wait).
const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Upper bound of `maxRetries`: a generator runs inside a reconcile, which must end.
const MAX_RETRIES: u32 = 10;
/// Upper bound of one wait between retries.
const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// The values of one generation of the `VaultDynamicSecret` `name` in `namespace`. Secrets the
/// provider block refers to resolve in `namespace`, as for a namespaced SecretStore.
pub async fn generate(
    runtime: &ProviderRuntime,
    namespace: &str,
    name: &str,
    spec: &VaultDynamicSecretSpec,
) -> Result<SecretData, ProviderError> {
    let provider = runtime
        .provider("vault")
        .and_then(|p| p.as_any())
        .and_then(|p| p.downcast_ref::<VaultProvider>())
        .ok_or_else(|| {
            ProviderError::InvalidConfig(
                "VaultDynamicSecret needs the vault provider, which this build of esox does not include".into(),
            )
        })?;
    let path = spec.path.trim_matches('/');
    if path.is_empty() {
        return Err(ProviderError::InvalidConfig(
            "spec.path is empty: set the Vault path to call, such as database/creds/app".into(),
        ));
    }
    let retries = retries(spec.retry_settings.as_ref())?;
    let ctx = runtime.context(Some(namespace));
    let store = StoreInfo {
        kind: StoreKind::SecretStore,
        name: name.to_owned(),
        namespace: Some(namespace.to_owned()),
        spec: store_spec(spec)?,
    };
    if spec.provider.server.trim().is_empty() {
        return Err(ProviderError::InvalidConfig(
            "spec.provider.server is empty: set the Vault address, such as https://vault.example.com:8200".into(),
        ));
    }
    let client = provider.client(&store, &ctx).await?;
    let call = call_for(spec)?;
    let (status, json) = send_with_retries(&client, &call, path, retries).await?;
    let answer = parse(&client, &call, path, status, json)?;
    match answer {
        Some(json) => Ok(select(&json, spec.result_type)),
        None if spec.allow_empty_response => Ok(SecretData::new()),
        None => Err(ProviderError::Other(format!(
            "unable to get dynamic secret: empty response from Vault for {} {path}: check the path, or set spec.allowEmptyResponse when no data is expected",
            call.method
        ))),
    }
}

/// A store spec for the generator's `provider` block, so the session is built as for a store.
fn store_spec(spec: &VaultDynamicSecretSpec) -> Result<SecretStoreSpec, ProviderError> {
    let value = serde_json::json!({ "provider": { "vault": spec.provider } });
    serde_json::from_value(value).map_err(|e| {
        ProviderError::InvalidConfig(format!(
            "spec.provider cannot be used as a Vault provider: {e}"
        ))
    })
}

/// `(retries, interval)` from `retrySettings`.
fn retries(settings: Option<&RetrySettings>) -> Result<(u32, Duration), ProviderError> {
    let Some(settings) = settings else {
        return Ok((DEFAULT_RETRIES, DEFAULT_RETRY_INTERVAL));
    };
    let count = match settings.max_retries {
        None => DEFAULT_RETRIES,
        Some(n) if n < 0 => 0,
        Some(n) => u32::try_from(n).unwrap_or(MAX_RETRIES).min(MAX_RETRIES),
    };
    let interval = match settings.retry_interval.as_deref() {
        None | Some("") => DEFAULT_RETRY_INTERVAL,
        Some(text) => {
            let nanos = esox_core::duration::parse(text).map_err(|e| {
                ProviderError::InvalidConfig(format!(
                    "spec.retrySettings.retryInterval {text:?} is not a duration ({e}): write it like 1s or 500ms"
                ))
            })?;
            // A reconcile waits for the retries, so one wait is bounded.
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)).min(MAX_RETRY_INTERVAL)
        }
    };
    Ok((count, interval))
}

/// A call to make: method, query, body, and what it is for (messages).
struct Call {
    method: Method,
    query: Option<String>,
    body: Option<Value>,
    what: &'static str,
}

/// ESO's choice of call: GET (default) reads with the query parameters, LIST lists, DELETE
/// deletes, anything else writes `parameters` (the Go client writes with PUT, which Vault
/// treats as POST).
fn call_for(spec: &VaultDynamicSecretSpec) -> Result<Call, ProviderError> {
    let method = spec.method.trim().to_ascii_uppercase();
    let call = match method.as_str() {
        "" | "GET" => Call {
            method: Method::GET,
            query: query(spec),
            body: None,
            what: "unable to get dynamic secret",
        },
        "LIST" => Call {
            method: Method::GET,
            query: Some("list=true".into()),
            body: None,
            what: "unable to list dynamic secret",
        },
        "DELETE" => Call {
            method: Method::DELETE,
            query: None,
            body: None,
            what: "unable to delete dynamic secret",
        },
        _ => {
            let body = match &spec.parameters {
                None => Value::Object(Default::default()),
                Some(p) if p.0.is_object() => p.0.clone(),
                Some(p) if p.0.is_null() => Value::Object(Default::default()),
                Some(_) => {
                    return Err(ProviderError::InvalidConfig(
                        "spec.parameters must be an object of request fields, such as {common_name: app.example.com}".into(),
                    ));
                }
            };
            Call {
                method: Method::PUT,
                query: None,
                body: Some(body),
                what: "unable to write dynamic secret",
            }
        }
    };
    Ok(call)
}

/// `getParameters` as a query string, keys in order, each value escaped.
fn query(spec: &VaultDynamicSecretSpec) -> Option<String> {
    let pairs: Vec<String> = spec
        .get_parameters
        .iter()
        .flat_map(|(k, vs)| {
            vs.iter()
                .map(move |v| format!("{}={}", escape(k), escape(v)))
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("&"))
}

/// Percent-encoding of a query component (RFC 3986 unreserved characters kept).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends `call`, again after transport failures and answers Vault may give while it is busy
/// or sealed (429, 5xx but 501), up to `retries` more times.
async fn send_with_retries(
    client: &VaultClient,
    call: &Call,
    path: &str,
    (retries, interval): (u32, Duration),
) -> Result<(StatusCode, Value), ProviderError> {
    let mut attempt = 0;
    loop {
        let result = client
            .logical(
                call.method.clone(),
                path,
                call.query.clone(),
                call.body.clone(),
                call.what,
            )
            .await;
        let retryable = match &result {
            Err(ProviderError::Unavailable { .. }) => true,
            Err(_) => false,
            Ok((status, _)) => {
                *status == StatusCode::TOO_MANY_REQUESTS
                    || (status.is_server_error() && *status != StatusCode::NOT_IMPLEMENTED)
            }
        };
        if !retryable || attempt >= retries {
            return result;
        }
        attempt += 1;
        tracing::debug!(path, attempt, "retrying a VaultDynamicSecret call");
        tokio::time::sleep(interval).await;
    }
}

/// The answer as the Go client returns it: `None` for no content (204, or a 404 without
/// errors); an error for other failures.
fn parse(
    client: &VaultClient,
    call: &Call,
    path: &str,
    status: StatusCode,
    json: Value,
) -> Result<Option<Value>, ProviderError> {
    if status == StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if status == StatusCode::NOT_FOUND {
        let has_errors = json
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        if !has_errors {
            let has_content = json.get("data").is_some_and(|d| !d.is_null())
                || json.get("warnings").is_some_and(|w| !w.is_null());
            return Ok(has_content.then_some(json));
        }
        return Err(client.logical_error(call.what, path, status, &json));
    }
    if !status.is_success() {
        return Err(client.logical_error(call.what, path, status, &json));
    }
    if json.is_null() {
        return Ok(None);
    }
    Ok(Some(json))
}

/// The part of the answer `result_type` names, each top-level field a value: strings as they
/// are, numbers as written, `null` empty, the rest as Go's JSON.
fn select(answer: &Value, result_type: VaultDynamicSecretResultType) -> SecretData {
    let part = match result_type {
        VaultDynamicSecretResultType::Data => answer.get("data"),
        VaultDynamicSecretResultType::Auth => answer.get("auth"),
        VaultDynamicSecretResultType::Raw => Some(answer),
    };
    let Some(Value::Object(fields)) = part else {
        return SecretData::new();
    };
    fields
        .iter()
        .map(|(k, v)| (k.clone(), go_bytes(v)))
        .collect()
}

fn go_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => s.clone().into_bytes(),
        Value::Number(n) => n.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        other => esox_core::go_json::value(other, esox_core::go_json::HtmlEscape::On).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_types_pick_their_part_and_print_like_go() {
        let answer = serde_json::json!({
            "request_id": "r",
            "lease_duration": 3600,
            "data": {"user": "u", "n": 7, "ok": true, "nested": {"b": "<x>", "a": 1}, "gone": null},
            "auth": {"client_token": "t", "policies": ["a", "b"]}
        });
        let data = select(&answer, VaultDynamicSecretResultType::Data);
        assert_eq!(data["user"], b"u");
        assert_eq!(data["n"], b"7");
        assert_eq!(data["ok"], b"true");
        assert_eq!(data["nested"], br#"{"a":1,"b":"\u003cx\u003e"}"#);
        assert_eq!(data["gone"], b"");
        let auth = select(&answer, VaultDynamicSecretResultType::Auth);
        assert_eq!(
            auth.keys().collect::<Vec<_>>(),
            ["client_token", "policies"]
        );
        assert_eq!(auth["policies"], br#"["a","b"]"#);
        let raw = select(&answer, VaultDynamicSecretResultType::Raw);
        assert_eq!(raw["request_id"], b"r");
        assert_eq!(raw["lease_duration"], b"3600");
        assert!(raw.contains_key("data") && raw.contains_key("auth"));
        // No auth block in the answer: nothing, as ESO's marshalled nil pointer.
        let none = select(
            &serde_json::json!({"data": {}}),
            VaultDynamicSecretResultType::Auth,
        );
        assert!(none.is_empty());
    }

    #[test]
    fn retry_settings_default_and_bound() {
        assert_eq!(retries(None).unwrap(), (2, Duration::from_secs(1)));
        let s = RetrySettings {
            max_retries: Some(50),
            retry_interval: Some("250ms".into()),
        };
        assert_eq!(
            retries(Some(&s)).unwrap(),
            (MAX_RETRIES, Duration::from_millis(250))
        );
        let bad = RetrySettings {
            max_retries: Some(1),
            retry_interval: Some("soon".into()),
        };
        let e = retries(Some(&bad)).unwrap_err().to_string();
        assert!(e.contains("spec.retrySettings.retryInterval"), "{e}");
    }

    #[test]
    fn query_parameters_are_escaped_and_repeated() {
        let spec: VaultDynamicSecretSpec = serde_json::from_value(serde_json::json!({
            "path": "p",
            "provider": {"server": "http://v"},
            "getParameters": {"a b": ["1", "x&y"], "c": ["2"]}
        }))
        .unwrap();
        assert_eq!(query(&spec).as_deref(), Some("a%20b=1&a%20b=x%26y&c=2"));
    }
}
