//! Credentials and trust material that every provider resolves the same way, with esox's own
//! client:
//! - [`refs`]: ESO's namespace rules for the Secrets and ConfigMaps a store refers to, and
//!   reading them;
//! - [`tokens`]: ServiceAccount tokens from the TokenRequest API, cached;
//! - [`ca`]: a store's CA from `caBundle` or `caProvider`.

pub mod ca;
pub mod refs;
pub mod tokens;

pub use ca::{CaSource, ca_bundle_pem, pem_certificates};
pub use refs::{Scope, config_map_key, secret_key};
pub use tokens::{TokenCache, TokenKey};
