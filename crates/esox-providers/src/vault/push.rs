//! PushSecret writes (ESO's `client_push.go`): the whole secret or one property, KV v2
//! `custom_metadata` with ESO's `managed-by: external-secrets` marker (so a secret ESO
//! created stays manageable by esox and the other way round), check-and-set, and deletion
//! of only what carries the marker.
//!
//! Where esox differs from ESO, on purpose: merging metadata starts from the remote
//! `custom_metadata` only (ESO also copies `created_time`, `current_version` and
//! `delete_version_after` into it), and a write refused because the mount requires
//! check-and-set is repeated with the current version even when the store does not set
//! `checkAndSet.required`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::VaultClient;
use crate::{LocalSecret, ProviderError, PushEntry};

pub(crate) const MANAGED_BY_KEY: &str = "managed-by";
pub(crate) const MANAGED_BY_VALUE: &str = "external-secrets";
const CUSTOM_METADATA: &str = "custom_metadata";
const METADATA_API_VERSION: &str = "kubernetes.external-secrets.io/v1alpha1";
const METADATA_KIND: &str = "PushSecretMetadata";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MetadataEnvelope {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    spec: Option<MetadataSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MetadataSpec {
    #[serde(default)]
    custom_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    merge_policy: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MergePolicy {
    Merge,
    Replace,
}

fn parse_metadata(
    raw: Option<&Value>,
) -> Result<(BTreeMap<String, String>, MergePolicy), ProviderError> {
    let bad = |why: String| {
        ProviderError::InvalidConfig(format!("failed to parse push secret metadata: {why}"))
    };
    let Some(raw) = raw.filter(|v| !v.is_null()) else {
        return Ok((BTreeMap::new(), MergePolicy::Merge));
    };
    let envelope: MetadataEnvelope =
        serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
    if envelope.api_version != METADATA_API_VERSION {
        return Err(bad(format!(
            "apiVersion must be {METADATA_API_VERSION}, got {:?}",
            envelope.api_version
        )));
    }
    if envelope.kind != METADATA_KIND {
        return Err(bad(format!(
            "kind must be {METADATA_KIND}, got {:?}",
            envelope.kind
        )));
    }
    let spec = envelope.spec.unwrap_or_default();
    let policy = match spec.merge_policy.as_deref() {
        None | Some("") | Some("Merge") => MergePolicy::Merge,
        Some("Replace") => MergePolicy::Replace,
        Some(other) => {
            return Err(ProviderError::InvalidConfig(format!(
                "unsupported merge policy {other:?}, must be one of: Merge, Replace"
            )));
        }
    };
    Ok((spec.custom_metadata.unwrap_or_default(), policy))
}

/// The bytes a push entry sends: one key of the source, or the whole source as a JSON
/// object of strings.
fn source_value(secret: &LocalSecret, entry: &PushEntry) -> Result<Vec<u8>, ProviderError> {
    match entry.secret_key.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => secret.data.get(k).cloned().ok_or_else(|| {
            ProviderError::InvalidConfig(format!(
                "secret {}/{} has no key {k}: fix data[].match.secretKey",
                secret.namespace, secret.name
            ))
        }),
        None => Ok(go_json_strings(&secret.data).into_bytes()),
    }
}

fn go_json_strings(data: &esox_core::SecretData) -> String {
    esox_core::go_json::bytes_map_as_strings(data, esox_core::go_json::HtmlEscape::Off)
}

/// ESO's `reconcileData`: the data to write and whether it differs from `existing`.
fn reconcile_data(
    existing: Option<&Map<String, Value>>,
    value: &[u8],
    property: Option<&str>,
    key: &str,
) -> Result<(Map<String, Value>, bool), ProviderError> {
    match property {
        None => {
            let incoming: Map<String, Value> = serde_json::from_slice(value).map_err(|_| {
                ProviderError::InvalidConfig(format!(
                    "cannot push to {key}: without remoteRef.property the value must be a JSON object (set remoteRef.property to push one value)"
                ))
            })?;
            let changed = existing != Some(&incoming);
            Ok((incoming, changed))
        }
        Some(p) => {
            let mut out = existing.cloned().unwrap_or_default();
            let text = String::from_utf8_lossy(value).into_owned();
            let changed = out.get(p).and_then(Value::as_str) != Some(text.as_str());
            out.insert(p.to_owned(), Value::String(text));
            Ok((out, changed))
        }
    }
}

fn managed(meta: Option<&BTreeMap<String, String>>) -> bool {
    meta.and_then(|m| m.get(MANAGED_BY_KEY))
        .is_some_and(|v| v == MANAGED_BY_VALUE)
}

pub(super) async fn push(
    client: &VaultClient,
    secret: &LocalSecret,
    entry: &PushEntry,
) -> Result<(), ProviderError> {
    let key = entry.remote_ref.remote_key.as_str();
    if key.is_empty() {
        return Err(ProviderError::InvalidConfig(
            "data[].match.remoteRef.remoteKey is empty: name the Vault secret to write".into(),
        ));
    }
    let property = entry
        .remote_ref
        .property
        .as_deref()
        .filter(|p| !p.is_empty());
    let value = source_value(secret, entry)?;
    let existing = client.read_data(key, None).await?;
    if client.kv.v2 {
        push_v2(client, key, property, &value, existing, entry).await
    } else {
        push_v1(client, key, property, &value, existing).await
    }
}

async fn push_v1(
    client: &VaultClient,
    key: &str,
    property: Option<&str>,
    value: &[u8],
    existing: Option<Map<String, Value>>,
) -> Result<(), ProviderError> {
    let mut existing = existing;
    if let Some(data) = existing.as_mut() {
        let marker = data
            .get(CUSTOM_METADATA)
            .and_then(|m| m.get(MANAGED_BY_KEY))
            .and_then(Value::as_str);
        if marker != Some(MANAGED_BY_VALUE) {
            return Err(not_managed(key));
        }
        data.remove(CUSTOM_METADATA);
    }
    let (mut merged, changed) = reconcile_data(existing.as_ref(), value, property, key)?;
    if existing.is_some() && !changed {
        return Ok(());
    }
    merged.insert(
        CUSTOM_METADATA.into(),
        serde_json::json!({ MANAGED_BY_KEY: MANAGED_BY_VALUE }),
    );
    let path = client.kv.data_path(key);
    client
        .write(
            &path,
            Value::Object(merged),
            &format!("cannot write secret {key} to Vault"),
        )
        .await
        .map(drop)
}

fn not_managed(key: &str) -> ProviderError {
    ProviderError::Other(format!(
        "secret {key} not managed by external-secrets: it exists in Vault without the custom_metadata {MANAGED_BY_KEY}={MANAGED_BY_VALUE} that esox and ESO write, so esox does not overwrite it; push to another key or add that metadata"
    ))
}

async fn push_v2(
    client: &VaultClient,
    key: &str,
    property: Option<&str>,
    value: &[u8],
    existing: Option<Map<String, Value>>,
    entry: &PushEntry,
) -> Result<(), ProviderError> {
    let exists = existing.is_some();
    let (merged, data_changed) = reconcile_data(existing.as_ref(), value, property, key)?;
    let (wanted, policy) = parse_metadata(entry.metadata.as_ref())?;
    let mut desired = wanted;
    // The marker is reserved: user metadata cannot override it.
    desired.insert(MANAGED_BY_KEY.into(), MANAGED_BY_VALUE.into());
    // Read even when there is no data: a secret whose versions were all deleted keeps its
    // metadata, and custom_metadata someone else wrote must not be replaced.
    let remote = read_custom_metadata(client, key).await?;
    let foreign = remote
        .as_ref()
        .is_some_and(|m| !m.is_empty() && !managed(Some(m)));
    let (final_meta, meta_changed) = if exists || foreign {
        if !managed(remote.as_ref()) {
            return Err(not_managed(key));
        }
        let remote = remote.unwrap_or_default();
        let mut out = match policy {
            MergePolicy::Merge => remote.clone(),
            MergePolicy::Replace => BTreeMap::new(),
        };
        out.extend(desired);
        let changed = out != remote;
        (out, changed)
    } else {
        (desired, true)
    };
    if !data_changed && !meta_changed {
        return Ok(());
    }
    // Metadata first: a new secret carries the marker before it has data, so a failed data
    // write is retried as an update of a secret esox owns.
    if meta_changed {
        client
            .write(
                &client.kv.metadata_path(key),
                serde_json::json!({ CUSTOM_METADATA: final_meta }),
                &format!("cannot write the metadata of secret {key} to Vault"),
            )
            .await?;
    }
    if data_changed {
        write_v2_data(client, key, merged).await?;
    }
    Ok(())
}

/// Writes KV v2 data, with `options.cas` when the store or the mount requires it.
async fn write_v2_data(
    client: &VaultClient,
    key: &str,
    data: Map<String, Value>,
) -> Result<(), ProviderError> {
    let path = client.kv.data_path(key);
    let what = format!("cannot write secret {key} to Vault");
    let body = |cas: Option<u64>| match cas {
        Some(v) => serde_json::json!({ "data": data, "options": { "cas": v } }),
        None => serde_json::json!({ "data": data }),
    };
    let cas = if client.cas_required {
        Some(client.current_version(key).await?)
    } else {
        None
    };
    match client.write(&path, body(cas), &what).await {
        Ok(_) => Ok(()),
        // The mount has cas_required although the store does not say so: send the version.
        Err(e) if cas.is_none() && e.to_string().contains("check-and-set parameter required") => {
            let version = client.current_version(key).await?;
            client
                .write(&path, body(Some(version)), &what)
                .await
                .map(drop)
        }
        Err(e) => Err(e),
    }
}

/// `custom_metadata` of a KV v2 secret; `None` when it has no metadata.
async fn read_custom_metadata(
    client: &VaultClient,
    key: &str,
) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    let Some(mut meta) = client.read_metadata(key).await? else {
        return Ok(None);
    };
    // read_metadata adds the system fields; only custom_metadata is ours to merge.
    for k in ["created_time", "current_version", "delete_version_after"] {
        meta.remove(k);
    }
    Ok(Some(meta))
}

