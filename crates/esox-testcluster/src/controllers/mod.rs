//! The control-plane loops a real cluster runs in kube-controller-manager: namespace lifecycle,
//! ownerReference garbage collection and the ServiceAccount token Secret controller. They react
//! to store events and write through the same path as API clients.

pub(crate) mod gc;
pub(crate) mod namespace;
pub(crate) mod tokens;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use crate::handlers::write::WriteCtx;
use crate::state::State;
use crate::store::{Event, EventType};

pub(crate) const MANAGER: &str = "kube-controller-manager";

pub(crate) fn ctx() -> WriteCtx<'static> {
    WriteCtx::new(MANAGER)
}

/// Runs the controllers until the returned handle is aborted.
pub(crate) fn spawn(state: Arc<State>) -> tokio::task::JoinHandle<()> {
    let mut rx = state.store.subscribe();
    tokio::spawn(async move {
        let mut gc = gc::Gc::default();
        resync(&state, &mut gc);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(e) => on_event(&state, &mut gc, &e),
                    Err(RecvError::Lagged(_)) => resync(&state, &mut gc),
                    Err(RecvError::Closed) => return,
                },
                _ = state.controller_kick.notified() => {}
                // Periodic retry for work that failed transiently (injected faults do not
                // reach controllers, but conflicts with clients can).
                _ = tick.tick() => periodic(&state, &mut gc),
            }
        }
    })
}

fn on_event(state: &Arc<State>, gc: &mut gc::Gc, e: &Event) {
    gc.observe(e);
    let core = e.gr.group.is_empty();
    match (core, e.gr.resource.as_str(), e.kind) {
        (true, "namespaces", EventType::Added | EventType::Modified) => {
            namespace::reconcile(state, &e.name)
        }
        (true, "secrets", EventType::Added | EventType::Modified) => {
            tokens::reconcile_secret(state, &e.object)
        }
        (true, "serviceaccounts", EventType::Added) => {
            tokens::reconcile_account(state, &e.namespace, &e.name)
        }
        (true, "serviceaccounts" | "configmaps", EventType::Deleted)
            if e.name == "default" || e.name == "kube-root-ca.crt" =>
        {
            // The real controllers put these back at once.
            if e.gr.resource == "serviceaccounts" {
                account_deleted_later(state, e);
            }
            namespace::ensure_defaults(state, &e.namespace);
        }
        (true, "serviceaccounts", EventType::Deleted) => account_deleted_later(state, e),
        _ => {}
    }
    gc.on_event(state, e);
    if e.kind == EventType::Deleted && !e.namespace.is_empty() {
        namespace::reconcile_if_terminating(state, &e.namespace);
    }
}

fn resync(state: &State, gc: &mut gc::Gc) {
    gc.rebuild(state);
    periodic(state, gc);
}

fn periodic(state: &State, gc: &mut gc::Gc) {
    namespace::reconcile_all(state);
    gc.reconcile_all(state);
}

/// The real token controller removes a deleted account's token Secrets from a work queue, a
/// moment after the account goes; doing it at once would make `kubectl delete -f` of a manifest
/// listing both fail on the Secret.
fn account_deleted_later(state: &Arc<State>, e: &Event) {
    let state = state.clone();
    let (ns, name) = (e.namespace.clone(), e.name.clone());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tokens::account_deleted(&state, &ns, &name);
    });
}
