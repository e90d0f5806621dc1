//! What to push to one store: `data[]` plus the `dataTo[]` entries aimed at that store, expanded
//! against the source keys (ESO's `expandDataTo` and merge), and the keys of
//! `status.syncedPushSecrets`.

use std::collections::{BTreeMap, BTreeSet};

use esox_api::v1alpha1::{
    PushConversionStrategy, PushSecretData, PushSecretDataTo, PushSecretMatch, PushSecretRemoteRef,
    PushSecretSpec, PushSecretStoreRef,
};
use esox_core::SecretData;
use esox_core::keys::ReverseStrategy;
use esox_core::rewrite::{KeyTemplate, TransformFailure};
use esox_template::{Template, Value};

use crate::error::Error;
use crate::selector;

/// One entry to push, with the source keys it may see (bundle mode of `dataTo`).
#[derive(Clone, Debug)]
pub struct Entry {
    pub data: PushSecretData,
    /// `Some` for a `dataTo` bundle: only these keys go into the remote secret.
    pub only_keys: Option<BTreeSet<String>>,
}

/// A store as `dataTo[].storeRef` may designate it.
pub struct StoreIdentity<'a> {
    pub kind: esox_api::v1::StoreKind,
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// Whether [`for_store`] renders templates (`dataTo[].rewrite[].transform`), so that it should
/// run on the render pool rather than an async worker.
pub fn renders_templates(spec: &PushSecretSpec) -> bool {
    spec.data_to
        .iter()
        .flat_map(|d| &d.rewrite)
        .any(|r| r.transform.is_some())
}

/// `"<StoreKind>/<name>"`, the outer key of `status.syncedPushSecrets`.
pub fn store_key(kind: esox_api::v1::StoreKind, name: &str) -> String {
    format!("{kind}/{name}")
}

/// The inverse of [`store_key`].
pub fn parse_store_key(key: &str) -> Option<(esox_api::v1::StoreKind, String)> {
    let (kind, name) = key.split_once('/')?;
    let kind = match kind {
        "SecretStore" => esox_api::v1::StoreKind::SecretStore,
        "ClusterSecretStore" => esox_api::v1::StoreKind::ClusterSecretStore,
        _ => return None,
    };
    Some((kind, name.to_owned()))
}

/// `"<remoteKey>"` or `"<remoteKey>/<property>"`, the inner key of `status.syncedPushSecrets`.
pub fn remote_key(r: &PushSecretRemoteRef) -> String {
    match r.property.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => format!("{}/{p}", r.remote_key),
        None => r.remote_key.clone(),
    }
}

/// Checks that every `dataTo[].storeRef` designates one of `secretStoreRefs` (ESO step 4).
pub fn validate_data_to(spec: &PushSecretSpec) -> Result<(), Error> {
    for (i, d) in spec.data_to.iter().enumerate() {
        let Some(r) = &d.store_ref else {
            return Err(Error::Invalid(format!(
                "spec.dataTo[{i}].storeRef is missing: name a store listed in spec.secretStoreRefs"
            )));
        };
        if r.name.is_none() && r.label_selector.is_none() {
            return Err(Error::Invalid(format!(
                "spec.dataTo[{i}].storeRef needs a name or a labelSelector"
            )));
        }
        let listed = spec.secret_store_refs.iter().any(|s| {
            s.kind == r.kind
                && ((r.name.is_some() && s.name == r.name)
                    || (r.label_selector.is_some() && s.label_selector == r.label_selector))
        });
        if !listed {
            return Err(Error::Invalid(format!(
                "spec.dataTo[{i}].storeRef does not match any entry of spec.secretStoreRefs: add the store there or fix the reference"
            )));
        }
    }
    Ok(())
}

fn designates(r: &PushSecretStoreRef, store: &StoreIdentity<'_>) -> bool {
    if r.kind != store.kind {
        return false;
    }
    match (&r.name, &r.label_selector) {
        (Some(n), _) => n == store.name,
        (None, Some(sel)) => selector::matches(sel, store.labels),
        (None, None) => false,
    }
}

