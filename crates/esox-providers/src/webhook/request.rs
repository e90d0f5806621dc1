//! The request machinery ESO's webhook provider and Webhook generator share: template data
//! (the remote reference, the `secrets` Secrets), the templated request, the answer's status
//! rules, and the extraction of one value or a key map from the answer.

use std::collections::BTreeMap;
use std::time::Duration;

use esox_api::v1::providers::webhook::WebhookProvider;
use esox_core::SecretData;
use esox_core::go_json::{self, HtmlEscape};
use esox_template::{Value, gostr, value::Elem};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::jsonpath;
use crate::http::{DEFAULT_MAX_RESPONSE, DEFAULT_TIMEOUT, HttpClient, HttpError, HttpRequest};
use crate::{ClientContext, ProviderError, kube_errors};

/// The label ESO requires on every Secret the webhook reads, so that a store cannot read
/// arbitrary Secrets of the namespace.
const TYPE_LABEL: &str = "external-secrets.io/type";
/// Name of every webhook template in ESO (it appears in template errors).
const TEMPLATE_NAME: &str = "webhooktemplate";
/// ESO's metrics label for the webhook provider and its one call.
const METRIC_PROVIDER: &str = "Webhook";
const METRIC_CALL: &str = "HTTPRequest";

/// Where the `secrets` (and NTLM) Secrets are read.
#[derive(Clone, Debug)]
pub enum SecretScope {
    /// A SecretStore or a generator: always this namespace.
    Namespace(String),
    /// A ClusterSecretStore: each reference must name its namespace.
    Cluster,
}

/// One webhook configuration, ready to send requests.
pub struct Webhook {
    spec: WebhookProvider,
    http: HttpClient,
    ctx: ClientContext,
    scope: SecretScope,
    /// The consuming namespace, `.remoteRef.namespace` in templates.
    namespace: String,
    /// Path of the settings block in messages (`spec.provider.webhook`, or `spec`).
    field: String,
}

