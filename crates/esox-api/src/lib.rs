//! esox API types: the `external-secrets.io` and `generators.external-secrets.io` kinds,
//! field for field compatible with ESO v2.9, and the CRDs generated from them.

pub mod crd;
pub mod generators;
pub mod labels;
pub mod manifest;
pub mod meta;
pub mod schema_ext;
pub mod v1;
pub mod v1alpha1;
