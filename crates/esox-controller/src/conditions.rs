//! Status conditions with ESO's reasons and Kubernetes' `lastTransitionTime` rule.

use esox_api::v1::Condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const READY: &str = "Ready";

/// ExternalSecret reasons (ESO `externalsecret_types.go`).
pub mod es {
    pub const SECRET_SYNCED: &str = "SecretSynced";
    pub const SECRET_SYNCED_ERROR: &str = "SecretSyncedError";
    pub const SECRET_DELETED: &str = "SecretDeleted";
    pub const SECRET_MISSING: &str = "SecretMissing";
}

/// Store reasons (ESO `secretstore_types.go`).
pub mod store {
    pub const VALID: &str = "Valid";
    pub const INVALID_PROVIDER_CONFIG: &str = "InvalidProviderConfig";
    pub const VALIDATION_UNKNOWN: &str = "ValidationUnknown";
}

/// Sets the condition of `type_`, keeping `lastTransitionTime` when the status does not change.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
) {
    let status = if status { "True" } else { "False" };
    let now = Some(Time(jiff::Timestamp::now()));
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.to_owned();
            c.reason = Some(reason.to_owned());
            c.message = Some(message.to_owned());
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            last_transition_time: now,
        }),
    }
}

/// Whether the `Ready` condition is `True`.
pub fn is_ready(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == READY && c.status == "True")
}