/// The remote reference as templates see it.
pub enum Remote<'a> {
    /// Generators: no `.remoteRef`.
    None,
    /// Reads: `.remoteRef.key`, `.version`, `.property`, `.namespace`.
    Read {
        key: &'a str,
        version: &'a str,
        property: &'a str,
    },
    /// Pushes: `.remoteRef.remoteKey`, `.secretKey` (when set) and `.remoteRef.<remoteKey>`,
    /// the pushed value.
    Push {
        remote_key: &'a str,
        secret_key: Option<&'a str>,
        value: &'a [u8],
    },
    /// Deletes: `.remoteRef.remoteKey` only.
    Delete { remote_key: &'a str },
    /// The existence check of a push: a read of `.remoteRef.key` as in ESO, which also sees
    /// `.remoteRef.remoteKey` (ESO renders `<no value>` there, so a URL written for pushes
    /// would ask for the wrong secret).
    Exists { remote_key: &'a str },
}

impl Webhook {
    /// Resolves the CA and timeout of `spec` (at `field`) and builds the HTTP client.
    pub async fn new(
        spec: WebhookProvider,
        ctx: ClientContext,
        scope: SecretScope,
        namespace: String,
        field: String,
        ca_scope: &crate::auth::Scope,
    ) -> Result<Self, ProviderError> {
        if spec.auth.as_ref().is_some_and(|a| a.ntlm.is_some()) {
            return Err(ProviderError::InvalidConfig(format!(
                "{field}.auth.ntlm is not supported by esox: send the credentials through \
                 {field}.headers (for example an Authorization header templated from {field}.secrets)"
            )));
        }
        let timeout = match spec.timeout.as_deref() {
            None | Some("") => DEFAULT_TIMEOUT,
            Some(text) => {
                let nanos = esox_core::duration::parse(text).map_err(|e| {
                    ProviderError::InvalidConfig(format!(
                        "{field}.timeout {text:?} is not a Go duration ({e}): write it like 30s or 1m"
                    ))
                })?;
                // Go's client treats zero or less as no timeout; esox keeps a bound.
                if nanos <= 0 {
                    DEFAULT_TIMEOUT
                } else {
                    Duration::from_nanos(nanos.unsigned_abs())
                }
            }
        };
        let source = crate::auth::CaSource {
            ca_bundle: spec.ca_bundle.as_ref().map(|b| b.0.as_slice()),
            ca_provider: spec.ca_provider.as_ref(),
            field: &field,
        };
        let ca = source.resolve(ca_scope, &ctx).await?;
        let ca_field = if spec.ca_bundle.as_ref().is_some_and(|b| !b.0.is_empty()) {
            format!("{field}.caBundle")
        } else {
            format!("{field}.caProvider")
        };
        let http = HttpClient::new(ca.as_deref(), &ca_field, timeout, DEFAULT_MAX_RESPONSE)?;
        Ok(Self {
            spec,
            http,
            ctx,
            scope,
            namespace,
            field,
        })
    }

    pub fn spec(&self) -> &WebhookProvider {
        &self.spec
    }

    /// The answer's body for `remote` (ESO's `GetWebhookData`, and a push's or a delete's
    /// request). 404 is [`ProviderError::NoSecret`].
    pub async fn call(&self, remote: &Remote<'_>) -> Result<Vec<u8>, ProviderError> {
        let secrets = self.read_secrets().await?;
        let escaped = template_data(remote, &self.namespace, &secrets, true);
        let raw = template_data(remote, &self.namespace, &secrets, false);
        let default_method = match remote {
            Remote::Push { .. } => "POST",
            Remote::Delete { .. } => "DELETE",
            _ => "GET",
        };
        let method = match remote {
            // ESO always deletes with DELETE, whatever `method` says.
            Remote::Delete { .. } => default_method.to_owned(),
            _ if self.spec.method.is_empty() => default_method.to_owned(),
            _ => self.spec.method.clone(),
        };
        let url = render(&self.spec.url, &escaped)
            .map_err(|e| invalid(format!("failed to parse url ({}.url): {e}", self.field)))?;
        let body_template = match remote {
            Remote::Push { remote_key, .. } if self.spec.body.is_empty() => {
                format!("{{{{ .remoteRef.{remote_key} }}}}")
            }
            Remote::Delete { .. } => String::new(),
            _ => self.spec.body.clone(),
        };
        let body = render_bytes(&body_template, &raw)
            .map_err(|e| invalid(format!("failed to parse body ({}.body): {e}", self.field)))?;
        let mut headers = Vec::with_capacity(self.spec.headers.len());
        for (name, template) in &self.spec.headers {
            let value = render(template, &raw).map_err(|e| {
                invalid(format!(
                    "failed to parse header {name} ({}.headers): {e}",
                    self.field
                ))
            })?;
            headers.push((name.clone(), value));
        }
        let answer = self
            .http
            .send(HttpRequest {
                method,
                url,
                headers,
                body,
            })
            .await;
        self.ctx
            .calls()
            .observe(METRIC_PROVIDER, METRIC_CALL, answer.is_ok());
        let answer = answer.map_err(|e| self.http_error(e))?;
        let status = answer.status;
        // Never the URL, headers or body: they may carry credentials.
        tracing::debug!(
            status = status.as_u16(),
            bytes = answer.body.len(),
            "webhook answered"
        );
        if status == http::StatusCode::NOT_FOUND {
            return Err(ProviderError::NoSecret(
                "Secret does not exist (the endpoint answered 404 Not Found)".to_owned(),
            ));
        }
        if status == http::StatusCode::NOT_MODIFIED {
            return Err(ProviderError::Other(
                "the endpoint answered 304 Not Modified, which esox cannot use as a value"
                    .to_owned(),
            ));
        }
        if !status.is_success() {
            let what = if matches!(remote, Remote::Delete { .. }) {
                "delete endpoint"
            } else {
                "endpoint"
            };
            let message = format!(
                "{what} gave error {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            return Err(match status.as_u16() {
                401 | 403 => ProviderError::forbidden(message),
                429 | 500..=599 => ProviderError::unavailable(message),
                _ => ProviderError::Other(message),
            });
        }
        Ok(answer.body)
    }

    /// `result.jsonPath` with the reference's template data (ESO templates it for reads).
    pub async fn templated_json_path(&self, remote: &Remote<'_>) -> Result<String, ProviderError> {
        let path = self
            .spec
            .result
            .as_ref()
            .map(|r| r.json_path.as_str())
            .unwrap_or_default();
        if path.is_empty() {
            return Ok(String::new());
        }
        let secrets = self.read_secrets().await?;
        let raw = template_data(remote, &self.namespace, &secrets, false);
        render(path, &raw).map_err(|e| {
            invalid(format!(
                "cannot get templated json path ({}.result.jsonPath): {e}",
                self.field
            ))
        })
    }

    fn http_error(&self, e: HttpError) -> ProviderError {
        match e {
            HttpError::InvalidRequest(m) => invalid(format!("{}: {m}", self.field)),
            HttpError::Timeout(_) => ProviderError::unavailable(format!(
                "failed to call endpoint: {e}; raise {}.timeout if the endpoint is slow",
                self.field
            )),
            HttpError::TooLarge(_) => ProviderError::Other(format!("failed to call endpoint: {e}")),
            HttpError::Transport { message, source } => ProviderError::Unavailable {
                message,
                source: Some(source),
            },
        }
    }

    /// Every Secret of `secrets`: name -> (key -> value).
    async fn read_secrets(&self) -> Result<BTreeMap<String, SecretData>, ProviderError> {
        let mut out: BTreeMap<String, SecretData> = BTreeMap::new();
        for (i, entry) in self.spec.secrets.iter().enumerate() {
            let field = format!("{}.secrets[{i}].secretRef", self.field);
            let secret = self.store_secret(&entry.secret_ref, &field).await?;
            // ESO merges every key of the Secret under the entry's name.
            let target = out.entry(entry.name.clone()).or_default();
            for (k, v) in secret.data.unwrap_or_default() {
                target.insert(k, v.0);
            }
        }
        Ok(out)
    }

    async fn store_secret(
        &self,
        selector: &esox_api::meta::SecretKeySelector,
        field: &str,
    ) -> Result<Secret, ProviderError> {
        let namespace = match &self.scope {
            SecretScope::Namespace(ns) => ns.clone(),
            SecretScope::Cluster => selector.namespace.clone().ok_or_else(|| {
                invalid(format!(
                    "no namespace on ClusterScoped webhook secret {}: set {field}.namespace",
                    selector.name
                ))
            })?,
        };
        let name = &selector.name;
        let api: Api<Secret> = Api::namespaced(self.ctx.kube().clone(), &namespace);
        let secret = api.get(name).await.map_err(|e| {
            kube_errors::api_error(
                e,
                self.ctx.own_server(),
                &format!("{field}: failed to get webhook secret {namespace}/{name}"),
            )
        })?;
        let label = secret
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(TYPE_LABEL));
        match label.map(String::as_str) {
            Some("webhook") => Ok(secret),
            Some(_) => Err(invalid(format!(
                "{field}: secret {namespace}/{name}: secret type is not 'webhook' (label {TYPE_LABEL} must be webhook)"
            ))),
            None => Err(invalid(format!(
                "{field}: secret {namespace}/{name} does not contain needed label '{TYPE_LABEL}: webhook'. Update secret label to use it with webhook"
            ))),
        }
    }
}

