//! What the controllers remember about each object between reconciles, for any kind: failures
//! in a row (for [`Backoff`]) and "its source changed" marks. Both are cleared when the object
//! is deleted, so that nothing is kept for objects that no longer exist.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use esox_api::v1::{ClusterExternalSecret, ClusterSecretStore, ExternalSecret, SecretStore};
use esox_api::v1alpha1::{ClusterPushSecret, PushSecret};
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use crate::backoff::Backoff;
use crate::context::Context;
use crate::error::Error;

/// Per-object state of one kind.
pub struct ObjectState<K: Resource>
where
    K::DynamicType: Hash + Eq,
{
    failures: Mutex<HashMap<ObjectRef<K>, u32>>,
    source_changed: Mutex<HashSet<ObjectRef<K>>>,
    /// Objects whose sources this process has read, or found it cannot watch, since it started
    /// (see [`ObjectState::is_checked`]).
    checked: Mutex<HashSet<ObjectRef<K>>>,
    /// The fingerprint of the source versions each object's target was last built from (see
    /// [`crate::source_versions`]).
    fingerprints: Mutex<HashMap<ObjectRef<K>, Box<str>>>,
}

impl<K: Resource> Default for ObjectState<K>
where
    K::DynamicType: Hash + Eq,
{
    fn default() -> Self {
        Self {
            failures: Mutex::default(),
            source_changed: Mutex::default(),
            checked: Mutex::default(),
            fingerprints: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: Resource> ObjectState<K>
where
    K::DynamicType: Hash + Eq + Clone,
{
    /// Counts a failed reconcile of `obj`; returns how many in a row.
    pub fn note_failure(&self, obj: &ObjectRef<K>) -> u32 {
        let mut f = lock(&self.failures);
        let n = f.entry(obj.clone()).or_default();
        *n = n.saturating_add(1);
        *n
    }

    /// Counts a failed reconcile of `obj` and returns when to retry it.
    pub fn retry_after(&self, obj: &ObjectRef<K>, backoff: &Backoff) -> Duration {
        backoff.delay(self.note_failure(obj))
    }

    /// Forgets the failures of `obj` after a successful reconcile.
    pub fn succeeded(&self, obj: &ObjectRef<K>) {
        lock(&self.failures).remove(obj);
    }

    /// Forgets everything about `obj`: it was deleted.
    pub fn forget(&self, obj: &ObjectRef<K>) {
        lock(&self.failures).remove(obj);
        lock(&self.source_changed).remove(obj);
        lock(&self.checked).remove(obj);
        lock(&self.fingerprints).remove(obj);
    }

    /// Records the fingerprint of the source versions `obj` was last built from (`None`: not
    /// known, so every source change refreshes it).
    pub fn set_fingerprint(&self, obj: &ObjectRef<K>, fingerprint: Option<String>) {
        let mut f = lock(&self.fingerprints);
        match fingerprint {
            Some(v) => f.insert(obj.clone(), v.into_boxed_str()),
            None => f.remove(obj),
        };
    }

    /// Whether `obj` was last built from the versions `fingerprint` stands for.
    pub fn built_from(&self, obj: &ObjectRef<K>, fingerprint: &str) -> bool {
        lock(&self.fingerprints)
            .get(obj)
            .is_some_and(|f| **f == *fingerprint)
    }

    /// Whether this process has read `obj`'s sources since it started, or found there is
    /// nothing to watch. Until then the object's status reflects what an earlier process (or
    /// leader) saw, and a change made while nobody watched may be pending.
    pub fn is_checked(&self, obj: &ObjectRef<K>) -> bool {
        lock(&self.checked).contains(obj)
    }

    pub fn mark_checked(&self, obj: ObjectRef<K>) {
        lock(&self.checked).insert(obj);
    }

    /// The check did not complete (the reconcile failed after reading): do it again.
    pub fn unmark_checked(&self, obj: &ObjectRef<K>) {
        lock(&self.checked).remove(obj);
    }

    /// Marks `obj` as having a changed source.
    pub fn mark_source_changed(&self, obj: ObjectRef<K>) {
        lock(&self.source_changed).insert(obj);
    }

    /// Takes (and clears) the "source changed" mark of `obj`.
    pub fn take_source_changed(&self, obj: &ObjectRef<K>) -> bool {
        lock(&self.source_changed).remove(obj)
    }

    /// Whether `obj` is marked as having a changed source.
    pub fn has_source_changed(&self, obj: &ObjectRef<K>) -> bool {
        lock(&self.source_changed).contains(obj)
    }

    /// How many objects have state (for tests: it must not grow with deleted objects).
    pub fn len(&self) -> usize {
        let failures = lock(&self.failures);
        let marks = lock(&self.source_changed);
        let checked = lock(&self.checked);
        let fingerprints = lock(&self.fingerprints);
        failures
            .keys()
            .chain(marks.iter())
            .chain(checked.iter())
            .chain(fingerprints.keys())
            .collect::<HashSet<_>>()
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The per-object state of every kind esox reconciles.
#[derive(Default)]
pub struct States {
    pub external_secrets: ObjectState<ExternalSecret>,
    pub push_secrets: ObjectState<PushSecret>,
    pub cluster_external_secrets: ObjectState<ClusterExternalSecret>,
    pub cluster_push_secrets: ObjectState<ClusterPushSecret>,
    pub secret_stores: ObjectState<SecretStore>,
    pub cluster_secret_stores: ObjectState<ClusterSecretStore>,
}

/// A kind esox reconciles: where its per-object state lives and how its failures back off.
pub trait Tracked: Resource<DynamicType = ()> + Sized + 'static {
    /// The retry policy of failed reconciles (see [`crate::backoff`]).
    const BACKOFF: Backoff = Backoff::RECONCILE;
    /// The retry policy while the remote end cannot be reached at all, when it differs.
    const UNAVAILABLE_BACKOFF: Option<Backoff> = None;

    fn state(states: &States) -> &ObjectState<Self>;
}

macro_rules! tracked {
    ($kind:ty, $field:ident $(, $backoff:expr)?) => {
        impl Tracked for $kind {
            $(const BACKOFF: Backoff = $backoff;)?
            fn state(states: &States) -> &ObjectState<Self> {
                &states.$field
            }
        }
    };
}

tracked!(ExternalSecret, external_secrets);
impl Tracked for PushSecret {
    const BACKOFF: Backoff = Backoff::PUSH;
    const UNAVAILABLE_BACKOFF: Option<Backoff> = Some(Backoff::PUSH_UNAVAILABLE);
    fn state(states: &States) -> &ObjectState<Self> {
        &states.push_secrets
    }
}
tracked!(ClusterExternalSecret, cluster_external_secrets);
tracked!(ClusterPushSecret, cluster_push_secrets);
tracked!(SecretStore, secret_stores);
tracked!(ClusterSecretStore, cluster_secret_stores);

/// The `error_policy` of every controller: counts the failure, logs it (the one log line of a
/// failed reconcile) and retries after the kind's backoff.
pub fn error_policy<K, C>(obj: Arc<K>, err: &Error, ctx: Arc<C>) -> Action
where
    K: Tracked,
    C: AsRef<Context>,
{
    let obj_ref = ObjectRef::from_obj(obj.as_ref());
    let ctx: &Context = AsRef::<Context>::as_ref(&*ctx);
    let backoff = match K::UNAVAILABLE_BACKOFF {
        Some(b) if err.is_unavailable() => b,
        _ => K::BACKOFF,
    };
    let delay = K::state(&ctx.state).retry_after(&obj_ref, &backoff);
    tracing::warn!(
        kind = %K::kind(&()),
        namespace = obj_ref.namespace.as_deref().unwrap_or_default(),
        name = %obj_ref.name,
        error = %err,
        category = err.metric_label(),
        retry_in = ?delay,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// Records the outcome of a reconcile in the object's state: a success ends its run of failures.
pub fn settle<K: Tracked>(ctx: &Context, obj: &ObjectRef<K>, result: &Result<Action, Error>) {
    if result.is_ok() {
        K::state(&ctx.state).succeeded(obj);
    }
}

/// Forgets a deleted object's state; for `.inspect` on the kind's watch stream.
pub fn forget_deleted<K: Tracked>(
    ctx: &Context,
    event: &Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>,
) {
    if let Ok(kube::runtime::watcher::Event::Delete(obj)) = event {
        K::state(&ctx.state).forget(&ObjectRef::from_obj(obj));
    }
}

/// Logs what a controller's stream reports, except failed reconciles: [`error_policy`] logged
/// those already.
pub fn log_event<K, E, Q>(
    controller: &'static str,
    result: Result<(ObjectRef<K>, Action), kube::runtime::controller::Error<E, Q>>,
) -> futures::future::Ready<()>
where
    K: Resource,
    E: std::error::Error + 'static,
    Q: std::error::Error + 'static,
{
    match result {
        Ok(_) | Err(kube::runtime::controller::Error::ReconcilerFailed(..)) => {}
        Err(e) => tracing::debug!(error = %e, "{controller} controller event"),
    }
    futures::future::ready(())
}
