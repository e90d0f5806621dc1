//! Watch: a stream of newline-delimited JSON events (see "API concepts: efficient detection of
//! changes"). Starts from the current state or a resourceVersion in the retained history,
//! answers an expired version with an ERROR event carrying 410 Expired, sends bookmarks when
//! asked, and ends at timeoutSeconds or when the cluster cuts watches.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::objects::{matching, render, selectors};
use super::{Body, RenderAs, Req, Target};
use crate::resources::ResourceInfo;
use crate::state::State;
use crate::status::{ApiError, ApiResult};
use crate::store::{Event, EventType, StoreError};

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn event_line(info: &ResourceInfo, how: RenderAs, kind: &str, obj: &Value) -> Bytes {
    line(&json!({"type": kind, "object": render(info, how, obj)}))
}

fn bookmark(info: &ResourceInfo, how: RenderAs, rv: u64, initial_end: bool) -> Bytes {
    let (kind, av) = match how {
        RenderAs::Metadata => (
            "PartialObjectMetadata".to_string(),
            "meta.k8s.io/v1".to_string(),
        ),
        _ => (info.kind.clone(), info.api_version()),
    };
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        &json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": av, "metadata": metadata}}),
    )
}

pub(super) fn watch(state: Arc<State>, r: &Req, t: &Target) -> ApiResult<Response<Body>> {
    let info = t.info.clone();
    let how = if r.render_as() == RenderAs::Metadata {
        RenderAs::Metadata
    } else {
        RenderAs::Full
    };
    let (ls, fs) = selectors(r, &info)?;
    let bookmarks = matches!(r.q("allowWatchBookmarks"), Some("true" | "1"));
    let timeout = r
        .q("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let send_initial = matches!(r.q("sendInitialEvents"), Some("true"));
    let rv_param = r.q("resourceVersion").unwrap_or("");
    let ns = t.namespace.clone();
    let gr = info.gr();

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut initial: Vec<Bytes> = Vec::new();
    let (history, mut events, start_rv) = if rv_param.is_empty() || rv_param == "0" || send_initial
    {
        let (items, list_rv) = matching(&state, r, t)?;
        for it in &items {
            initial.push(event_line(&info, how, "ADDED", it));
        }
        if send_initial && bookmarks {
            initial.push(bookmark(&info, how, list_rv, true));
        }
        let (h, rx) = state
            .store
            .watch_from(list_rv)
            .map_err(|e| ApiError::internal(format!("{e:?}")))?;
        (h, rx, list_rv)
    } else {
        let rv: u64 = rv_param
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv_param}")))?;
        match state.store.watch_from(rv) {
            Ok((h, rx)) => (h, rx, rv),
            Err(StoreError::TooOld { oldest }) => {
                let status = ApiError::gone(format!(
                    "too old resource version: {rv} ({})",
                    oldest.saturating_sub(1)
                ))
                .to_status();
                initial.push(line(&json!({"type": "ERROR", "object": status})));
                let body = StreamBody::new(futures::stream::iter(
                    initial
                        .into_iter()
                        .map(|b| Ok::<_, Infallible>(Frame::data(b))),
                ));
                return Ok(stream_response(body.boxed()));
            }
            Err(e) => return Err(ApiError::internal(format!("{e:?}"))),
        }
    };
    let mut cut = state.watch_cut.subscribe();
    let interval = state.bookmark_interval;
    // The event type this watcher sees, if any: a change that moves an object into or out of
    // the selection reads as ADDED or DELETED, as the real watch cache reports it.
    let accept = move |e: &Event| -> Option<&'static str> {
        if e.gr != gr || (!ns.is_empty() && e.namespace != ns) {
            return None;
        }
        let now = ls.matches(&e.object) && fs.matches(&e.object);
        match (e.kind, e.previous.as_deref()) {
            (EventType::Modified, Some(prev)) => {
                let before = ls.matches(prev) && fs.matches(prev);
                match (before, now) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
            (kind, _) => now.then_some(kind.as_str()),
        }
    };
    tokio::spawn(async move {
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let mut last_rv = start_rv;
        for e in history {
            last_rv = e.rv;
            if let Some(kind) = accept(&e)
                && tx
                    .send(event_line(&info, how, kind, &e.object))
                    .await
                    .is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = cut.changed() => return,
                _ = tx.closed() => return,
                _ = tick.tick(), if bookmarks => {
                    if tx.send(bookmark(&info, how, last_rv, false)).await.is_err() {
                        return;
                    }
                }
                ev = events.recv() => match ev {
                    Ok(e) => {
                        if e.rv <= last_rv {
                            continue;
                        }
                        last_rv = e.rv;
                        if let Some(kind) = accept(&e)
                            && tx.send(event_line(&info, how, kind, &e.object)).await.is_err()
                        {
                            return;
                        }
                    }
                    // A watcher that fell behind is closed; the client resumes from its last version.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Ok(stream_response(StreamBody::new(stream).boxed()))
}

fn stream_response(body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache, private"),
    );
    resp
}
