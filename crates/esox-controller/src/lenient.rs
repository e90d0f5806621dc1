//! Watches that survive objects esox cannot decode.
//!
//! kube's watcher decodes a whole list at once, so one object esox's types refuse (a field of
//! a newer ESO, accepted by ESO's CRDs during a migration) fails the list, and the watch retries
//! forever while every other object waits. Here each object is decoded on its own: one that
//! does not decode is reported (a Warning Event on it, a metric, a log line) and skipped; the
//! others flow as before.
//!
//! An object that decoded before and stops decoding keeps its last good copy in the caches
//! (there is nothing of its new form to build one from); it is reported all the same.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt as _, future};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::ObjectMeta;
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::context::Context;

/// Reason of the Warning Event on an object esox cannot decode.
pub const REASON_UNDECODABLE: &str = "DecodeFailed";

/// An object as decoded: the typed object, or its metadata and why the rest did not decode.
#[derive(Clone, Debug)]
pub enum Lenient<K> {
    Decoded(K),
    /// Boxed: rare, and it would otherwise make every decoded object as large as itself.
    Undecodable {
        meta: Box<ObjectMeta>,
        error: String,
    },
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Lenient<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match K::deserialize(&value) {
            Ok(k) => Ok(Self::Decoded(k)),
            Err(e) => {
                let meta = Box::new(
                    value
                        .get("metadata")
                        .and_then(|m| ObjectMeta::deserialize(m).ok())
                        .unwrap_or_default(),
                );
                Ok(Self::Undecodable {
                    meta,
                    error: without_quoted_values(&e.to_string()),
                })
            }
        }
    }
}

/// serde quotes offending values in double quotes (`invalid type: string "…"`); field names
/// come in backticks. Values may be anything, so only the names are kept.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

impl<K: Resource<DynamicType = ()>> Resource for Lenient<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Decoded(k) => k.meta(),
            Self::Undecodable { meta, .. } => meta,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Self::Decoded(k) => k.meta_mut(),
            Self::Undecodable { meta, .. } => meta,
        }
    }
}

/// Reports undecodable objects once per version of each.
#[derive(Default)]
pub struct Reporter {
    seen: Mutex<HashSet<(String, String)>>,
}

impl Reporter {
    fn first_time(&self, meta: &ObjectMeta) -> bool {
        let key = (
            meta.uid.clone().unwrap_or_default(),
            meta.resource_version.clone().unwrap_or_default(),
        );
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 10_000 {
            seen.clear();
        }
        seen.insert(key)
    }
}

/// A cluster-wide watch yielding only the objects that decode as `K`, recovering as every esox
/// watch does (`crate::watches::watch`).
pub fn watch<K>(
    ctx: &Arc<Context>,
    api: Api<Lenient<K>>,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + use<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let ctx = ctx.clone();
    crate::watches::watch(api, config).filter_map(move |event| future::ready(sort(&ctx, event)))
}

fn sort<K>(
    ctx: &Arc<Context>,
    event: Result<watcher::Event<Lenient<K>>, watcher::Error>,
) -> Option<Result<watcher::Event<K>, watcher::Error>>
where
    K: Resource<DynamicType = ()> + Clone + Send + 'static,
{
    use watcher::Event as E;
    let event = match event {
        Ok(e) => e,
        Err(e) => return Some(Err(e)),
    };
    let keep = |obj: Lenient<K>, deleted: bool| match obj {
        Lenient::Decoded(k) => Some(k),
        Lenient::Undecodable { meta, error } => {
            if !deleted {
                report::<K>(ctx, meta, error);
            }
            None
        }
    };
    Some(Ok(match event {
        E::Apply(o) => E::Apply(keep(o, false)?),
        E::InitApply(o) => E::InitApply(keep(o, false)?),
        E::Delete(o) => E::Delete(keep(o, true)?),
        E::Init => E::Init,
        E::InitDone => E::InitDone,
    }))
}

fn report<K: Resource<DynamicType = ()>>(ctx: &Arc<Context>, meta: Box<ObjectMeta>, error: String) {
    if !ctx.undecodable.first_time(&meta) {
        return;
    }
    let kind = K::kind(&()).into_owned();
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    tracing::warn!(%kind, %namespace, %name, %error, "skipping an object esox cannot decode");
    ctx.metrics.undecodable_object(&kind);
    let regarding = ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(kind.clone()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: REASON_UNDECODABLE.to_owned(),
        note: Some(format!(
            "esox cannot read this {kind} and ignores it until it changes: {error}. Remove what esox does not support, or use a version of esox that supports it"
        )),
        action: "Decode".to_owned(),
        secondary: None,
    };
    let recorder = ctx.store_recorder.clone();
    tokio::spawn(async move { recorder.publish(&event, &regarding).await });
}

#[cfg(test)]
mod tests {
    use super::*;
    use esox_api::v1::SecretStore;

    #[test]
    fn an_undecodable_object_keeps_its_metadata_and_no_values() {
        let good = serde_json::json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "ok", "namespace": "app"},
            "spec": {"provider": {"fake": {"data": []}}}
        });
        let parsed: Lenient<SecretStore> = serde_json::from_value(good).expect("decodes");
        assert!(matches!(parsed, Lenient::Decoded(_)));
        let bad = serde_json::json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": {"name": "new", "namespace": "app", "uid": "u1"},
            "spec": {"provider": {"vault": {"server": "https://v", "fieldEsoxLacks": "x"}}}
        });
        let parsed: Lenient<SecretStore> = serde_json::from_value(bad).expect("never fails");
        match parsed {
            Lenient::Undecodable { meta, error } => {
                assert_eq!(meta.name.as_deref(), Some("new"));
                assert_eq!(meta.uid.as_deref(), Some("u1"));
                assert!(error.contains("fieldEsoxLacks"), "{error}");
            }
            Lenient::Decoded(_) => panic!("an unknown vault field does not decode"),
        }
        // A whole list decodes although one item does not.
        let list = serde_json::json!([
            {"metadata": {"name": "a"}, "spec": {"provider": {"fake": {"data": []}}}},
            {"metadata": {"name": "b"}, "spec": "not an object"},
        ]);
        let items: Vec<Lenient<SecretStore>> = serde_json::from_value(list).expect("list");
        assert!(matches!(items[0], Lenient::Decoded(_)));
        assert!(matches!(items[1], Lenient::Undecodable { .. }));
    }

    #[test]
    fn quoted_values_are_dropped_from_messages() {
        assert_eq!(
            without_quoted_values("invalid type: string \"s3cr3t\", expected `spec`"),
            "invalid type: string \"…\", expected `spec`"
        );
    }
}
