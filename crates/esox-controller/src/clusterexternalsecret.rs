//! The ClusterExternalSecret controller: one ExternalSecret in every selected namespace (the
//! fan-out itself is [`crate::fanout`]). Unlike the ClusterPushSecret, it has a finalizer (as in
//! ESO) that deletes its ExternalSecrets first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use esox_api::labels::{ANNOTATION_FORCE_SYNC, FINALIZER_CLUSTER_EXTERNAL_SECRET};
use esox_api::v1::{
    ClusterCondition, ClusterExternalSecret, ClusterExternalSecretStatus, ExternalSecret,
};
use kube::ResourceExt as _;

use crate::context::Context;
use crate::fanout::{self, FanOut, Outcome};
use crate::selector;

impl FanOut for ClusterExternalSecret {
    type Child = ExternalSecret;
    type Status = ClusterExternalSecretStatus;
    const NAME: &'static str = "clusterexternalsecret";
    const TAKEN: &'static str = "external secret already exists in namespace";
    const FINALIZER: Option<&'static str> = Some(FINALIZER_CLUSTER_EXTERNAL_SECRET);
    const DELETE_ERRORS_FAIL: bool = true;

    fn child_name(&self) -> String {
        self.spec
            .external_secret_name
            .clone()
            .unwrap_or_else(|| self.name_any())
    }

    fn provisioned(&self) -> (Option<&str>, &[String]) {
        self.status.as_ref().map_or((None, &[]), |s| {
            (s.external_secret_name.as_deref(), &s.provisioned_namespaces)
        })
    }

    fn selects(&self, ns: &str, labels: &BTreeMap<String, String>) -> bool {
        matches(self, ns, labels)
    }

    fn desired_child(&self, _ns: &str, name: &str) -> ExternalSecret {
        let meta = self
            .spec
            .external_secret_metadata
            .clone()
            .unwrap_or_default();
        let mut annotations = meta.annotations;
        if let Some(v) = self.annotations().get(ANNOTATION_FORCE_SYNC) {
            annotations.insert(ANNOTATION_FORCE_SYNC.to_owned(), v.clone());
        }
        let mut desired = ExternalSecret::new(name, self.spec.external_secret_spec.clone());
        desired.metadata.labels = (!meta.labels.is_empty()).then_some(meta.labels);
        desired.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
        desired
    }

    fn same_child(current: &ExternalSecret, desired: &ExternalSecret) -> bool {
        current.spec == desired.spec
            && current.metadata.labels.clone().unwrap_or_default()
                == desired.metadata.labels.clone().unwrap_or_default()
            && current
                .metadata
                .annotations
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| !k.starts_with("kubectl.kubernetes.io/"))
                .collect::<BTreeMap<_, _>>()
                == desired.metadata.annotations.clone().unwrap_or_default()
    }

    fn keep(desired: &mut ExternalSecret, current: &ExternalSecret) {
        desired.status = current.status.clone();
    }

    fn refresh_interval(&self) -> Option<&str> {
        self.spec.refresh_interval.as_deref()
    }

    fn status(&self) -> Option<&ClusterExternalSecretStatus> {
        self.status.as_ref()
    }

    fn new_status(&self, outcome: Outcome) -> ClusterExternalSecretStatus {
        let ready = outcome.ready();
        ClusterExternalSecretStatus {
            external_secret_name: Some(outcome.child_name),
            failed_namespaces: outcome.failed,
            provisioned_namespaces: outcome.provisioned,
            conditions: vec![ClusterCondition {
                type_: "Ready".to_owned(),
                status: if ready { "True" } else { "False" }.to_owned(),
                message: (!ready).then(|| "one or more namespaces failed".to_owned()),
            }],
        }
    }

    fn record_reconciled(ctx: &Context, name: &str, took: Duration) {
        ctx.metrics.cluster_external_secret_reconciled(name, took);
    }

    fn record_condition(ctx: &Context, name: &str, ready: bool) {
        ctx.metrics.cluster_external_secret_condition(name, ready);
    }

    fn record_deleted(ctx: &Context, name: &str) {
        ctx.metrics.cluster_external_secret_deleted(name);
    }
}

/// Whether namespace `ns` is selected (names, the deprecated selector and the selectors are ORed).
fn matches(ces: &ClusterExternalSecret, ns: &str, labels: &BTreeMap<String, String>) -> bool {
    ces.spec.namespaces.iter().any(|n| n == ns)
        || ces
            .spec
            .namespace_selector
            .as_ref()
            .is_some_and(|s| selector::matches(s, labels))
        || ces
            .spec
            .namespace_selectors
            .iter()
            .any(|s| selector::matches(s, labels))
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    fanout::run::<ClusterExternalSecret>(ctx, shutdown).await;
}
