//! Pure, I/O-free logic that esox shares with External Secrets Operator (ESO) v2.9.
//!
//! Everything here must produce byte-identical results to ESO's Go code, because users
//! switch from ESO to esox without rewriting their Secrets: hashes in annotations and
//! status fields, converted keys, decoded values and rewritten keys all have to match.
//!
//! Every module is checked against Go itself by `tests/go_oracle.rs`, which builds
//! `tools/core-oracle` (Go's fmt, sha3, encoding/json, encoding/base64, regexp, time,
//! tidwall/gjson and robfig/cron) and compares thousands of generated cases.
//!
//! - [`hash`] covers data-hash, created-by, syncedResourceVersion, field-manager names;
//! - [`keys`] covers ConvertKeys / ReverseKeys / ValidateKeys / nullBytePolicy;
//! - [`decoding`] covers decodingStrategy;
//! - [`rewrite`] covers regexp / merge rewrites, transform through [`rewrite::KeyTemplate`];
//! - [`pipeline`] covers the per-source processing order with ESO's error wrapping;
//! - [`property`] covers Kubernetes provider reads (property, gjson, metadataPolicy, find);
//! - [`push_merge`] covers Kubernetes provider PushSecret writes, deletes, existence;
//! - [`refresh`], [`sync_window`], [`duration`]: refresh decisions and requeues;
//! - [`managed_secret`] covers ESO's label/annotation names and `isSecretValid`;
//! - [`go_json`], [`go_regex`]: Go-compatible JSON encoding and regexp compilation.

pub mod decoding;
pub mod duration;
pub mod go_json;
pub mod go_regex;
pub mod hash;
pub mod keys;
pub mod managed_secret;
pub mod pipeline;
pub mod property;
pub mod push_merge;
pub mod refresh;
pub mod rewrite;
pub mod sync_window;

/// Secret data as Kubernetes stores it: key → raw bytes, iterated in sorted key order
/// (which is also the order Go's `fmt` and `encoding/json` print maps in).
pub type SecretData = std::collections::BTreeMap<String, Vec<u8>>;

/// Labels or annotations.
pub type StringMap = std::collections::BTreeMap<String, String>;
