//! The HTTPS listener: accepts TLS connections and serves HTTP/1.1 on them until stopped.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::Error;
use crate::state::State;

/// A running listener; dropping it does not stop it, `stop` does.
pub(crate) struct Listener {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub(crate) async fn start(
        state: Arc<State>,
        addr: SocketAddr,
        tls: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Bind { addr, source: e })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Bind { addr, source: e })?;
        let acceptor = TlsAcceptor::from(tls);
        let task = tokio::spawn(async move {
            // Connections live in the set so that stopping the listener also drops them.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        let _ = tcp.set_nodelay(true);
                        let acceptor = acceptor.clone();
                        let state = state.clone();
                        conns.spawn(async move {
                            let Ok(tls) = acceptor.accept(tcp).await else { return };
                            let peer = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|der| {
                                let certs = state.client_certs.lock().unwrap_or_else(|p| p.into_inner());
                                certs.get(der.as_ref()).cloned().ok_or(())
                            });
                            let svc = service_fn(move |req| {
                                let state = state.clone();
                                let peer = peer.clone();
                                async move { Ok::<_, std::convert::Infallible>(crate::handlers::handle(state, req, peer).await) }
                            });
                            let conn = hyper::server::conn::http1::Builder::new()
                                .keep_alive(true)
                                .serve_connection(TokioIo::new(tls), svc);
                            if let Err(e) = conn.await {
                                tracing::trace!(error = %e, "connection ended");
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Self { addr, task })
    }

    /// Stops accepting and drops every open connection (and so every watch).
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
