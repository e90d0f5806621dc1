//! The fake provider: static data written in the store itself, for tests and demos.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Static key/value data served as if it came from a remote store.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FakeProvider {
    pub data: Vec<FakeProviderData>,
    /// Forces the store's validation result (0 Ready, 1 Unknown, 2 Error), as ESO's fake provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_result: Option<u8>,
}

/// One entry of the fake store.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FakeProviderData {
    pub key: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

impl std::fmt::Debug for FakeProviderData {
    // The value is a secret even in a fake store: it may be copied from a real one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProviderData")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("version", &self.version)
            .finish()
    }
}
