//! Reads and writes of one store: ESO's Vault `client_get.go`, `client_get_all_secrets.go`
//! and `client_push.go`, over a shared [`Session`].

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use esox_api::v1::{ExternalSecretFind, MetadataPolicy, RemoteRef};
use esox_core::SecretData;
use esox_core::go_json::{self, HtmlEscape};
use http::{Method, StatusCode};
use serde_json::{Map, Value};

use super::errors;
use super::http::{Request, Response, escape_path};
use super::paths::Kv;
use super::push;
use super::session::{
    CALL_DELETE_SECRET, CALL_LIST_SECRETS, CALL_LOGICAL, CALL_READ_SECRET_DATA,
    CALL_WRITE_SECRET_DATA, PROVIDER_VAULT, Session,
};
use crate::{LocalSecret, ProviderError, PushEntry, SecretsClient, ValidationResult};

/// Keys `find` lists at most, and folder depth it descends at most: the server is outside
/// esox's trust, and a listing that never ends would hold a worker forever.
const MAX_FIND_KEYS: usize = 10_000;
const MAX_FIND_DEPTH: usize = 32;

/// KV v2 metadata fields ESO copies into a `metadataPolicy: Fetch` read.
const SYSTEM_METADATA_KEYS: [&str; 3] = ["created_time", "current_version", "delete_version_after"];

/// A client of one store.
pub struct VaultClient {
    /// `None` for a ClusterSecretStore whose credentials depend on the namespace using it,
    /// validated on its own: ESO answers `Unknown` there.
    pub(super) session: Option<Arc<Session>>,
    pub(super) kv: Kv,
    /// `checkAndSet.required`.
    pub(super) cas_required: bool,
}

/// A call to make, with what messages say about it.
pub(super) struct Call<'a> {
    pub method: Method,
    /// Vault API path, not yet escaped.
    pub path: &'a str,
    pub query: Option<String>,
    pub body: Option<Value>,
    /// ESO's metrics call name.
    pub metric: &'static str,
    /// "cannot read secret app/db", for messages.
    pub what: &'a str,
    /// Policy capability the call needs, for the 403 hint.
    pub capability: &'a str,
}

impl VaultClient {
    fn session(&self) -> Result<&Arc<Session>, ProviderError> {
        self.session.as_ref().ok_or_else(|| {
            ProviderError::InvalidConfig(
                "this ClusterSecretStore reads its Vault credentials from the namespace using it: use it from an ExternalSecret or PushSecret, or set the namespace of the auth secret references".into(),
            )
        })
    }

