//! The ClusterPushSecret controller: one PushSecret in every namespace its `namespaceSelectors`
//! select (as ESO's ClusterPushSecret; the fan-out itself is [`crate::fanout`]). As ESO, no finalizer on
//! the ClusterPushSecret: children go with their controller ownerReference.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use esox_api::v1::Condition;
use esox_api::v1alpha1::{ClusterPushSecret, ClusterPushSecretStatus, PushSecret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt as _;

use crate::context::Context;
use crate::fanout::{self, FanOut, Outcome};
use crate::selector;

impl FanOut for ClusterPushSecret {
    type Child = PushSecret;
    type Status = ClusterPushSecretStatus;
    const NAME: &'static str = "clusterpushsecret";
    const TAKEN: &'static str = "push secret already exists in namespace";
    const FINALIZER: Option<&'static str> = None;
    const DELETE_ERRORS_FAIL: bool = false;

    fn child_name(&self) -> String {
        self.spec
            .push_secret_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }

    fn provisioned(&self) -> (Option<&str>, &[String]) {
        self.status.as_ref().map_or((None, &[]), |s| {
            (s.push_secret_name.as_deref(), &s.provisioned_namespaces)
        })
    }

    fn selects(&self, _ns: &str, labels: &BTreeMap<String, String>) -> bool {
        matches(self, labels)
    }

    fn desired_child(&self, _ns: &str, name: &str) -> PushSecret {
        let meta = self.spec.push_secret_metadata.clone().unwrap_or_default();
        let mut desired = PushSecret::new(name, self.spec.push_secret_spec.clone());
        desired.metadata.labels = (!meta.labels.is_empty()).then_some(meta.labels);
        desired.metadata.annotations = (!meta.annotations.is_empty()).then_some(meta.annotations);
        desired
    }

    fn same_child(current: &PushSecret, desired: &PushSecret) -> bool {
        current.spec == desired.spec
            && current.metadata.labels.clone().unwrap_or_default()
                == desired.metadata.labels.clone().unwrap_or_default()
            && current.metadata.annotations.clone().unwrap_or_default()
                == desired.metadata.annotations.clone().unwrap_or_default()
    }

    fn keep(desired: &mut PushSecret, current: &PushSecret) {
        desired.status = current.status.clone();
    }

    fn refresh_interval(&self) -> Option<&str> {
        self.spec.refresh_interval.as_deref()
    }

    fn status(&self) -> Option<&ClusterPushSecretStatus> {
        self.status.as_ref()
    }

    fn new_status(&self, outcome: Outcome) -> ClusterPushSecretStatus {
        let old = self.status.clone().unwrap_or_default();
        let condition = if !outcome.errors.is_empty() {
            ready(false, Some("Errored"), &outcome.errors.join("; "), &old)
        } else if outcome.failed.is_empty() {
            ready(true, None, "", &old)
        } else {
            ready(false, None, "one or more namespaces failed", &old)
        };
        ClusterPushSecretStatus {
            failed_namespaces: outcome.failed,
            provisioned_namespaces: outcome.provisioned,
            push_secret_name: Some(outcome.child_name),
            conditions: vec![condition],
        }
    }

    fn record_reconciled(ctx: &Context, name: &str, took: Duration) {
        ctx.metrics.cluster_push_secret_reconciled(name, took);
    }

    fn record_condition(ctx: &Context, name: &str, ready: bool) {
        ctx.metrics.cluster_push_secret_condition(name, ready);
    }

    fn record_deleted(ctx: &Context, name: &str) {
        ctx.metrics.cluster_push_secret_deleted(name);
    }
}

/// The `Ready` condition, keeping `lastTransitionTime` when the status does not change.
fn ready(
    ok: bool,
    reason: Option<&str>,
    message: &str,
    old: &ClusterPushSecretStatus,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let previous = old.conditions.iter().find(|c| c.type_ == "Ready");
    let last_transition_time = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(Time(jiff::Timestamp::now())),
    };
    Condition {
        type_: "Ready".to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        message: (!message.is_empty()).then(|| message.to_owned()),
        last_transition_time,
    }
}

/// Whether a namespace with `labels` is selected (the selectors are ORed).
fn matches(cps: &ClusterPushSecret, labels: &BTreeMap<String, String>) -> bool {
    cps.spec
        .namespace_selectors
        .iter()
        .any(|s| selector::matches(s, labels))
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    fanout::run::<ClusterPushSecret>(ctx, shutdown).await;
}
