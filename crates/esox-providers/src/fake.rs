//! ESO's `fake` provider (`providers/v1/fake/fake.go`): static `data[{key,value,version}]`
//! written in the store itself, plus what PushSecrets wrote, kept in memory per store.
//!
//! Behaviour kept from ESO:
//! - every new client re-reads the store's `data[]` (entries removed from the spec disappear),
//!   while values pushed by PushSecrets survive until deleted;
//! - `GetSecret` matches key and version exactly; missing keys and missing properties are
//!   `NoSecret`; a property is a gjson path into the value;
//! - `GetSecretMap` parses the value (after the property) as a JSON object: string fields
//!   become their text, other fields their JSON, `null` fields the empty string;
//! - `GetAllSecrets` supports only `find.name`, keeping the latest version of each key;
//! - a push writes the local key's value under `remoteKey` (no version) and refuses to
//!   overwrite an entry that came from the store's spec.
//!
//! One deliberate difference: ESO's `DeleteSecret` does nothing, so a PushSecret with
//! `deletionPolicy: Delete` leaves its value behind; here it removes what pushes wrote.
//! Stores are told apart by kind, namespace and name (ESO uses only the name).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use esox_api::v1::providers::fake::FakeProvider as FakeSpec;
use esox_api::v1::{Capabilities, ExternalSecretFind, RemoteRef, StoreKind};
use esox_core::SecretData;
use esox_core::property::gjson_get_string;
use serde_json::value::RawValue;

use crate::{
    ClientContext, LocalSecret, Provider, ProviderError, PushEntry, SecretsClient, StoreInfo,
    ValidationResult,
};

/// Where an entry came from: the store's spec, or a PushSecret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Spec,
    Pushed,
}

#[derive(Clone)]
struct Entry {
    value: Vec<u8>,
    origin: Origin,
}

/// Entries of one store, keyed by (key, version).
type Entries = BTreeMap<(String, String), Entry>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StoreId {
    kind: StoreKind,
    namespace: Option<String>,
    name: String,
}

/// The `fake` provider. Its in-memory database lives as long as the instance (one per
/// [`crate::ProviderRuntime`]).
pub struct FakeProvider {
    stores: Mutex<Option<HashMap<StoreId, Arc<Mutex<Entries>>>>>,
}

impl FakeProvider {
    pub const fn new() -> Self {
        Self {
            stores: Mutex::new(None),
        }
    }

    fn entries_for(&self, id: StoreId) -> Arc<Mutex<Entries>> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        stores
            .get_or_insert_with(HashMap::new)
            .entry(id)
            .or_default()
            .clone()
    }
}

impl Default for FakeProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// The registry's constructor.
pub(crate) fn register(_: &crate::LocalCluster) -> Box<dyn Provider> {
    Box::new(FakeProvider::new())
}

fn spec_of(store: &StoreInfo) -> Result<&FakeSpec, ProviderError> {
    store.spec.provider.fake.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(format!(
            "store {} has no spec.provider.fake block",
            store.name
        ))
    })
}

#[async_trait]
impl Provider for FakeProvider {
    fn key(&self) -> &'static str {
        "fake"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadWrite
    }

    fn validate_store(&self, store: &StoreInfo) -> Result<Vec<String>, ProviderError> {
        let spec = spec_of(store)?;
        for (pos, data) in spec.data.iter().enumerate() {
            if data.key.is_empty() {
                return Err(ProviderError::InvalidConfig(format!(
                    "key must be set in data {pos}: set spec.provider.fake.data[{pos}].key"
                )));
            }
            if data.value.is_empty() {
                return Err(ProviderError::InvalidConfig(format!(
                    "at least one value must be set in data {pos}: set spec.provider.fake.data[{pos}].value"
                )));
            }
        }
        Ok(Vec::new())
    }

    async fn new_client(
        &self,
        store: &StoreInfo,
        _ctx: &ClientContext,
    ) -> Result<Box<dyn SecretsClient>, ProviderError> {
        let spec = spec_of(store)?;
        let entries = self.entries_for(StoreId {
            kind: store.kind,
            namespace: store.namespace.clone(),
            name: store.name.clone(),
        });
        {
            let mut map = lock(&entries);
            // The spec is the source of truth for its own entries: drop the old ones so
            // that entries removed from the store disappear, and keep what was pushed.
            map.retain(|_, e| e.origin == Origin::Pushed);
            for d in &spec.data {
                map.insert(
                    (d.key.clone(), d.version.clone()),
                    Entry {
                        value: d.value.clone().into_bytes(),
                        origin: Origin::Spec,
                    },
                );
            }
        }
        Ok(Box::new(FakeClient {
            entries,
            validation_result: spec.validation_result,
        }))
    }
}