    /// Sends a call with the session's token; a 403 with a token Vault no longer knows is
    /// retried once with a new one. Answers other than transport failures are returned.
    pub(super) async fn send(&self, call: &Call<'_>) -> Result<Response, ProviderError> {
        let session = self.session()?;
        let escaped = escape_path(call.path);
        let mut token = session.token().await?;
        let mut retried = false;
        loop {
            let mut req = Request::new(call.method.clone(), escaped.clone()).token(&token.secret);
            if let Some(q) = &call.query {
                req = req.query(q.clone());
            }
            if let Some(b) = &call.body {
                req = req.json(b.clone());
            }
            let result = session.http().send(req).await;
            let ok = matches!(&result, Ok(r) if r.status.is_success() || r.status == StatusCode::NOT_FOUND);
            session.calls().observe(PROVIDER_VAULT, call.metric, ok);
            let resp =
                result.map_err(|e| errors::transport(session.http().server(), call.what, e))?;
            if resp.status == StatusCode::FORBIDDEN
                && !retried
                && session.replace_refused(&token).await
            {
                retried = true;
                token = session.token().await?;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The error of a non-success answer to `call`.
    pub(super) fn fail(&self, call: &Call<'_>, resp: &Response) -> ProviderError {
        let server = self
            .session
            .as_ref()
            .map(|s| s.http().server())
            .unwrap_or_default();
        if errors::is_unmounted(resp) {
            let mount = self.kv.mount_of(call.path);
            return ProviderError::InvalidConfig(format!(
                "{}: no secrets engine is mounted at {mount} on {server} (the store is configured for KV {} there): fix spec.provider.vault.path and version, or enable the engine (vault secrets enable -path={mount} {})",
                call.what,
                self.kv.version_name(),
                if self.kv.v2 { "kv-v2" } else { "kv" },
            ));
        }
        errors::status(
            &errors::Context {
                server,
                what: call.what,
                path: call.path,
                capability: call.capability,
            },
            resp,
        )
    }

    /// The data of `key` (at `version` on KV v2); `None` when there is none.
    pub(super) async fn read_data(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Map<String, Value>>, ProviderError> {
        let path = self.kv.data_path(key);
        let query = match version.filter(|v| !v.is_empty()) {
            Some(v) if self.kv.v2 => {
                if !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ProviderError::InvalidConfig(format!(
                        "remoteRef.version {v:?} of key {key} is not a KV v2 version number: write a number such as \"2\", or leave it out for the latest"
                    )));
                }
                Some(format!("version={v}"))
            }
            _ => None,
        };
        let what = format!("cannot read secret {key} from Vault");
        let call = Call {
            method: Method::GET,
            path: &path,
            query,
            body: None,
            metric: CALL_READ_SECRET_DATA,
            what: &what,
            capability: "read",
        };
        let resp = self.send(&call).await?;
        let json = resp.json();
        if !self.kv.v2 && kv2_warning(&json) {
            return Err(ProviderError::InvalidConfig(format!(
                "{what}: {} is a KV v2 mount but the store says version: v1: set spec.provider.vault.version to v2",
                self.kv.mount_of(&path)
            )));
        }
        if resp.status == StatusCode::NOT_FOUND && !errors::is_unmounted(&resp) {
            return Ok(None);
        }
        if !resp.status.is_success() {
            return Err(self.fail(&call, &resp));
        }
        let data = json.get("data").cloned().unwrap_or(Value::Null);
        let data = if self.kv.v2 {
            match data {
                Value::Object(mut outer) => outer.remove("data").unwrap_or(Value::Null),
                _ => {
                    return Err(ProviderError::Other(format!(
                        "{what}: the answer at {path} has no data field (is {} a KV v2 mount?)",
                        self.kv.mount_of(&path)
                    )));
                }
            }
        } else {
            data
        };
        match data {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(map)),
            _ => Err(ProviderError::Other(format!(
                "{what}: the data at {path} is not a JSON object"
            ))),
        }
    }

    /// `readSecretMetadata`: KV v2 system metadata and `custom_metadata` as strings (on v1,
    /// the `custom_metadata` field of the data). `None` when the secret does not exist.
    pub(super) async fn read_metadata(
        &self,
        key: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let path = self.kv.metadata_path(key);
        let what = format!("cannot read the metadata of secret {key} from Vault");
        let call = Call {
            method: Method::GET,
            path: &path,
            query: None,
            body: None,
            metric: CALL_READ_SECRET_DATA,
            what: &what,
            capability: "read",
        };
        let resp = self.send(&call).await?;
        if resp.status == StatusCode::NOT_FOUND && !errors::is_unmounted(&resp) {
            return Ok(None);
        }
        if !resp.status.is_success() {
            return Err(self.fail(&call, &resp));
        }
        let json = resp.json();
        let Some(data) = json.get("data").and_then(Value::as_object) else {
            return Ok(None);
        };
        let mut out = BTreeMap::new();
        if self.kv.v2 {
            for k in SYSTEM_METADATA_KEYS {
                if let Some(v) = data.get(k).filter(|v| !v.is_null()) {
                    out.insert(k.to_owned(), go_text(v));
                }
            }
        }
        if let Some(custom) = data.get("custom_metadata").and_then(Value::as_object) {
            for (k, v) in custom {
                out.insert(k.clone(), go_text(v));
            }
        }
        Ok(Some(out))
    }

    /// The current KV v2 version of `key` (0 when it has none), for check-and-set.
    pub(super) async fn current_version(&self, key: &str) -> Result<u64, ProviderError> {
        let path = self.kv.metadata_path(key);
        let what = format!("cannot read the version of secret {key} for check-and-set");
        let call = Call {
            method: Method::GET,
            path: &path,
            query: None,
            body: None,
            metric: CALL_READ_SECRET_DATA,
            what: &what,
            capability: "read",
        };
        let resp = self.send(&call).await?;
        if resp.status == StatusCode::NOT_FOUND && !errors::is_unmounted(&resp) {
            return Ok(0);
        }
        if !resp.status.is_success() {
            return Err(self.fail(&call, &resp));
        }
        Ok(resp
            .json()
            .pointer("/data/current_version")
            .and_then(Value::as_u64)
            .unwrap_or(1))
    }

    /// Every key below `folder` (recursively), as ESO's `listSecrets` names them.
    async fn list_keys(&self, folder: &str) -> Result<Vec<String>, ProviderError> {
        let mut found = Vec::new();
        let mut pending = vec![(folder.to_owned(), 0usize)];
        let mut top = true;
        while let Some((folder, depth)) = pending.pop() {
            let path = self.kv.list_path(&folder)?;
            let what = format!(
                "cannot list secrets under {} in Vault",
                if folder.is_empty() {
                    "the mount"
                } else {
                    &folder
                }
            );
            let call = Call {
                method: Method::GET,
                path: &path,
                query: Some("list=true".into()),
                body: None,
                metric: CALL_LIST_SECRETS,
                what: &what,
                capability: "list",
            };
            let resp = self.send(&call).await?;
            if resp.status == StatusCode::NOT_FOUND && !errors::is_unmounted(&resp) {
                if top {
                    return Err(ProviderError::NoSecret(format!(
                        "no secrets under {path} in Vault"
                    )));
                }
                continue;
            }
            top = false;
            if !resp.status.is_success() {
                return Err(self.fail(&call, &resp));
            }
            let json = resp.json();
            let keys = json
                .pointer("/data/keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for k in keys.iter().filter_map(Value::as_str) {
                let full = format!("{folder}{k}");
                if k.ends_with('/') {
                    if depth + 1 >= MAX_FIND_DEPTH {
                        return Err(ProviderError::Other(format!(
                            "dataFrom.find: Vault folders nest deeper than {MAX_FIND_DEPTH} levels below {folder:?}: narrow find.path"
                        )));
                    }
                    pending.push((full, depth + 1));
                } else {
                    found.push(full);
                }
                if found.len() + pending.len() > MAX_FIND_KEYS {
                    return Err(ProviderError::Other(format!(
                        "dataFrom.find: more than {MAX_FIND_KEYS} secrets below {:?}: narrow find.path",
                        if folder.is_empty() {
                            "the mount"
                        } else {
                            &folder
                        }
                    )));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    async fn get_value(&self, r: &RemoteRef) -> Result<Option<Vec<u8>>, ProviderError> {
        let data: Map<String, Value> = if r.metadata_policy == Some(MetadataPolicy::Fetch) {
            if !self.kv.v2 {
                return Err(ProviderError::InvalidConfig(
                    "cannot perform metadata fetch operations with kv version v1: remove metadataPolicy: Fetch or use a KV v2 store".into(),
                ));
            }
            let Some(meta) = self.read_metadata(&r.key).await? else {
                return Err(ProviderError::NoSecret(format!(
                    "secret {} not found in Vault",
                    r.key
                )));
            };
            if meta.is_empty() {
                return Ok(None);
            }
            meta.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        } else {
            match self.read_data(&r.key, r.version.as_deref()).await? {
                Some(data) => data,
                None => {
                    return Err(ProviderError::NoSecret(format!(
                        "secret {} not found in Vault at {}",
                        r.key,
                        self.kv.data_path(&r.key)
                    )));
                }
            }
        };
        value_of(
            &data,
            r.property.as_deref().filter(|p| !p.is_empty()),
            &r.key,
        )
        .map(Some)
    }
}

/// Go's `fmt.Sprintf("%v")` of a value decoded with `UseNumber`: strings raw, numbers as
/// written, the rest as JSON.
fn go_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => go_json::value(other, HtmlEscape::On),
    }
}

/// Whether a KV v1 read hit a KV v2 mount (Vault answers with this warning).
fn kv2_warning(json: &Value) -> bool {
    json.get("warnings")
        .and_then(Value::as_array)
        .is_some_and(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .any(|w| w.contains("versioned K/V"))
        })
}

/// ESO's `getSecretValue`: the whole data as JSON without a property; else the key of that
/// name, else the gjson path.
pub(super) fn value_of(
    data: &Map<String, Value>,
    property: Option<&str>,
    key: &str,
) -> Result<Vec<u8>, ProviderError> {
    let json = go_json::value(&Value::Object(data.clone()), HtmlEscape::On);
    let Some(property) = property else {
        return Ok(json.into_bytes());
    };
    // Keys take precedence over gjson syntax, as in ESO.
    if let Some(v) = data.get(property) {
        return Ok(esox_core::rewrite::value_bytes(v));
    }
    esox_core::property::gjson_get_string(&json, property)
        .map(String::into_bytes)
        .ok_or_else(|| {
            ProviderError::Other(format!(
                "cannot find secret data for key: {}: secret {key} has no property {property:?}",
                esox_core::keys::go_quote(property)
            ))
        })
}

#[async_trait]
impl SecretsClient for VaultClient {
    async fn get_secret(&self, r: &RemoteRef) -> Result<Vec<u8>, ProviderError> {
        Ok(self.get_value(r).await?.unwrap_or_default())
    }

    async fn get_secret_map(&self, r: &RemoteRef) -> Result<SecretData, ProviderError> {
        let Some(bytes) = self.get_value(r).await? else {
            return Ok(SecretData::new());
        };
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|_| {
            ProviderError::Other(format!(
                "dataFrom.extract: the value of {}{} is not a JSON object: extract needs an object",
                r.key,
                r.property
                    .as_deref()
                    .map(|p| format!(" property {p}"))
                    .unwrap_or_default()
            ))
        })?;
        let Value::Object(map) = parsed else {
            return Err(ProviderError::Other(format!(
                "dataFrom.extract: the value of {} is not a JSON object: extract needs an object",
                r.key
            )));
        };
        Ok(map
            .iter()
            .map(|(k, v)| (k.clone(), esox_core::rewrite::value_bytes(v)))
            .collect())
    }

    async fn get_all_secrets(
        &self,
        find: &ExternalSecretFind,
    ) -> Result<SecretData, ProviderError> {
        if !self.kv.v2 && !find.tags.is_empty() {
            return Err(ProviderError::InvalidConfig(
                "cannot perform find by tag operations with kv version v1: find by name, or use a KV v2 store".into(),
            ));
        }
        let folder = find
            .path
            .as_deref()
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        let candidates = self.list_keys(&folder).await?;
        let regexp = match find.name.as_ref() {
            Some(name) => Some(esox_core::go_regex::compile(&name.regexp).map_err(|e| {
                ProviderError::InvalidConfig(format!("dataFrom.find.name.regexp: {e}"))
            })?),
            None => None,
        };
        let mut out = SecretData::new();
        for name in candidates {
            if let Some(re) = &regexp {
                if !re.is_match(&name) {
                    continue;
                }
            } else if !find.tags.is_empty() {
                let meta = self.read_metadata(&name).await?.unwrap_or_default();
                if !find.tags.iter().all(|(k, v)| meta.get(k) == Some(v)) {
                    continue;
                }
            }
            let r = RemoteRef {
                key: name.clone(),
                ..RemoteRef::default()
            };
            match self.get_value(&r).await {
                Ok(Some(value)) => {
                    out.insert(name, value);
                }
                Ok(None) => {}
                Err(e) if e.is_no_secret() => {}
                Err(e) => return Err(e),
            }
        }
        esox_core::keys::convert_keys(crate::convert::conversion(find.conversion_strategy), out)
            .map_err(|e| ProviderError::Other(format!("dataFrom.find: {e}")))
    }

    async fn push_secret(
        &self,
        secret: &LocalSecret,
        entry: &PushEntry,
    ) -> Result<(), ProviderError> {
        push::push(self, secret, entry).await
    }

    async fn delete_secret(&self, entry: &PushEntry) -> Result<(), ProviderError> {
        push::delete(self, entry).await
    }

    async fn secret_exists(&self, entry: &PushEntry) -> Result<bool, ProviderError> {
        let key = &entry.remote_ref.remote_key;
        let Some(data) = self.read_data(key, None).await? else {
            return Ok(false);
        };
        match entry
            .remote_ref
            .property
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            None => Ok(true),
            Some(p) => Ok(value_of(&data, Some(p), key).is_ok()),
        }
    }

