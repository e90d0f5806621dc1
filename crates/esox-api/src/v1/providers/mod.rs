//! Per-provider configuration blocks of `SecretStore.spec.provider`.

pub mod aws;
pub mod azurekv;
pub mod fake;
pub mod gcpsm;
pub mod kubernetes;
pub mod vault;
pub mod webhook;
