//! The `Ready=True` condition of the resources the benchmarks wait for.

use esox_api::v1::{ClusterSecretStore, Condition, ExternalSecret, SecretStore};
use esox_api::v1alpha1::PushSecret;

pub trait Ready {
    fn is_ready(&self) -> bool;
}

fn ready_in(conditions: Option<&[Condition]>) -> bool {
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl Ready for ExternalSecret {
    fn is_ready(&self) -> bool {
        ready_in(self.status.as_ref().map(|s| s.conditions.as_slice()))
    }
}

impl Ready for PushSecret {
    fn is_ready(&self) -> bool {
        ready_in(self.status.as_ref().map(|s| s.conditions.as_slice()))
    }
}

impl Ready for SecretStore {
    fn is_ready(&self) -> bool {
        ready_in(self.status.as_ref().map(|s| s.conditions.as_slice()))
    }
}

impl Ready for ClusterSecretStore {
    fn is_ready(&self) -> bool {
        ready_in(self.status.as_ref().map(|s| s.conditions.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_with(conditions: serde_json::Value) -> PushSecret {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret",
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"secretStoreRefs": [{"name": "s"}], "selector": {"secret": {"name": "x"}}},
            "status": {"conditions": conditions}
        }))
        .unwrap()
    }

    #[test]
    fn only_a_true_ready_condition_counts() {
        assert!(
            push_with(serde_json::json!([{"type": "Ready", "status": "True", "reason": "Synced"}]))
                .is_ready()
        );
        assert!(
            !push_with(
                serde_json::json!([{"type": "Ready", "status": "False", "reason": "Errored"}])
            )
            .is_ready()
        );
        assert!(!push_with(serde_json::json!([{"type": "Other", "status": "True"}])).is_ready());
        assert!(!push_with(serde_json::json!([])).is_ready());
    }
}