    async fn validate(&self) -> Result<ValidationResult, ProviderError> {
        Ok(self.validate_with_reason().await?.0)
    }

    async fn validate_with_reason(
        &self,
    ) -> Result<(ValidationResult, Option<String>), ProviderError> {
        let Some(session) = &self.session else {
            return Ok((
                ValidationResult::Unknown,
                Some("the store reads its credentials from the namespace using it".into()),
            ));
        };
        let token = session.token().await?;
        let resp = session.lookup_self(&token.secret).await?;
        if !resp.status.is_success() {
            let err = errors::status(
                &errors::Context {
                    server: session.http().server(),
                    what: "invalid vault credentials: the token lookup failed",
                    path: "auth/token/lookup-self",
                    capability: "read",
                },
                &resp,
            );
            return Err(err);
        }
        self.check_mount().await?;
        Ok((ValidationResult::Ready, None))
    }
}

impl VaultClient {
    /// A call to any Vault path with the session's token (ESO's `c.logical`), for callers
    /// beyond the KV engine such as the VaultDynamicSecret generator: `(status, JSON body)`
    /// of any answer, or the error of a request that got none. `path` is not yet escaped;
    /// `what` says in messages what the call was for.
    pub async fn logical(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Option<Value>,
        what: &str,
    ) -> Result<(StatusCode, Value), ProviderError> {
        let call = Call {
            method,
            path,
            query,
            body,
            metric: CALL_LOGICAL,
            what,
            capability: "the needed capability",
        };
        let resp = self.send(&call).await?;
        Ok((resp.status, resp.json()))
    }

