//! An HTTP(S) client for providers that call plain HTTP APIs (the webhook provider and
//! generator): TLS is always verified, against the CA the store names or the system roots;
//! the whole exchange is bounded in time and the response body in size, because the answer
//! comes from a server esox does not control.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

use crate::ProviderError;
use crate::error::Source;

/// Largest response body read, like the size of a Kubernetes Secret (1 MiB).
pub const DEFAULT_MAX_RESPONSE: usize = 1 << 20;
/// Deadline of one exchange when the store sets none (Go's client would wait forever).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client with its TLS trust, deadline and response bound. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_response: usize,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_response", &self.max_response)
            .finish_non_exhaustive()
    }
}

/// A request, after templating. Its URL, headers and body may hold credentials: it is never
/// logged or put in an error.
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The status of an answer, and its body when the status is a success (2xx): the body of
/// an error answer is never read, since it may echo what was sent.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: http::StatusCode,
    pub body: Vec<u8>,
}

/// Why an exchange failed. Messages name the cause, never the URL, a header or a body.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The templated request is not a valid HTTP request.
    #[error("{0}")]
    InvalidRequest(String),
    /// No complete answer within the deadline.
    #[error("no answer within {0:?} (context deadline exceeded)")]
    Timeout(Duration),
    /// The answer's body is larger than the bound.
    #[error("the response body is larger than {0} bytes")]
    TooLarge(usize),
    /// Connection, TLS or protocol failure.
    #[error("{message}")]
    Transport {
        message: String,
        #[source]
        source: Source,
    },
}

impl HttpClient {
    /// A client trusting `ca_pem` (PEM certificates, read from `field`) or, when `None`, the
    /// system roots.
    pub fn new(
        ca_pem: Option<&[u8]>,
        field: &str,
        timeout: Duration,
        max_response: usize,
    ) -> Result<Self, ProviderError> {
        let tls = tls_config(ca_pem, field)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            client,
            timeout,
            max_response,
        })
    }

    /// Sends `request` and reads the answer, all within the deadline.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = build(request)?;
        let limit = self.max_response;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| transport("failed to call endpoint", e))?;
            let status = response.status();
            if !status.is_success() {
                return Ok(HttpResponse {
                    status,
                    body: Vec::new(),
                });
            }
            let collected = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        HttpError::TooLarge(limit)
                    } else {
                        HttpError::Transport {
                            message: format!("failed to read the response: {}", chain(&*e)),
                            source: e,
                        }
                    }
                })?;
            Ok(HttpResponse {
                status,
                body: collected.to_bytes().to_vec(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(HttpError::Timeout(self.timeout)))
    }
}

fn build(request: HttpRequest) -> Result<http::Request<Full<Bytes>>, HttpError> {
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
        HttpError::InvalidRequest(format!("{:?} is not an HTTP method", request.method))
    })?;
    let uri: http::Uri = request.url.parse().map_err(|_| {
        HttpError::InvalidRequest("the templated url is not a valid URL".to_owned())
    })?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => {}
        _ => {
            return Err(HttpError::InvalidRequest(
                "the templated url is not an absolute http:// or https:// URL".to_owned(),
            ));
        }
    }
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &request.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            HttpError::InvalidRequest(format!("{name:?} is not a valid header name"))
        })?;
        let value = http::HeaderValue::from_str(value).map_err(|_| {
            HttpError::InvalidRequest(format!(
                "the value of header {name} is not a valid header value (line breaks or control characters)"
            ))
        })?;
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|_| HttpError::InvalidRequest("the request cannot be built".to_owned()))
}

fn transport(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> HttpError {
    HttpError::Transport {
        message: format!("{what}: {}", chain(&e)),
        source: Box::new(e),
    }
}

/// The messages of an error and its causes (hyper's own message is only "client error").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

/// The system's CA certificates, read once per process (every client without a CA of its own
/// would otherwise read the certificate files again). Unreadable ones are skipped: a
/// handshake then fails and says which certificate was not trusted.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, skipped) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, skipped, "system CA certificates loaded");
        roots
    })
}

fn tls_config(ca_pem: Option<&[u8]>, field: &str) -> Result<rustls::ClientConfig, ProviderError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for der in crate::auth::pem_certificates(pem, field)? {
                roots.add(CertificateDer::from(der)).map_err(|e| {
                    ProviderError::InvalidConfig(format!(
                        "{field} holds a certificate that cannot be used as a CA: {e}"
                    ))
                })?;
            }
        }
        None => roots = system_roots().clone(),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProviderError::Other(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