fn invalid(message: String) -> ProviderError {
    ProviderError::InvalidConfig(message)
}

/// The templates' dot: `remoteRef` and the Secrets, all `map[string]map[string]string` as in
/// ESO. With `escape`, the remote reference's values are query-escaped (for the URL).
fn template_data(
    remote: &Remote<'_>,
    namespace: &str,
    secrets: &BTreeMap<String, SecretData>,
    escape: bool,
) -> Value {
    let enc = |s: &str| {
        if escape {
            query_escape(s)
        } else {
            s.to_owned()
        }
    };
    let mut root: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut reference = BTreeMap::new();
    match remote {
        Remote::None => {}
        Remote::Read {
            key,
            version,
            property,
        } => {
            reference.insert("key".to_owned(), Value::str(enc(key)));
            reference.insert("version".to_owned(), Value::str(enc(version)));
            reference.insert("property".to_owned(), Value::str(enc(property)));
            // Not escaped in ESO either: namespace names need no escaping.
            reference.insert("namespace".to_owned(), Value::str(namespace));
        }
        Remote::Push {
            remote_key,
            secret_key,
            value,
        } => {
            reference.insert("remoteKey".to_owned(), Value::str(enc(remote_key)));
            if let Some(k) = secret_key.filter(|k| !k.is_empty()) {
                reference.insert("secretKey".to_owned(), Value::str(enc(k)));
            }
            let value = if escape {
                query_escape_bytes(value)
            } else {
                gostr::from_bytes(value)
            };
            reference.insert((*remote_key).to_owned(), Value::str(value));
        }
        Remote::Exists { remote_key } => {
            reference.insert("key".to_owned(), Value::str(enc(remote_key)));
            reference.insert("remoteKey".to_owned(), Value::str(enc(remote_key)));
            reference.insert("version".to_owned(), Value::str(""));
            reference.insert("property".to_owned(), Value::str(""));
            reference.insert("namespace".to_owned(), Value::str(namespace));
        }
        // ESO does not escape the key of a delete's URL.
        Remote::Delete { remote_key } => {
            reference.insert("remoteKey".to_owned(), Value::str(*remote_key));
        }
    }
    if !matches!(remote, Remote::None) {
        root.insert("remoteRef".to_owned(), reference);
    }
    for (name, data) in secrets {
        let target = root.entry(name.clone()).or_default();
        for (k, v) in data {
            target.insert(k.clone(), Value::str(gostr::from_bytes(v)));
        }
    }
    let outer = root
        .into_iter()
        .map(|(k, inner)| {
            (
                k,
                Value::Map(esox_template::value::MapRef::new(inner), Elem::Str),
            )
        })
        .collect();
    Value::map(outer)
}

