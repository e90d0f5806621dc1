//! Watching the remote namespace's Secrets (beyond ESO), so ExternalSecrets can refresh as soon
//! as a source Secret changes. Only metadata is fetched: names are all that is needed, and
//! Secret values then never travel over the watch.
//!
//! The watch runs with the credentials its connection had when it started. When the server
//! stops accepting them (a ServiceAccount token expired, a token Secret was rotated or revoked)
//! retrying cannot help, so the stream ends: the controller then starts a new watch from a
//! fresh connection the next time the source is read.

use futures::StreamExt as _;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};

use super::connect::Connection;
use crate::RemoteChange;

/// Changes in `namespace`: one [`RemoteChange`] per applied or deleted Secret, starting with
/// every existing Secret once. Errors are retried with backoff inside the stream.
pub(crate) fn watch(
    connection: &Connection,
    namespace: &str,
) -> Option<BoxStream<'static, RemoteChange>> {
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
        .filter_map(|event| {
            let out = match event {
                Ok(Event::Apply(obj) | Event::Delete(obj) | Event::InitApply(obj)) => obj
                    .metadata
                    .name
                    .map(|key| RemoteChange { key }),
                Ok(Event::Init | Event::InitDone) | Err(_) => None,
            };
            futures::future::ready(out)
        });
    Some(stream.boxed())
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