    /// The error for a non-success answer of [`Self::logical`]: names the server, the path
    /// and Vault's message, with the policy hint on a 403.
    pub fn logical_error(
        &self,
        what: &str,
        path: &str,
        status: StatusCode,
        body: &Value,
    ) -> ProviderError {
        let resp = Response {
            status,
            body: serde_json::to_vec(body).unwrap_or_default().into(),
        };
        let call = Call {
            method: Method::GET,
            path,
            query: None,
            body: None,
            metric: CALL_LOGICAL,
            what,
            capability: "the needed capability",
        };
        self.fail(&call, &resp)
    }

    /// ESO's `validateKVMount`: the mount at `spec.path` is a KV engine of the configured
    /// version. Inconclusive answers (no permission to ask) pass.
    async fn check_mount(&self) -> Result<(), ProviderError> {
        let Some(mount) = self.kv.mount.as_deref().map(|m| m.trim_matches('/')) else {
            return Ok(());
        };
        if mount.is_empty() {
            return Ok(());
        }
        let path = format!("sys/internal/ui/mounts/{mount}");
        let what = format!("cannot check the KV mount {mount}");
        let call = Call {
            method: Method::GET,
            path: &path,
            query: None,
            body: None,
            metric: CALL_READ_SECRET_DATA,
            what: &what,
            capability: "read",
        };
        let Ok(resp) = self.send(&call).await else {
            return Ok(());
        };
        let json = resp.json();
        if resp.status == StatusCode::NOT_FOUND
            || (resp.status.is_success() && json.get("data").is_none_or(Value::is_null))
        {
            return Err(ProviderError::InvalidConfig(format!(
                "vault mount path {mount:?} was not found: fix spec.provider.vault.path or enable a KV {} engine there",
                self.kv.version_name()
            )));
        }
        if !resp.status.is_success() {
            return Ok(());
        }
        let data = json.get("data").cloned().unwrap_or(Value::Null);
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("<missing>");
        if kind != "kv" {
            return Err(ProviderError::InvalidConfig(format!(
                "vault mount path {mount:?} is not a kv secret engine, got {kind:?}: point spec.provider.vault.path at a KV mount"
            )));
        }
        let is_v2 = data
            .pointer("/options/version")
            .map(go_text)
            .is_some_and(|v| v == "2");
        if is_v2 != self.kv.v2 {
            return Err(ProviderError::InvalidConfig(format!(
                "vault mount path {mount:?} uses kv version {} but store is configured for kv version {}: set spec.provider.vault.version to {}",
                if is_v2 { "v2" } else { "v1" },
                self.kv.version_name(),
                if is_v2 { "v2" } else { "v1" },
            )));
        }
        Ok(())
    }