fn render(template: &str, data: &Value) -> Result<String, esox_template::TemplateError> {
    if template.is_empty() {
        return Ok(String::new());
    }
    esox_template::render(TEMPLATE_NAME, template, data, None)
}

fn render_bytes(template: &str, data: &Value) -> Result<Vec<u8>, esox_template::TemplateError> {
    if template.is_empty() {
        return Ok(Vec::new());
    }
    esox_template::render_bytes(TEMPLATE_NAME, template, data, None)
}

/// Go's `url.QueryEscape`: unreserved characters kept, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    query_escape_bytes(s.as_bytes())
}

fn query_escape_bytes(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

/// One value out of the answer (ESO's `GetSecret`): the body itself without a JSON path,
/// else the selected value, the first one of an array.
pub fn single_value(body: &[u8], json_path: &str) -> Result<Vec<u8>, ProviderError> {
    if json_path.is_empty() {
        return Ok(body.to_vec());
    }
    let doc = parse_json(body, "failed to parse response json")?;
    let selected = jsonpath::get(json_path, &doc).map_err(|e| {
        ProviderError::Other(format!("failed to get response path {json_path}: {e}"))
    })?;
    extract_single(&selected)
}

fn extract_single(v: &serde_json::Value) -> Result<Vec<u8>, ProviderError> {
    use serde_json::Value as J;
    match v {
        J::Bool(b) => Ok(b.to_string().into_bytes()),
        J::Null => Ok(Vec::new()),
        // ESO formats a lone number with no decimals (`FormatFloat(f, 'f', 0, 64)`): 1.5
        // gives "2", as there.
        J::Number(n) => Ok(format!("{:.0}", n.as_f64().unwrap_or(f64::NAN)).into_bytes()),
        J::String(s) => Ok(s.clone().into_bytes()),
        J::Array(items) => match items.first() {
            Some(first) => extract_single(first),
            None => Err(ProviderError::Other(
                "filter worked but didn't get any result".to_owned(),
            )),
        },
        J::Object(_) => Ok(go_json::value(v, HtmlEscape::On).into_bytes()),
    }
}

/// The answer as keys (ESO's `GetSecretMap`): the JSON object at `json_path` (or the whole
/// answer); a string there is parsed as JSON first.
pub fn key_map(body: &[u8], json_path: &str) -> Result<SecretData, ProviderError> {
    let mut doc = parse_json(body, "failed to parse response json")?;
    if !json_path.is_empty() {
        doc = jsonpath::get(json_path, &doc).map_err(|e| {
            ProviderError::Other(format!("failed to get response path {json_path}: {e}"))
        })?;
    }
    if let serde_json::Value::String(s) = &doc {
        doc = parse_json(s.as_bytes(), "failed to parse response json from jsonpath")?;
    }
    match doc {
        serde_json::Value::Object(map) => Ok(map
            .iter()
            .map(|(k, v)| (k.clone(), esox_core::rewrite::value_bytes(v)))
            .collect()),
        other => Err(ProviderError::Other(format!(
            "failed to get response (wrong type: {}): the answer{} must be a JSON object",
            go_type(&other),
            if json_path.is_empty() {
                String::new()
            } else {
                format!(" at {json_path}")
            }
        ))),
    }
}

fn parse_json(bytes: &[u8], what: &str) -> Result<serde_json::Value, ProviderError> {
    go_json::parse(bytes).map_err(|e| ProviderError::Other(format!("{what}: {e}")))
}

/// Go's `%T` of a decoded JSON value, as ESO's message shows it.
fn go_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "<nil>",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "float64",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "[]interface {}",
        serde_json::Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("/myapp/secrets"), "%2Fmyapp%2Fsecrets");
        assert_eq!(query_escape("a b&c=d~e_f.g-h"), "a+b%26c%3Dd~e_f.g-h");
        assert_eq!(query_escape("é"), "%C3%A9");
    }

    #[test]
    fn single_values_follow_eso() {
        let body =
            br#"{"result":{"thesecret":{"one":"secret-value"}, "n": 1.5, "t": true, "z": null}}"#;
        assert_eq!(
            single_value(body, "$.result.thesecret").unwrap(),
            br#"{"one":"secret-value"}"#
        );
        assert_eq!(single_value(body, "$.result.n").unwrap(), b"2");
        assert_eq!(single_value(body, "$.result.t").unwrap(), b"true");
        assert_eq!(single_value(body, "$.result.z").unwrap(), b"");
        assert_eq!(single_value(b"plain text", "").unwrap(), b"plain text");
        let err = single_value(b"{\"a\":", "$.a").unwrap_err().to_string();
        assert!(err.starts_with("failed to parse response json"), "{err}");
    }

    #[test]
    fn key_maps_follow_eso() {
        let body = br#"{"result":{"thesecret":"secret-value","id":1234,"weight":1.5,"nested":{"a":"<b>"}}}"#;
        let map = key_map(body, "$.result").unwrap();
        assert_eq!(map["thesecret"], b"secret-value");
        assert_eq!(map["id"], b"1234");
        assert_eq!(map["weight"], b"1.5");
        assert_eq!(map["nested"], br#"{"a":"\u003cb\u003e"}"#);
        let stringly = br#"{"s":"{\"k\":\"v\"}"}"#;
        assert_eq!(key_map(stringly, "$.s").unwrap()["k"], b"v");
        let err = key_map(body, "$.result.thesecret").unwrap_err().to_string();
        assert!(
            err.starts_with("failed to parse response json from jsonpath"),
            "{err}"
        );
        let err = key_map(b"[1]", "").unwrap_err().to_string();
        assert!(err.contains("wrong type: []interface {}"), "{err}");
    }
}