fn lock(entries: &Mutex<Entries>) -> MutexGuard<'_, Entries> {
    entries.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A client of one fake store.
pub struct FakeClient {
    entries: Arc<Mutex<Entries>>,
    validation_result: Option<u8>,
}

fn no_secret(key: &str, version: &str) -> ProviderError {
    if version.is_empty() {
        ProviderError::NoSecret(format!(
            "Secret does not exist: fake store has no key {key:?}"
        ))
    } else {
        ProviderError::NoSecret(format!(
            "Secret does not exist: fake store has no key {key:?} at version {version:?}"
        ))
    }
}

impl FakeClient {
    fn value(&self, r: &RemoteRef) -> Result<Vec<u8>, ProviderError> {
        let version = r.version.clone().unwrap_or_default();
        let entries = lock(&self.entries);
        let entry = entries
            .get(&(r.key.clone(), version.clone()))
            .ok_or_else(|| no_secret(&r.key, &version))?;
        match r.property.as_deref().filter(|p| !p.is_empty()) {
            None => Ok(entry.value.clone()),
            Some(property) => {
                let json = String::from_utf8_lossy(&entry.value);
                gjson_get_string(&json, property)
                    .map(String::into_bytes)
                    .ok_or_else(|| {
                        ProviderError::NoSecret(format!(
                            "Secret does not exist: key {:?} has no property {property:?}",
                            r.key
                        ))
                    })
            }
        }
    }
}