    /// Writes `body` to `path` (data or metadata).
    pub(super) async fn write(
        &self,
        path: &str,
        body: Value,
        what: &str,
    ) -> Result<Response, ProviderError> {
        let call = Call {
            method: Method::POST,
            path,
            query: None,
            body: Some(body),
            metric: CALL_WRITE_SECRET_DATA,
            what,
            capability: "create/update",
        };
        let resp = self.send(&call).await?;
        if !resp.status.is_success() {
            return Err(self.fail(&call, &resp));
        }
        Ok(resp)
    }

    /// Deletes `path`; a missing one is success.
    pub(super) async fn remove(&self, path: &str, what: &str) -> Result<(), ProviderError> {
        let call = Call {
            method: Method::DELETE,
            path,
            query: None,
            body: None,
            metric: CALL_DELETE_SECRET,
            what,
            capability: "delete",
        };
        let resp = self.send(&call).await?;
        if resp.status.is_success()
            || (resp.status == StatusCode::NOT_FOUND && !errors::is_unmounted(&resp))
        {
            return Ok(());
        }
        Err(self.fail(&call, &resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn values_follow_eso_get_secret_value() {
        let d = data(
            serde_json::json!({"user": "admin", "n": 3, "nested": {"a": "<b>"}, "a.b": "dotted"}),
        );
        assert_eq!(
            value_of(&d, None, "k").expect("whole"),
            br#"{"a.b":"dotted","n":3,"nested":{"a":"\u003cb\u003e"},"user":"admin"}"#
        );
        assert_eq!(value_of(&d, Some("user"), "k").expect("key"), b"admin");
        assert_eq!(value_of(&d, Some("n"), "k").expect("number"), b"3");
        assert_eq!(
            value_of(&d, Some("a.b"), "k").expect("literal key first"),
            b"dotted"
        );
        assert_eq!(value_of(&d, Some("nested.a"), "k").expect("gjson"), b"<b>");
        let err = value_of(&d, Some("missing"), "app")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "cannot find secret data for key: \"missing\": secret app has no property \"missing\""
            )
        );
    }

    #[test]
    fn metadata_values_print_like_go() {
        assert_eq!(go_text(&serde_json::json!(3)), "3");
        assert_eq!(go_text(&serde_json::json!("0s")), "0s");
        assert_eq!(go_text(&serde_json::json!(true)), "true");
    }
}