/// The entries for `store`, given the keys of the (templated) source Secret.
pub fn for_store(
    spec: &PushSecretSpec,
    store: &StoreIdentity<'_>,
    source: &SecretData,
) -> Result<Vec<Entry>, Error> {
    let mut out: Vec<Entry> = spec
        .data
        .iter()
        .map(|d| Entry {
            data: d.clone(),
            only_keys: None,
        })
        .collect();
    let explicit: BTreeSet<String> = spec
        .data
        .iter()
        .filter_map(|d| d.match_.secret_key.clone())
        .collect();
    for (i, d) in spec.data_to.iter().enumerate() {
        if !d.store_ref.as_ref().is_some_and(|r| designates(r, store)) {
            continue;
        }
        for e in expand(i, d, source)? {
            // Explicit data wins for the same source key.
            let shadowed = e
                .data
                .match_
                .secret_key
                .as_ref()
                .is_some_and(|k| explicit.contains(k));
            if !shadowed {
                out.push(e);
            }
        }
    }
    let mut seen = BTreeSet::new();
    for e in &out {
        let key = remote_key(&e.data.match_.remote_ref);
        if !seen.insert(key.clone()) {
            return Err(Error::Invalid(format!(
                "more than one entry pushes to remote key {key:?} of {}: give each entry its own remoteKey/property",
                store_key(store.kind, store.name)
            )));
        }
    }
    Ok(out)
}

fn expand(index: usize, d: &PushSecretDataTo, source: &SecretData) -> Result<Vec<Entry>, Error> {
    let keys = reversed(d.conversion_strategy, source)?;
    let mut matched: BTreeSet<String> = keys.into_keys().collect();
    if let Some(pattern) = d.match_.as_ref().and_then(|m| m.regexp.as_deref()) {
        let re = esox_core::go_regex::compile(pattern).map_err(|e| {
            Error::Invalid(format!(
                "spec.dataTo[{index}].match.regexp {pattern:?} is not a valid regular expression: {e}"
            ))
        })?;
        matched.retain(|k| re.is_match(k));
    }
    if let Some(remote) = &d.remote_key {
        return Ok(vec![Entry {
            data: PushSecretData {
                match_: PushSecretMatch {
                    secret_key: None,
                    remote_ref: PushSecretRemoteRef {
                        remote_key: remote.clone(),
                        property: None,
                    },
                },
                metadata: d.metadata.clone(),
                conversion_strategy: d.conversion_strategy,
            },
            only_keys: Some(matched),
        }]);
    }
    let mut out = Vec::new();
    for key in matched {
        let remote = rewrite(index, d, &key)?;
        out.push(Entry {
            data: PushSecretData {
                match_: PushSecretMatch {
                    secret_key: Some(key),
                    remote_ref: PushSecretRemoteRef {
                        remote_key: remote,
                        property: None,
                    },
                },
                metadata: d.metadata.clone(),
                conversion_strategy: d.conversion_strategy,
            },
            only_keys: None,
        });
    }
    Ok(out)
}

fn rewrite(index: usize, d: &PushSecretDataTo, key: &str) -> Result<String, Error> {
    let mut name = key.to_owned();
    for (j, r) in d.rewrite.iter().enumerate() {
        let one: SecretData = BTreeMap::from([(name.clone(), Vec::new())]);
        let out = if let Some(re) = &r.regexp {
            esox_core::rewrite::rewrite_regexp(&re.source, &re.target, one)
        } else if let Some(t) = &r.transform {
            esox_core::rewrite::rewrite_transform(&t.template, one, &KeyTransform)
        } else {
            Ok(one)
        }
        .map_err(|e| Error::Invalid(format!("spec.dataTo[{index}].rewrite[{j}]: {e}")))?;
        name = out.into_keys().next().unwrap_or_default();
    }
    if name.is_empty() {
        return Err(Error::Invalid(format!(
            "spec.dataTo[{index}].rewrite turned key {key:?} into an empty remote key: fix the rewrite"
        )));
    }
    Ok(name)
}

/// `rewrite[].transform` with `.value` bound to the key.
struct KeyTransform;

