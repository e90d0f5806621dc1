//! The metrics and health endpoints of `esox run`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the endpoints report.
pub struct Probes {
    /// The running controllers' context, whose metrics `/metrics` shows. With leader election
    /// each term starts a fresh one, and a follower has none.
    pub metrics: tokio::sync::watch::Receiver<Option<Arc<esox_controller::Context>>>,
    /// Set once the controllers have started.
    pub ready: AtomicBool,
    /// With leader election: the Lease name and this replica's view of it, exported as
    /// controller-runtime's `leader_election_master_status` gauge so that "no leader" can alert.
    pub leader: Option<(
        String,
        tokio::sync::watch::Receiver<esox_controller::leader::LeaderStatus>,
    )>,
}

/// The `/metrics` body: the running controllers' metrics, then the leader gauge.
fn metrics_text(probes: &Probes) -> String {
    let mut text = match probes.metrics.borrow().as_ref() {
        Some(ctx) => ctx.metrics.render(),
        // Scraping a standby must not fail: an empty exposition is valid.
        None => "# this replica is a leader-election standby: no controllers run here\n".to_owned(),
    };
    if let Some((lease, status)) = &probes.leader {
        let leading = u8::from(status.borrow().leading);
        text.push_str(&format!(
            "# HELP leader_election_master_status 1 when this replica holds the named leader-election Lease, 0 while it stands by.\n# TYPE leader_election_master_status gauge\nleader_election_master_status{{name=\"{lease}\"}} {leading}\n"
        ));
    }
    text
}

/// Serves `/metrics` (Prometheus text) or `/healthz` and `/readyz` on `addr` until the task is aborted.
pub async fn serve(
    addr: SocketAddr,
    probes: Arc<Probes>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let probes = probes.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let probes = probes.clone();
                    async move { Ok::<_, Infallible>(respond(&req, &probes)) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }))
}

/// The controllers of the running term that ended before shutdown, if any.
fn ended_controllers(probes: &Probes) -> Option<String> {
    let ended = probes.metrics.borrow().as_ref()?.liveness.ended();
    (!ended.is_empty()).then(|| ended.join(", "))
}

fn respond(req: &Request<hyper::body::Incoming>, probes: &Probes) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics_text(probes),
        ),
        "/healthz" => match ended_controllers(probes) {
            None => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
            // A controller that stopped (a panic, a stream that ended) does nothing until the
            // process restarts: let the kubelet do that.
            Some(ended) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("controllers ended: {ended}\n"),
            ),
        },
        "/readyz" if probes.ready.load(Ordering::Relaxed) => {
            (StatusCode::OK, "text/plain", "ok\n".to_owned())
        }
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "starting\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /healthz or /readyz\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn healthz_fails_once_a_controller_ended() {
        let client = kube::Client::try_from(kube::Config::new(
            "https://127.0.0.1:9".parse().expect("uri"),
        ))
        .expect("client");
        let (ctx, _triggers) = esox_controller::Context::new(
            client,
            Default::default(),
            esox_providers::LocalCluster {
                url: "https://127.0.0.1:9".into(),
                ca_pem: None,
            },
        );
        let (_tx, metrics) = tokio::sync::watch::channel(Some(ctx.clone()));
        let probes = Probes {
            metrics,
            ready: AtomicBool::new(true),
            leader: None,
        };
        assert_eq!(ended_controllers(&probes), None);
        ctx.liveness.record("pushsecret (panicked)".into());
        assert_eq!(
            ended_controllers(&probes).as_deref(),
            Some("pushsecret (panicked)")
        );
        // A standby runs no controllers: nothing can have ended.
        let (_tx, metrics) = tokio::sync::watch::channel(None);
        let standby = Probes {
            metrics,
            ready: AtomicBool::new(true),
            leader: None,
        };
        assert_eq!(ended_controllers(&standby), None);
    }
}
