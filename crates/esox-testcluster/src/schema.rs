//! Adapter to `esox-schema` (structural check, defaulting, pruning, validation of custom
//! resources). That crate is written in parallel; until it exports the functions named in its
//! brief, these adapters report that schema processing is unavailable, and custom resources are
//! stored without schema validation (see `schema_validation_available`).

use serde_json::Value;

use crate::resources::ResourceInfo;
use crate::status::ApiResult;

/// Whether custom resources are validated against their CRD schema.
pub fn schema_validation_available() -> bool {
    false
}

/// (reason, field path, message) of each structural-schema violation.
pub(crate) fn structural_errors(schema: &Value) -> Vec<(String, String, String)> {
    let _ = schema;
    Vec::new()
}

/// Defaults, prunes and validates a custom resource against its version's schema.
pub(crate) fn admit_custom(info: &ResourceInfo, old: Option<&Value>, obj: &mut Value) -> ApiResult<()> {
    let _ = (info, old, obj);
    Ok(())
}
