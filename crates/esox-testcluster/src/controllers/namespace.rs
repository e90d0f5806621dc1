//! Namespace lifecycle: defaults in new namespaces, and deletion that empties a Terminating
//! namespace before removing it.

use serde_json::{Value, json};

use crate::resources::GroupResource;
use crate::state::State;
use crate::util::{meta, name_of};

/// The `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap.
pub(crate) fn ensure_defaults(state: &State, ns: &str) {
    let Some(nsobj) = state.get("", "namespaces", "", ns) else {
        return;
    };
    if meta(&nsobj).is_some_and(|m| m.contains_key("deletionTimestamp")) {
        return;
    }
    let ctx = super::ctx();
    if state.get("", "serviceaccounts", ns, "default").is_none()
        && let Some(info) = state.info("", "v1", "serviceaccounts")
    {
        let _ = crate::handlers::write::create(
            state,
            &info,
            ns,
            json!({"metadata": {"name": "default"}}),
            &ctx,
        );
    }
    if state
        .get("", "configmaps", ns, "kube-root-ca.crt")
        .is_none()
        && let Some(info) = state.info("", "v1", "configmaps")
    {
        let cm = json!({"metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                            "data": {"ca.crt": state.ca_pem}});
        let _ = crate::handlers::write::create(state, &info, ns, cm, &ctx);
    }
}

fn terminating(ns: &Value) -> bool {
    meta(ns).is_some_and(|m| m.contains_key("deletionTimestamp"))
}

pub(crate) fn reconcile_if_terminating(state: &State, ns: &str) {
    if state
        .get("", "namespaces", "", ns)
        .is_some_and(|o| terminating(&o))
    {
        reconcile(state, ns);
    }
}

pub(crate) fn reconcile_all(state: &State) {
    let (all, _) = state
        .store
        .list(&GroupResource::new("", "namespaces"), None);
    for ns in all.iter().filter(|o| terminating(o)) {
        reconcile(state, name_of(ns));
    }
}

/// Deletes the contents of a Terminating namespace; when nothing is left, removes it.
pub(crate) fn reconcile(state: &State, ns: &str) {
    let Some(nsobj) = state.get("", "namespaces", "", ns) else {
        return;
    };
    if !terminating(&nsobj) {
        ensure_defaults(state, ns);
        return;
    }
    let contents = state.store.all_in_namespace(ns);
    let opts = crate::handlers::write::DeleteOpts {
        propagation: Some("Background".into()),
        ..Default::default()
    };
    for (gr, obj) in &contents {
        if meta(obj).is_some_and(|m| m.contains_key("deletionTimestamp")) {
            continue;
        }
        if let Some(info) = state.info_for(gr) {
            let _ = crate::handlers::write::delete(state, &info, ns, name_of(obj), &opts);
        }
    }
    if !state.store.all_in_namespace(ns).is_empty() {
        return;
    }
    let gr = GroupResource::new("", "namespaces");
    let _ = state
        .store
        .mutate(&gr, "", ns, |_| Ok::<_, ()>(crate::store::Mutation::Remove));
}
