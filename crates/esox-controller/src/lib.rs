//! The reconcilers of esox: ExternalSecret, SecretStore/ClusterSecretStore, ClusterExternalSecret.
//!
//! Every controller runs in one process ([`runner::run`]); there is no webhook. Watches are chosen
//! so that memory follows what esox manages: ExternalSecrets and stores are cached, Secrets are
//! only watched as metadata and only when they carry esox's managed label, and source namespaces
//! are watched (metadata only) through the stores' own credentials to refresh within a second.

pub mod backoff;
pub mod caches;
pub mod clusterexternalsecret;
pub mod clusterpushsecret;
pub mod conditions;
pub mod context;
pub mod error;
pub mod events;
pub mod externalsecret;
pub mod fanout;
pub mod finalizers;
pub mod generators;
pub mod index;
pub mod leader;
pub mod lenient;
pub mod metrics;
pub mod ownership;
pub mod pushsecret;
pub mod recent_status;
pub mod runner;
pub mod secretstore;
pub mod selector;
pub mod shared_reads;
pub mod source_versions;
pub mod state;
pub mod stores;
mod templating;
pub mod watches;

pub use context::{Context, Options};
pub use error::Error;

/// Log directives esox applies whatever `RUST_LOG` says. kube's client logs the body of every
/// failed API answer (at debug, and at warn when it is not JSON), and the server a store names
/// may be anyone's and put anything there, values and credentials included.
pub const LOG_SAFETY_DIRECTIVES: &[&str] = &["kube_client::client=error"];
