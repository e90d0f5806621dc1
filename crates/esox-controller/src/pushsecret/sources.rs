//! Which PushSecrets read which Secrets, filled by the reconciles: a Secret event then reaches the
//! PushSecrets that push it without caching any Secret (memory follows the PushSecrets).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use esox_api::v1::GeneratorRef;
use esox_api::v1alpha1::PushSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::ObjectRef;

use crate::selector;

type PsRef = ObjectRef<PushSecret>;

/// How one PushSecret selects its sources.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Name(String),
    Selector(LabelSelector),
    /// `spec.selector.generatorRef`: no Secret to watch.
    Generator(GeneratorRef),
}

#[derive(Default)]
struct Inner {
    of: HashMap<PsRef, Source>,
    by_name: HashMap<(String, String), HashSet<PsRef>>,
    by_namespace: HashMap<String, HashSet<PsRef>>,
}

/// The source index, shared by the PushSecret controller and its Secret watch.
#[derive(Default)]
pub struct SourceIndex {
    inner: Mutex<Inner>,
}

impl SourceIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain maps stay usable after a panic elsewhere.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the source of `ps`.
    pub fn record(&self, ps: &PsRef, source: Source) {
        let mut inner = self.lock();
        drop_entry(&mut inner, ps);
        let ns = ps.namespace.clone().unwrap_or_default();
        match &source {
            Source::Name(n) => {
                inner
                    .by_name
                    .entry((ns, n.clone()))
                    .or_default()
                    .insert(ps.clone());
            }
            Source::Selector(_) => {
                inner.by_namespace.entry(ns).or_default().insert(ps.clone());
            }
            Source::Generator(_) => return,
        }
        inner.of.insert(ps.clone(), source);
    }

    /// Forgets a deleted PushSecret.
    pub fn forget(&self, ps: &PsRef) {
        drop_entry(&mut self.lock(), ps);
    }

    /// PushSecrets that push the Secret `namespace/name` carrying `labels`.
    pub fn for_secret(
        &self,
        namespace: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<PsRef> {
        let inner = self.lock();
        let mut out: Vec<PsRef> = inner
            .by_name
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for ps in inner.by_namespace.get(namespace).into_iter().flatten() {
            if let Some(Source::Selector(sel)) = inner.of.get(ps)
                && selector::matches(sel, labels)
            {
                out.push(ps.clone());
            }
        }
        out
    }

    /// Number of PushSecrets tracked.
    pub fn len(&self) -> usize {
        self.lock().of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn drop_entry(inner: &mut Inner, ps: &PsRef) {
    let ns = ps.namespace.clone().unwrap_or_default();
    match inner.of.remove(ps) {
        Some(Source::Name(n)) => {
            let key = (ns, n);
            if let Some(set) = inner.by_name.get_mut(&key) {
                set.remove(ps);
                if set.is_empty() {
                    inner.by_name.remove(&key);
                }
            }
        }
        Some(Source::Selector(_)) => {
            if let Some(set) = inner.by_namespace.get_mut(&ns) {
                set.remove(ps);
                if set.is_empty() {
                    inner.by_namespace.remove(&ns);
                }
            }
        }
        Some(Source::Generator(_)) | None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(ns: &str, name: &str) -> PsRef {
        ObjectRef::new(name).within(ns)
    }

    #[test]
    fn names_and_selectors_map_secrets_to_push_secrets() {
        let idx = SourceIndex::default();
        idx.record(&ps("a", "by-name"), Source::Name("src".into()));
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([("push".to_owned(), "yes".to_owned())])),
            match_expressions: None,
        };
        idx.record(&ps("a", "by-label"), Source::Selector(sel));
        let none = BTreeMap::new();
        let labelled = BTreeMap::from([("push".to_owned(), "yes".to_owned())]);
        assert_eq!(idx.for_secret("a", "src", &none), vec![ps("a", "by-name")]);
        assert_eq!(
            idx.for_secret("a", "other", &labelled),
            vec![ps("a", "by-label")]
        );
        assert!(idx.for_secret("b", "src", &labelled).is_empty());
        assert!(idx.for_secret("a", "other", &none).is_empty());
        // A new source replaces the old one.
        idx.record(&ps("a", "by-name"), Source::Name("renamed".into()));
        assert!(idx.for_secret("a", "src", &none).is_empty());
        // A generator replaces a Secret source: that Secret no longer maps to it.
        let generator: GeneratorRef = serde_json::from_value(serde_json::json!({
            "kind": "Password", "name": "pw"
        }))
        .unwrap();
        idx.record(&ps("a", "by-label"), Source::Generator(generator));
        assert!(idx.for_secret("a", "other", &labelled).is_empty());
        idx.record(&ps("a", "by-name"), Source::Name("renamed".into()));
        idx.forget(&ps("a", "by-name"));
        assert!(idx.for_secret("a", "renamed", &none).is_empty());
        assert_eq!(idx.len(), 0);
    }
}
