//! Kubernetes Events (`events.k8s.io/v1`), sent in the background.
//!
//! kube's own `Recorder` keeps every event it sent for six minutes to count repeats, and sweeps
//! that whole cache under one lock on every publish: with ten thousand ExternalSecrets syncing
//! at once that is tens of MiB and a lock every reconcile queues on. esox creates each event
//! once, without client-side series (the API server and `kubectl events` group them), and does
//! not make the reconcile wait for it: a reconcile's outcome is in its status, the event is a
//! report of it. At most [`IN_FLIGHT`] creates run at once; beyond that a publish waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
pub use kube::runtime::events::{Event, EventType};
use tokio::sync::Semaphore;

/// Event creates in flight at most (each holds a pooled HTTP/1.1 connection).
pub const IN_FLIGHT: usize = 16;
/// Longest note kept (the API server refuses notes over 1 KiB); longer ones end with "…".
pub const NOTE_MAX: usize = 1000;

/// Sends events as one controller (the `reportingController`).
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    controller: String,
    slots: Arc<Semaphore>,
}

/// Makes names unique when two events of one object share a nanosecond.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Recorder {
    pub fn new(client: kube::Client, controller: &str) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }

    /// Sends `ev` about `regarding`. Returns once the create is under way; a failure to create
    /// it is logged, never returned, since the reconcile that reports it has already happened.
    pub async fn publish(&self, ev: &Event, regarding: &ObjectReference) {
        let event = self.build(ev, regarding);
        let namespace = event
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return;
        };
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                crate::watches::warn_if_refused("an Event", &e);
                tracing::debug!(error = %e, reason = ?event.reason, "could not create event");
            }
            drop(permit);
        });
    }

    fn build(&self, ev: &Event, regarding: &ObjectReference) -> K8sEvent {
        let now = jiff::Timestamp::now();
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) & 0xffff;
        let name = regarding.name.as_deref().unwrap_or(&self.controller);
        K8sEvent {
            metadata: ObjectMeta {
                // Cluster-scoped objects (ClusterSecretStore) report into "default", as kube does.
                namespace: Some(
                    regarding
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".to_owned()),
                ),
                name: Some(format!("{name}.{:x}{seq:04x}", now.as_nanosecond())),
                ..Default::default()
            },
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            note: ev.note.as_deref().map(|n| truncate(n, NOTE_MAX)),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: ev.secondary.clone(),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.controller.clone()),
            ..Default::default()
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> Option<Recorder> {
        // A client that never connects: building an event needs no server.
        let config = kube::Config::new("https://127.0.0.1:1".parse().ok()?);
        let client = kube::Client::try_from(config).ok()?;
        Some(Recorder::new(client, "external-secrets"))
    }

    #[tokio::test]
    async fn events_carry_reason_type_object_and_unique_names() {
        let r = recorder().expect("recorder");
        let regarding = ObjectReference {
            kind: Some("ExternalSecret".into()),
            namespace: Some("bar".into()),
            name: Some("es".into()),
            ..Default::default()
        };
        let ev = Event {
            type_: EventType::Warning,
            reason: "UpdateFailed".into(),
            note: Some("could not get secret data from provider".into()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let a = r.build(&ev, &regarding);
        let b = r.build(&ev, &regarding);
        assert_ne!(a.metadata.name, b.metadata.name);
        assert!(a.metadata.name.as_deref().unwrap().starts_with("es."));
        assert_eq!(a.metadata.namespace.as_deref(), Some("bar"));
        assert_eq!(a.type_.as_deref(), Some("Warning"));
        assert_eq!(a.reason.as_deref(), Some("UpdateFailed"));
        assert_eq!(a.reporting_controller.as_deref(), Some("external-secrets"));
        assert_eq!(a.regarding.as_ref(), Some(&regarding));
        let long = Event {
            type_: EventType::Warning,
            reason: "UpdateFailed".into(),
            note: Some("é".repeat(NOTE_MAX)),
            action: "Reconcile".into(),
            secondary: None,
        };
        let note = r.build(&long, &regarding).note.unwrap();
        assert!(note.len() <= NOTE_MAX + '…'.len_utf8() && note.ends_with('…'));
        let cluster_scoped = ObjectReference {
            namespace: None,
            ..regarding
        };
        assert_eq!(
            r.build(&ev, &cluster_scoped).metadata.namespace.as_deref(),
            Some("default")
        );
    }
}
