//! `external-secrets.io/v1`, the storage version (also served as the deprecated `v1beta1`).

pub mod clusterexternalsecret;
pub mod common;
pub mod externalsecret;
pub mod providers;
pub mod secretstore;

pub use clusterexternalsecret::*;
pub use externalsecret::*;
pub use secretstore::*;