/// ESO unmarshals the value into `map[string]json.RawMessage`, then each field into a Go
/// string when it is one. Error messages describe the JSON's shape, never its content.
fn json_object_fields(value: &[u8]) -> Result<SecretData, ProviderError> {
    let shape: serde_json::Value = serde_json::from_slice(value).map_err(|e| {
        ProviderError::Other(format!(
            "unable to unmarshal secret: invalid JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    let kind = match &shape {
        serde_json::Value::Null => return Ok(SecretData::new()),
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("array"),
        serde_json::Value::String(_) => Some("string"),
        serde_json::Value::Number(_) => Some("number"),
        serde_json::Value::Bool(_) => Some("bool"),
    };
    if let Some(kind) = kind {
        return Err(ProviderError::Other(format!(
            "unable to unmarshal secret: json: cannot unmarshal {kind} into Go value of type map[string]json.RawMessage"
        )));
    }
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(value).map_err(|e| {
        ProviderError::Other(format!(
            "unable to unmarshal secret: invalid JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    Ok(fields
        .into_iter()
        .map(|(k, raw)| {
            let text = raw.get();
            let bytes = if text == "null" {
                // Go leaves the string empty when unmarshalling `null` into it.
                Vec::new()
            } else {
                match serde_json::from_str::<String>(text) {
                    Ok(s) => s.into_bytes(),
                    Err(_) => text.as_bytes().to_vec(),
                }
            };
            (k, bytes)
        })
        .collect())
}

#[async_trait]
impl SecretsClient for FakeClient {
    async fn get_secret(&self, r: &RemoteRef) -> Result<Vec<u8>, ProviderError> {
        self.value(r)
    }

    async fn get_secret_map(&self, r: &RemoteRef) -> Result<SecretData, ProviderError> {
        let value = self.value(r)?;
        json_object_fields(&value)
    }

    async fn get_all_secrets(
        &self,
        find: &ExternalSecretFind,
    ) -> Result<SecretData, ProviderError> {
        let Some(name) = &find.name else {
            return Err(ProviderError::InvalidConfig(
                "unsupported find operator: the fake provider supports only find.name".into(),
            ));
        };
        let re = esox_core::go_regex::compile(&name.regexp).map_err(|e| {
            ProviderError::InvalidConfig(format!("could not compile find.name.regexp: {e}"))
        })?;
        let mut latest: BTreeMap<&str, (&str, &[u8])> = BTreeMap::new();
        let entries = lock(&self.entries);
        for ((key, version), entry) in entries.iter() {
            if !re.is_match(key) {
                continue;
            }
            // ESO keeps the greatest version by plain string comparison.
            match latest.get(key.as_str()) {
                Some((v, _)) if *v >= version.as_str() => {}
                _ => {
                    latest.insert(key, (version, &entry.value));
                }
            }
        }
        let found: SecretData = latest
            .into_iter()
            .map(|(k, (_, v))| (k.to_owned(), v.to_vec()))
            .collect();
        drop(entries);
        esox_core::keys::convert_keys(crate::convert::conversion(find.conversion_strategy), found)
            .map_err(|e| ProviderError::Other(e.to_string()))
    }

    async fn push_secret(
        &self,
        secret: &LocalSecret,
        entry: &PushEntry,
    ) -> Result<(), ProviderError> {
        let secret_key = entry.secret_key.as_deref().unwrap_or("");
        // As in ESO, a missing (or whole-Secret) key pushes an empty value.
        let value = secret.data.get(secret_key).cloned().unwrap_or_default();
        let mut entries = lock(&self.entries);
        let slot = (entry.remote_ref.remote_key.clone(), String::new());
        match entries.get_mut(&slot) {
            None => {
                entries.insert(
                    slot,
                    Entry {
                        value,
                        origin: Origin::Pushed,
                    },
                );
                Ok(())
            }
            Some(existing) if existing.origin == Origin::Pushed => {
                existing.value = value;
                Ok(())
            }
            Some(_) => Err(ProviderError::conflict(format!(
                "key already exists: {:?} is defined in the store's spec.provider.fake.data and cannot be overwritten by a push",
                entry.remote_ref.remote_key
            ))),
        }
    }

    async fn delete_secret(&self, entry: &PushEntry) -> Result<(), ProviderError> {
        let r = &entry.remote_ref;
        let mut entries = lock(&self.entries);
        let slot = (r.remote_key.clone(), String::new());
        if entries
            .get(&slot)
            .is_some_and(|e| e.origin == Origin::Pushed)
        {
            entries.remove(&slot);
        }
        Ok(())
    }

    async fn secret_exists(&self, entry: &PushEntry) -> Result<bool, ProviderError> {
        let key = entry.remote_ref.remote_key.clone();
        Ok(lock(&self.entries).contains_key(&(key, String::new())))
    }

    async fn validate(&self) -> Result<ValidationResult, ProviderError> {
        self.validate_with_reason().await.map(|(r, _)| r)
    }

    async fn validate_with_reason(
        &self,
    ) -> Result<(ValidationResult, Option<String>), ProviderError> {
        match self.validation_result {
            None | Some(0) => Ok((ValidationResult::Ready, None)),
            Some(1) => Ok((
                ValidationResult::Unknown,
                Some(
                    "unable to validate: spec.provider.fake.validationResult is 1 (Unknown)".into(),
                ),
            )),
            Some(2) => Err(ProviderError::Other(
                "unable to validate: spec.provider.fake.validationResult is 2 (Error)".into(),
            )),
            Some(other) => Err(ProviderError::InvalidConfig(format!(
                "unable to validate: spec.provider.fake.validationResult is {other}; use 0 (Ready), 1 (Unknown) or 2 (Error)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use esox_api::v1::FindName;
    use esox_api::v1alpha1::PushSecretRemoteRef;
    use serde_json::json;

    fn ctx() -> ClientContext {
        let config = kube::Config::new("https://127.0.0.1:9".parse().expect("uri"));
        crate::ProviderRuntime::new(
            kube::Client::try_from(config).expect("client"),
            crate::LocalCluster {
                url: "https://127.0.0.1:9".into(),
                ca_pem: None,
            },
        )
        .context(Some("app"))
    }

    fn store(name: &str, fake: serde_json::Value) -> StoreInfo {
        StoreInfo {
            kind: StoreKind::SecretStore,
            name: name.into(),
            namespace: Some("app".into()),
            spec: serde_json::from_value(json!({"provider": {"fake": fake}})).expect("spec"),
        }
    }

    async fn client(provider: &FakeProvider, s: &StoreInfo) -> Box<dyn SecretsClient> {
        provider.new_client(s, &ctx()).await.expect("client")
    }

    fn rref(key: &str, property: Option<&str>, version: Option<&str>) -> RemoteRef {
        RemoteRef {
            key: key.into(),
            property: property.map(str::to_owned),
            version: version.map(str::to_owned),
            ..Default::default()
        }
    }

    fn text(v: &[u8]) -> &str {
        std::str::from_utf8(v).expect("utf8")
    }

    #[tokio::test]
    async fn get_secret_matches_key_version_and_property() {
        let p = FakeProvider::new();
        let s = store(
            "s",
            json!({"data": [
                {"key": "/foo/bar", "value": "HELLO1"},
                {"key": "/foo/bar", "value": "HELLO2", "version": "v2"},
                {"key": "json", "value": "{\"john\": {\"age\": 42, \"name\": \"smith\"}}"}
            ]}),
        );
        let c = client(&p, &s).await;
        assert_eq!(
            c.get_secret(&rref("/foo/bar", None, None))
                .await
                .expect("v"),
            b"HELLO1"
        );
        assert_eq!(
            c.get_secret(&rref("/foo/bar", None, Some("v2")))
                .await
                .expect("v2"),
            b"HELLO2"
        );
        assert!(
            c.get_secret(&rref("/foo/bar", None, Some("v3")))
                .await
                .expect_err("v3")
                .is_no_secret()
        );
        assert!(
            c.get_secret(&rref("missing", None, None))
                .await
                .expect_err("missing")
                .is_no_secret()
        );
        assert_eq!(
            c.get_secret(&rref("json", Some("john.age"), None))
                .await
                .expect("prop"),
            b"42"
        );
        let whole = c
            .get_secret(&rref("json", Some("john"), None))
            .await
            .expect("object");
        assert_eq!(text(&whole), "{\"age\": 42, \"name\": \"smith\"}");
        let err = c
            .get_secret(&rref("json", Some("john.nope"), None))
            .await
            .expect_err("no prop");
        assert!(err.is_no_secret());
        assert!(!err.to_string().contains("smith"), "{err}");
    }

    #[tokio::test]
    async fn get_secret_map_decodes_fields_like_eso() {
        let p = FakeProvider::new();
        let s = store(
            "s",
            json!({"data": [
                {"key": "obj", "value": "{\"a\":\"x\\ny\",\"n\": 1.50, \"nested\": {\"b\" : [1, 2]}, \"z\": null}"},
                {"key": "wrapped", "value": "{\"inner\": {\"k\": \"v\"}}"},
                {"key": "list", "value": "[1,2]"},
                {"key": "broken", "value": "{not json secret-value"}
            ]}),
        );
        let c = client(&p, &s).await;
        let m = c
            .get_secret_map(&rref("obj", None, None))
            .await
            .expect("map");
        assert_eq!(text(&m["a"]), "x\ny");
        assert_eq!(text(&m["n"]), "1.50");
        assert_eq!(text(&m["nested"]), "{\"b\" : [1, 2]}");
        assert_eq!(text(&m["z"]), "");
        let m = c
            .get_secret_map(&rref("wrapped", Some("inner"), None))
            .await
            .expect("inner");
        assert_eq!(m.len(), 1);
        assert_eq!(text(&m["k"]), "v");
        let e = c
            .get_secret_map(&rref("list", None, None))
            .await
            .expect_err("array");
        assert_eq!(
            e.to_string(),
            "unable to unmarshal secret: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"
        );
        let e = c
            .get_secret_map(&rref("broken", None, None))
            .await
            .expect_err("syntax");
        assert!(
            e.to_string()
                .starts_with("unable to unmarshal secret: invalid JSON"),
            "{e}"
        );
        assert!(!e.to_string().contains("secret-value"), "{e}");
        assert!(
            c.get_secret_map(&rref("nope", None, None))
                .await
                .expect_err("missing")
                .is_no_secret()
        );
    }

    #[tokio::test]
    async fn get_all_secrets_by_name_takes_the_latest_version() {
        let p = FakeProvider::new();
        let s = store(
            "s",
            json!({"data": [
                {"key": "db-user", "value": "old", "version": "1"},
                {"key": "db-user", "value": "new", "version": "2"},
                {"key": "db-pass", "value": "p"},
                {"key": "other", "value": "o"},
                {"key": "db/$x", "value": "u"}
            ]}),
        );
        let c = client(&p, &s).await;
        let find = ExternalSecretFind {
            name: Some(FindName {
                regexp: "^db".into(),
            }),
            ..Default::default()
        };
        let all = c.get_all_secrets(&find).await.expect("find");
        let got: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), text(v))).collect();
        assert_eq!(
            got,
            vec![("db-pass", "p"), ("db-user", "new"), ("db__x", "u")]
        );
        let unicode = ExternalSecretFind {
            conversion_strategy: Some(esox_api::v1::ConversionStrategy::Unicode),
            ..find.clone()
        };
        let all = c.get_all_secrets(&unicode).await.expect("find unicode");
        assert!(
            all.contains_key("db_U002f__U0024_x"),
            "{:?}",
            all.keys().collect::<Vec<_>>()
        );
        let tags = ExternalSecretFind {
            tags: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
            ..Default::default()
        };
        assert!(c.get_all_secrets(&tags).await.is_err());
        let bad = ExternalSecretFind {
            name: Some(FindName { regexp: "(".into() }),
            ..Default::default()
        };
        assert!(c.get_all_secrets(&bad).await.is_err());
    }

    #[tokio::test]
    async fn push_writes_into_memory_and_survives_new_clients() {
        let p = FakeProvider::new();
        let s = store(
            "s",
            json!({"data": [{"key": "fixed", "value": "from-spec"}]}),
        );
        let c = client(&p, &s).await;
        let local = LocalSecret {
            name: "src".into(),
            namespace: "app".into(),
            data: BTreeMap::from([("pw".to_owned(), b"s3cr3t".to_vec())]),
            ..Default::default()
        };
        let entry = |remote: &str| PushEntry {
            secret_key: Some("pw".into()),
            remote_ref: PushSecretRemoteRef {
                remote_key: remote.into(),
                property: None,
            },
            metadata: None,
            never_pushed: false,
            owner: None,
        };
        let remote = entry;
        assert!(!c.secret_exists(&remote("pushed")).await.expect("exists"));
        c.push_secret(&local, &entry("pushed")).await.expect("push");
        assert!(c.secret_exists(&remote("pushed")).await.expect("exists"));
        let err = c
            .push_secret(&local, &entry("fixed"))
            .await
            .expect_err("spec key");
        assert!(err.to_string().contains("key already exists"), "{err}");

        // A new client (the next reconcile) still sees the pushed value.
        let c2 = client(&p, &s).await;
        assert_eq!(
            c2.get_secret(&rref("pushed", None, None))
                .await
                .expect("read"),
            b"s3cr3t"
        );
        // Another store does not.
        let other = client(&p, &store("t", json!({"data": []}))).await;
        assert!(
            other
                .get_secret(&rref("pushed", None, None))
                .await
                .expect_err("isolated")
                .is_no_secret()
        );

        c2.delete_secret(&remote("pushed")).await.expect("delete");
        assert!(!c2.secret_exists(&remote("pushed")).await.expect("gone"));
        // Spec entries are not deleted by a PushSecret.
        c2.delete_secret(&remote("fixed"))
            .await
            .expect("delete spec key is a no-op");
        assert!(
            c2.secret_exists(&remote("fixed"))
                .await
                .expect("still there")
        );
    }

    #[tokio::test]
    async fn spec_changes_replace_spec_entries_on_the_next_client() {
        let p = FakeProvider::new();
        let c = client(
            &p,
            &store("s", json!({"data": [{"key": "a", "value": "1"}]})),
        )
        .await;
        assert_eq!(c.get_secret(&rref("a", None, None)).await.expect("a"), b"1");
        let c = client(
            &p,
            &store("s", json!({"data": [{"key": "b", "value": "2"}]})),
        )
        .await;
        assert!(
            c.get_secret(&rref("a", None, None))
                .await
                .expect_err("a removed")
                .is_no_secret()
        );
        assert_eq!(c.get_secret(&rref("b", None, None)).await.expect("b"), b"2");
    }

    #[tokio::test]
    async fn validation_result_is_honoured() {
        let p = FakeProvider::new();
        let v = |r: Option<u8>| {
            let mut fake = json!({"data": []});
            if let Some(r) = r {
                fake["validationResult"] = json!(r);
            }
            store("v", fake)
        };
        let ready = client(&p, &v(None)).await.validate().await.expect("ready");
        assert_eq!(ready, ValidationResult::Ready);
        let ready = client(&p, &v(Some(0)))
            .await
            .validate()
            .await
            .expect("ready");
        assert_eq!(ready, ValidationResult::Ready);
        let unknown = client(&p, &v(Some(1)))
            .await
            .validate()
            .await
            .expect("unknown");
        assert_eq!(unknown, ValidationResult::Unknown);
        let (_, reason) = client(&p, &v(Some(1)))
            .await
            .validate_with_reason()
            .await
            .expect("unknown");
        assert!(reason.expect("reason").contains("validationResult is 1"));
        assert!(client(&p, &v(Some(2))).await.validate().await.is_err());
    }

    #[test]
    fn validate_store_requires_keys_and_values() {
        let p = FakeProvider::new();
        let ok = store("s", json!({"data": [{"key": "a", "value": "1"}]}));
        assert!(p.validate_store(&ok).expect("valid").is_empty());
        let no_key = store(
            "s",
            json!({"data": [{"key": "a", "value": "1"}, {"key": "", "value": "1"}]}),
        );
        let e = p.validate_store(&no_key).expect_err("no key").to_string();
        assert!(e.contains("data[1].key"), "{e}");
        let no_value = store("s", json!({"data": [{"key": "a", "value": ""}]}));
        let e = p
            .validate_store(&no_value)
            .expect_err("no value")
            .to_string();
        assert!(e.contains("data[0].value"), "{e}");
        assert_eq!(p.capabilities(), Capabilities::ReadWrite);
    }
}
