//! Watching the remote namespace's Secrets (beyond ESO), so ExternalSecrets can refresh as soon
//! as a source Secret changes. Only metadata is fetched: names are all that is needed, and
//! Secret values then never travel over the watch.
//!
//! The watch runs with the credentials its connection had when it started. When the server
//! stops accepting them (a ServiceAccount token expired, a token Secret was rotated or revoked)
//! retrying cannot help, so the stream ends: the controller then starts a new watch from a
//! fresh connection the next time the source is read.

use std::collections::HashMap;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};

use super::connect::Connection;
use crate::{RemoteChange, RemoteEvent};

/// Changes in `namespace`: one [`RemoteEvent::Changed`] per applied or deleted Secret, starting
/// with every existing Secret once, then [`RemoteEvent::Listed`]; after a re-list, only the
/// Secrets whose resourceVersion differs from before (deleted ones included). Errors are
/// retried with backoff inside the stream.
pub(crate) fn watch(
    connection: &Connection,
    namespace: &str,
) -> Option<BoxStream<'static, RemoteEvent>> {
    let client = match connection.watch_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(server = %connection.server, error = %e, "cannot watch remote secrets");
            return None;
        }
    };
    let api: Api<PartialObjectMeta<Secret>> = Api::namespaced(client, namespace);
    let server = connection.server.clone();
    let ns = namespace.to_owned();
    let stream = crate::relisting_watcher::relisting_watcher(api, watcher::Config::default())
        .backoff(crate::watch_backoff::WatchBackoff::default())
        .take_while(move |event| {
            let go_on = match event {
                Err(e) if credentials_rejected(e) => {
                    tracing::info!(server = %server, namespace = %ns, error = %e, "remote secret watch stopped: the server no longer accepts its credentials");
                    false
                }
                Err(e) => {
                    tracing::debug!(server = %server, namespace = %ns, error = %e, "remote secret watch interrupted; retrying");
                    true
                }
                Ok(_) => true,
            };
            futures::future::ready(go_on)
        })
        .scan(Versions::default(), |versions, event| {
            let out = match event {
                Ok(event) => versions.apply(event),
                Err(_) => Vec::new(),
            };
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten();
    Some(stream.boxed())
}

/// The resourceVersion of every Secret the watch has seen, so that a re-list reports only what
/// changed while the watch was down.
#[derive(Default)]
struct Versions {
    current: HashMap<String, String>,
    /// What the re-list in progress has listed so far.
    listing: Option<HashMap<String, String>>,
}

impl Versions {
    fn apply(&mut self, event: Event<PartialObjectMeta<Secret>>) -> Vec<RemoteEvent> {
        let changed = |key: String, version: Option<String>| {
            RemoteEvent::Changed(RemoteChange { key, version })
        };
        match event {
            Event::Init => {
                self.listing = Some(HashMap::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                let (Some(key), version) = (obj.metadata.name, obj.metadata.resource_version)
                else {
                    return Vec::new();
                };
                let version = version.unwrap_or_default();
                let out = (self.current.get(&key) != Some(&version))
                    .then(|| changed(key.clone(), Some(version.clone())));
                self.listing
                    .get_or_insert_with(HashMap::new)
                    .insert(key, version);
                out.into_iter().collect()
            }
            Event::InitDone => {
                let listed = self.listing.take().unwrap_or_default();
                let old = std::mem::replace(&mut self.current, listed);
                let mut out: Vec<_> = old
                    .into_keys()
                    .filter(|k| !self.current.contains_key(k))
                    .map(|k| changed(k, None))
                    .collect();
                out.push(RemoteEvent::Listed);
                out
            }
            Event::Apply(obj) => {
                let Some(key) = obj.metadata.name else {
                    return Vec::new();
                };
                let version = obj.metadata.resource_version.unwrap_or_default();
                self.current.insert(key.clone(), version.clone());
                vec![changed(key, Some(version))]
            }
            Event::Delete(obj) => {
                let Some(key) = obj.metadata.name else {
                    return Vec::new();
                };
                self.current.remove(&key);
                vec![changed(key, None)]
            }
        }
    }
}

/// 401 from the list or the watch: the credentials are no longer valid.
fn credentials_rejected(e: &watcher::Error) -> bool {
    match e {
        // A real kube-apiserver answers a watch whose token it refuses with an indented JSON
        // Status, which kube reads line by line and reports as undecodable lines instead of a
        // 401. Nothing else sends a watch stream that does not decode, so it ends the same way:
        // the next read starts a new watch with the store's current credentials.
        watcher::Error::WatchFailed(kube::Error::SerdeError(_)) => true,
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => crate::kube_errors::is_unauthorized(err),
        watcher::Error::WatchError(status) => status.code == 401,
        watcher::Error::NoResourceVersion => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, rv: &str) -> PartialObjectMeta<Secret> {
        let mut m = PartialObjectMeta::<Secret>::default();
        m.metadata.name = Some(name.to_owned());
        m.metadata.resource_version = Some(rv.to_owned());
        m
    }

    fn changed(key: &str, version: Option<&str>) -> RemoteEvent {
        RemoteEvent::Changed(RemoteChange {
            key: key.to_owned(),
            version: version.map(str::to_owned),
        })
    }

    #[test]
    fn a_relist_reports_only_what_changed_while_the_watch_was_down() {
        let mut v = Versions::default();
        let mut all = Vec::new();
        for e in [
            Event::Init,
            Event::InitApply(secret("a", "1")),
            Event::InitApply(secret("b", "2")),
            Event::InitApply(secret("c", "3")),
            Event::InitDone,
        ] {
            all.extend(v.apply(e));
        }
        assert_eq!(
            all,
            [
                changed("a", Some("1")),
                changed("b", Some("2")),
                changed("c", Some("3")),
                RemoteEvent::Listed
            ]
        );
        assert_eq!(
            v.apply(Event::Apply(secret("a", "4"))),
            [changed("a", Some("4"))]
        );
        // Down: b changed, c deleted, d created; a untouched.
        let mut all = Vec::new();
        for e in [
            Event::Init,
            Event::InitApply(secret("a", "4")),
            Event::InitApply(secret("b", "5")),
            Event::InitApply(secret("d", "6")),
            Event::InitDone,
        ] {
            all.extend(v.apply(e));
        }
        assert_eq!(
            all,
            [
                changed("b", Some("5")),
                changed("d", Some("6")),
                changed("c", None),
                RemoteEvent::Listed
            ]
        );
        assert_eq!(
            v.apply(Event::Delete(secret("a", "7"))),
            [changed("a", None)]
        );
    }
}
