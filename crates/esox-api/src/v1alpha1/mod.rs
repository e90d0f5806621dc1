//! `external-secrets.io/v1alpha1`: PushSecret and ClusterPushSecret.

pub mod pushsecret;

pub use pushsecret::*;