impl KeyTemplate for KeyTransform {
    fn render_key(&self, template: &str, key: &str) -> Result<String, TransformFailure> {
        let parsed = Template::parse("transform", template, None)
            .map_err(|e| TransformFailure::Parse(e.to_string()))?;
        let data = Value::from(BTreeMap::from([("value".to_owned(), key.to_owned())]));
        parsed
            .execute(&data)
            .map_err(|e| TransformFailure::Execute {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }
}

/// The source data with its keys turned back per `conversionStrategy` (ESO's `ReverseKeys`).
pub fn reversed(strategy: PushConversionStrategy, data: &SecretData) -> Result<SecretData, Error> {
    let s = match strategy {
        PushConversionStrategy::None => return Ok(data.clone()),
        PushConversionStrategy::ReverseUnicode => ReverseStrategy::ReverseUnicode,
    };
    esox_core::keys::reverse_keys(s, data.clone())
        .map_err(|e| Error::Data(format!("conversionStrategy ReverseUnicode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use esox_api::v1::StoreKind;

    fn spec(yaml: &str) -> PushSecretSpec {
        serde_saphyr::from_str(yaml).expect("valid spec")
    }

    fn data(keys: &[&str]) -> SecretData {
        keys.iter()
            .map(|k| ((*k).to_owned(), b"v".to_vec()))
            .collect()
    }

    #[test]
    fn data_to_expands_per_key_with_rewrites_and_explicit_data_wins() {
        let s = spec(
            r#"
secretStoreRefs: [{name: a}]
selector: {secret: {name: src}}
data:
  - match: {secretKey: db_user, remoteRef: {remoteKey: explicit}}
dataTo:
  - storeRef: {name: a}
    match: {regexp: "^db_"}
    rewrite: [{regexp: {source: "^db_", target: "app-"}}]
"#,
        );
        validate_data_to(&s).expect("storeRef listed");
        let labels = BTreeMap::new();
        let store = StoreIdentity {
            kind: StoreKind::SecretStore,
            name: "a",
            labels: &labels,
        };
        let entries = for_store(&s, &store, &data(&["db_user", "db_pass", "other"])).unwrap();
        let remotes: Vec<String> = entries
            .iter()
            .map(|e| remote_key(&e.data.match_.remote_ref))
            .collect();
        assert_eq!(remotes, ["explicit", "app-pass"]);
        let other = StoreIdentity {
            kind: StoreKind::SecretStore,
            name: "b",
            labels: &labels,
        };
        assert_eq!(for_store(&s, &other, &data(&["db_x"])).unwrap().len(), 1);
    }

    #[test]
    fn bundles_duplicates_and_unlisted_store_refs() {
        let s = spec(
            r#"
secretStoreRefs: [{name: a}]
selector: {secret: {name: src}}
dataTo: [{storeRef: {name: a}, remoteKey: bundle, match: {regexp: "^x"}}]
"#,
        );
        let labels = BTreeMap::new();
        let store = StoreIdentity {
            kind: StoreKind::SecretStore,
            name: "a",
            labels: &labels,
        };
        let e = for_store(&s, &store, &data(&["x1", "x2", "y"])).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].only_keys
                .clone()
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["x1", "x2"]
        );
        let dup = spec(
            r#"
secretStoreRefs: [{name: a}]
selector: {secret: {name: src}}
data:
  - match: {secretKey: k, remoteRef: {remoteKey: r, property: p}}
  - match: {secretKey: j, remoteRef: {remoteKey: r, property: p}}
"#,
        );
        let err = for_store(&dup, &store, &data(&["k", "j"])).unwrap_err();
        assert!(err.to_string().contains("\"r/p\""), "{err}");
        let unlisted = spec(
            "secretStoreRefs: [{name: a}]\nselector: {secret: {name: s}}\ndataTo: [{storeRef: {name: b}}]\n",
        );
        assert!(
            validate_data_to(&unlisted)
                .unwrap_err()
                .to_string()
                .contains("spec.dataTo[0].storeRef")
        );
    }

    #[test]
    fn keys_and_reverse_unicode() {
        assert_eq!(
            store_key(StoreKind::ClusterSecretStore, "x"),
            "ClusterSecretStore/x"
        );
        assert_eq!(
            parse_store_key("SecretStore/y"),
            Some((StoreKind::SecretStore, "y".to_owned()))
        );
        assert_eq!(parse_store_key("Bogus/y"), None);
        let r = reversed(
            PushConversionStrategy::ReverseUnicode,
            &data(&["a_U002f_b"]),
        )
        .unwrap();
        assert!(r.contains_key("a/b"));
    }
}