pub(super) async fn delete(client: &VaultClient, entry: &PushEntry) -> Result<(), ProviderError> {
    let key = entry.remote_ref.remote_key.as_str();
    let Some(mut data) = client.read_data(key, None).await? else {
        return Ok(());
    };
    let owned = if client.kv.v2 {
        managed(read_custom_metadata(client, key).await?.as_ref())
    } else {
        data.get(CUSTOM_METADATA)
            .and_then(|m| m.get(MANAGED_BY_KEY))
            .and_then(Value::as_str)
            == Some(MANAGED_BY_VALUE)
    };
    if !owned {
        tracing::debug!(key, "not deleting a Vault secret esox did not create");
        return Ok(());
    }
    if let Some(p) = entry
        .remote_ref
        .property
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        data.remove(p);
        if !client.kv.v2 && data.len() == 1 && data.contains_key(CUSTOM_METADATA) {
            data.remove(CUSTOM_METADATA);
        }
        if !data.is_empty() {
            return if client.kv.v2 {
                write_v2_data(client, key, data).await
            } else {
                client
                    .write(
                        &client.kv.data_path(key),
                        Value::Object(data),
                        &format!("cannot remove property {p} of secret {key} in Vault"),
                    )
                    .await
                    .map(drop)
            };
        }
    }
    let what = format!("could not delete secret {key}");
    if client.kv.v2 {
        // Deleting the metadata removes every version; deleting the data first as ESO does
        // would only add a soft-deleted version.
        client.remove(&client.kv.metadata_path(key), &what).await
    } else {
        client.remove(&client.kv.data_path(key), &what).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_envelope_is_checked() {
        let ok = serde_json::json!({
            "apiVersion": METADATA_API_VERSION,
            "kind": METADATA_KIND,
            "spec": {"customMetadata": {"team": "a"}, "mergePolicy": "Replace"}
        });
        let (meta, policy) = parse_metadata(Some(&ok)).expect("valid");
        assert_eq!(meta.get("team").map(String::as_str), Some("a"));
        assert!(policy == MergePolicy::Replace);
        let bad_kind = serde_json::json!({"apiVersion": METADATA_API_VERSION, "kind": "X"});
        assert!(parse_metadata(Some(&bad_kind)).is_err());
        let bad_policy = serde_json::json!({
            "apiVersion": METADATA_API_VERSION, "kind": METADATA_KIND, "spec": {"mergePolicy": "Sometimes"}
        });
        let err = parse_metadata(Some(&bad_policy))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unsupported merge policy \"Sometimes\", must be one of: Merge, Replace")
        );
    }

    #[test]
    fn data_reconciles_like_eso() {
        let existing: Map<String, Value> =
            serde_json::from_str(r#"{"a":"1","b":"2"}"#).expect("json");
        let (out, changed) =
            reconcile_data(Some(&existing), b"2", Some("b"), "k").expect("property");
        assert!(!changed);
        assert_eq!(out, existing);
        let (out, changed) = reconcile_data(Some(&existing), b"3", Some("c"), "k").expect("new");
        assert!(changed);
        assert_eq!(out.len(), 3);
        let (_, changed) =
            reconcile_data(Some(&existing), br#"{"b":"2","a":"1"}"#, None, "k").expect("whole");
        assert!(!changed);
        let err = reconcile_data(None, b"not json", None, "app/x")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("remoteRef.property") && !e.contains("not json")));
    }
}
