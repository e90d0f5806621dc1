//! The HTTP client of one Vault server: hyper's pooled client over rustls (the crates kube
//! already links), with the store's CA or the system roots. Certificates are always verified;
//! every request has a deadline and every response body a size bound, because the server is
//! outside esox's trust.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret as _, SecretString};

use crate::ProviderError;

/// Deadline of one request, response body included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest response body read; a KV secret is at most a few hundred KiB in practice, a
/// LIST of a big folder a few MiB.
pub(crate) const MAX_BODY: usize = 16 << 20;

const NAMESPACE_HEADER: &str = "x-vault-namespace";
const TOKEN_HEADER: &str = "x-vault-token";
const INDEX_HEADER: &str = "x-vault-index";
const INCONSISTENT_HEADER: &str = "x-vault-inconsistent";

/// How to reach a server, as the store describes it.
pub(crate) struct HttpConfig {
    /// `spec.provider.vault.server`.
    pub server: String,
    /// PEM CA bundle from `caBundle` / `caProvider`; the system roots when `None`.
    pub ca_pem: Option<Vec<u8>>,
    /// mTLS identity from `tls` (and the cert login method): PEM certificate chain and key.
    pub client_identity: Option<(Vec<u8>, SecretString)>,
    /// `headers`, sent with every request.
    pub headers: Vec<(String, String)>,
    /// `namespace`, the default `X-Vault-Namespace`.
    pub namespace: Option<String>,
    pub read_your_writes: bool,
    pub forward_inconsistent: bool,
}

/// One request. `path` is the API path after `/v1/`, already escaped.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub body: Option<serde_json::Value>,
    pub token: Option<&'a SecretString>,
    /// Overrides the configured namespace (login to `auth.namespace`).
    pub namespace: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: None,
            body: None,
            token: None,
            namespace: None,
        }
    }

    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn token(mut self, token: &'a SecretString) -> Self {
        self.token = Some(token);
        self
    }

    pub fn namespace(mut self, namespace: Option<&'a str>) -> Self {
        self.namespace = namespace;
        self
    }
}

/// A response: status and (bounded) body.
pub(crate) struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Response {
    /// The body as JSON; `Null` when empty (204) or not JSON.
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Vault's `errors` array, joined; empty when there is none.
    pub fn errors(&self) -> String {
        let json = self.json();
        let Some(errors) = json.get("errors").and_then(|e| e.as_array()) else {
            return String::new();
        };
        let joined = errors
            .iter()
            .filter_map(|e| e.as_str())
            .map(tidy_error)
            .collect::<Vec<_>>()
            .join("; ");
        shorten(&joined)
    }
}

/// One of Vault's error texts on one line: whitespace collapsed, and the "1 error occurred:
/// * ..." wrapping of Go's multierror reduced to its items.
fn tidy_error(e: &str) -> String {
    let line = e.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.split_once("occurred: * ") {
        Some((head, items)) if head.ends_with("error ") || head.ends_with("errors ") => {
            items.replace(" * ", "; ")
        }
        _ => line,
    }
}

/// Keeps a server's message short and printable in a status condition.
fn shorten(s: &str) -> String {
    const MAX: usize = 300;
    let cleaned: String = s.chars().filter(|c| !c.is_control()).collect();
    if cleaned.chars().count() <= MAX {
        return cleaned;
    }
    let mut out: String = cleaned.chars().take(MAX).collect();
    out.push('…');
    out
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the response body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("{0}")]
    Failed(#[source] crate::error::Source),
}

/// The client of one server; cheap to share.
pub(crate) struct VaultHttp {
    base: String,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    headers: HeaderMap,
    namespace: Option<HeaderValue>,
    /// The last `X-Vault-Index` seen, replayed when `readYourWrites` is set.
    index: Option<Mutex<Option<HeaderValue>>>,
    /// Deadline of one request ([`REQUEST_TIMEOUT`]; shorter in tests).
    timeout: Duration,
}

impl VaultHttp {
    pub fn new(config: HttpConfig) -> Result<Arc<Self>, ProviderError> {
        let base = config.server.trim_end_matches('/').to_owned();
        let uri: Uri = base.parse().map_err(|e| {
            ProviderError::InvalidConfig(format!(
                "spec.provider.vault.server {base:?} is not a URL ({e}): write it as https://vault.example.com:8200"
            ))
        })?;
        match uri.scheme_str() {
            Some("https" | "http") if uri.host().is_some() => {}
            _ => {
                return Err(ProviderError::InvalidConfig(format!(
                    "spec.provider.vault.server {base:?} needs an http:// or https:// scheme and a host, such as https://vault.example.com:8200"
                )));
            }
        }
        let tls = tls_config(config.ca_pem.as_deref(), config.client_identity.as_ref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(REQUEST_TIMEOUT));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ProviderError::InvalidConfig(format!(
                    "spec.provider.vault.headers: {name:?} is not a valid HTTP header name"
                ))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                ProviderError::InvalidConfig(format!(
                    "spec.provider.vault.headers.{name}: the value is not a valid HTTP header value (printable ASCII only)"
                ))
            })?;
            // Header values may carry credentials (an API gateway's key).
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        // What Vault's own client sends: proxies in front of Vault use it to tell API calls
        // from browser requests.
        headers.insert(
            HeaderName::from_static("x-vault-request"),
            HeaderValue::from_static("true"),
        );
        if config.forward_inconsistent {
            headers.insert(
                HeaderName::from_static(INCONSISTENT_HEADER),
                HeaderValue::from_static("forward-active-node"),
            );
        }
        let namespace = config
            .namespace
            .filter(|n| !n.is_empty())
            .map(|n| {
                HeaderValue::from_str(&n).map_err(|_| {
                    ProviderError::InvalidConfig(format!(
                        "spec.provider.vault.namespace {n:?} is not a valid namespace name"
                    ))
                })
            })
            .transpose()?;
        Ok(Arc::new(Self {
            base,
            client,
            headers,
            namespace,
            index: config.read_your_writes.then(|| Mutex::new(None)),
            timeout: REQUEST_TIMEOUT,
        }))
    }

    /// The server, for messages.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// Sends `req` and reads the whole (bounded) response.
    pub async fn send(&self, req: Request<'_>) -> Result<Response, TransportError> {
        let mut uri = format!("{}/v1/{}", self.base, req.path.trim_start_matches('/'));
        if let Some(q) = &req.query {
            uri.push('?');
            uri.push_str(q);
        }
        let body = match &req.body {
            Some(v) => {
                Bytes::from(serde_json::to_vec(v).map_err(|e| TransportError::Failed(e.into()))?)
            }
            None => Bytes::new(),
        };
        let mut builder = hyper::Request::builder()
            .method(req.method.clone())
            .uri(uri);
        let headers = builder
            .headers_mut()
            .ok_or_else(|| TransportError::Failed("invalid request URI".into()))?;
        headers.extend(self.headers.clone());
        let namespace = match req.namespace {
            Some(n) if !n.is_empty() => Some(
                HeaderValue::from_str(n)
                    .map_err(|_| TransportError::Failed("invalid namespace name".into()))?,
            ),
            Some(_) => None,
            None => self.namespace.clone(),
        };
        if let Some(ns) = namespace {
            headers.insert(HeaderName::from_static(NAMESPACE_HEADER), ns);
        }
        if let Some(token) = req.token {
            let mut value = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                TransportError::Failed("the token is not a valid header value".into())
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(TOKEN_HEADER), value);
        }
        if let Some(index) = &self.index
            && let Some(v) = index.lock().unwrap_or_else(PoisonError::into_inner).clone()
        {
            headers.insert(HeaderName::from_static(INDEX_HEADER), v);
        }
        if req.body.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| TransportError::Failed(e.into()))?;
        let idempotent = matches!(req.method, Method::GET | Method::HEAD);
        let exchange = async {
            let retry = idempotent.then(|| clone_request(&request));
            let response = match self.client.request(request).await {
                Ok(r) => r,
                // A pooled connection the server closed meanwhile (a restart, a seal, an idle
                // timeout shorter than ours): a read is sent once more on a new connection.
                Err(e) if is_stale_connection(&e) && retry.is_some() => {
                    let Some(again) = retry else {
                        return Err(TransportError::Failed(e.into()));
                    };
                    self.client
                        .request(again)
                        .await
                        .map_err(|e| TransportError::Failed(e.into()))?
                }
                Err(e) => return Err(TransportError::Failed(e.into())),
            };
            let status = response.status();
            if let Some(index) = &self.index
                && let Some(v) = response.headers().get(INDEX_HEADER)
            {
                *index.lock().unwrap_or_else(PoisonError::into_inner) = Some(v.clone());
            }
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        TransportError::TooLarge
                    } else {
                        TransportError::Failed(e)
                    }
                })?
                .to_bytes();
            Ok(Response { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| TransportError::Timeout(self.timeout))?
    }
}

fn clone_request(r: &hyper::Request<Full<Bytes>>) -> hyper::Request<Full<Bytes>> {
    let mut out = hyper::Request::new(Full::new(Bytes::new()));
    *out.method_mut() = r.method().clone();
    *out.uri_mut() = r.uri().clone();
    *out.headers_mut() = r.headers().clone();
    out
}

fn is_stale_connection(e: &hyper_util::client::legacy::Error) -> bool {
    super::errors::find_in_chain::<hyper::Error>(e)
        .is_some_and(|h| h.is_incomplete_message() || h.is_canceled())
}

fn tls_config(
    ca_pem: Option<&[u8]>,
    identity: Option<&(Vec<u8>, SecretString)>,
) -> Result<rustls::ClientConfig, ProviderError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for der in crate::auth::pem_certificates(pem, "spec.provider.vault.caBundle")? {
                roots.add(der.into()).map_err(|e| {
                    ProviderError::InvalidConfig(format!(
                        "spec.provider.vault CA bundle holds a certificate rustls rejects: {e}"
                    ))
                })?;
            }
        }
        None => {
            // Unreadable system certificates are skipped; an empty store makes every https
            // handshake fail with an "unknown issuer" error that names the fix.
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ignored = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProviderError::Other(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let chain =
                crate::auth::pem_certificates(cert_pem, "spec.provider.vault.tls.certSecretRef")?
                    .into_iter()
                    .map(rustls::pki_types::CertificateDer::from)
                    .collect();
            let key = private_key(key_pem)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                ProviderError::InvalidConfig(format!(
                    "the client certificate and key do not form a usable TLS identity: {e}"
                ))
            })?
        }
    };
    Ok(config)
}

/// The first private key of a PEM bundle.
fn private_key(
    pem_text: &SecretString,
) -> Result<rustls::pki_types::PrivateKeyDer<'static>, ProviderError> {
    let blocks = pem::parse_many(pem_text.expose_secret().as_bytes()).map_err(|_| {
        ProviderError::InvalidConfig(
            "the client key is not valid PEM: store the PEM private key (-----BEGIN PRIVATE KEY-----)".into(),
        )
    })?;
    for block in blocks {
        let der = block.contents().to_vec();
        let key = match block.tag() {
            "PRIVATE KEY" => rustls::pki_types::PrivateKeyDer::Pkcs8(der.into()),
            "RSA PRIVATE KEY" => rustls::pki_types::PrivateKeyDer::Pkcs1(der.into()),
            "EC PRIVATE KEY" => rustls::pki_types::PrivateKeyDer::Sec1(der.into()),
            _ => continue,
        };
        return Ok(key);
    }
    Err(ProviderError::InvalidConfig(
        "the client key holds no PEM private key block (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)".into(),
    ))
}

/// Escapes each segment of a Vault path for a URL, keeping the `/` between them.
pub(crate) fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_per_segment() {
        assert_eq!(escape_path("secret/data/app/db"), "secret/data/app/db");
        assert_eq!(escape_path("kv/a b/c?d#e%"), "kv/a%20b/c%3Fd%23e%25");
        assert_eq!(escape_path("kv/é"), "kv/%C3%A9");
    }

    #[test]
    fn bad_servers_name_the_field() {
        for server in ["vault:8200", "ftp://vault", "not a url"] {
            let err = VaultHttp::new(plain(server.into()))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("spec.provider.vault.server"),
                "{server}: {err}"
            );
        }
    }

    #[test]
    fn multierror_wrapping_is_reduced_to_its_items() {
        assert_eq!(
            tidy_error("1 error occurred:\n\t* permission denied\n\n"),
            "permission denied"
        );
        assert_eq!(tidy_error("2 errors occurred:\n\t* a\n\t* b\n\n"), "a; b");
        assert_eq!(tidy_error("  plain\tmessage "), "plain message");
    }

    fn plain(server: String) -> HttpConfig {
        HttpConfig {
            server,
            ca_pem: None,
            client_identity: None,
            headers: vec![],
            namespace: None,
            read_your_writes: false,
            forward_inconsistent: false,
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepts and holds connections without ever answering.
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let http = VaultHttp::new(plain(format!("http://{addr}"))).expect("client");
        let mut http = Arc::try_unwrap(http).ok().expect("sole owner");
        http.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let err = http
            .send(Request::new(Method::GET, "sys/health"))
            .await
            .err()
            .expect("no answer");
        assert!(matches!(err, TransportError::Timeout(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        held.abort();
    }

    #[test]
    fn server_messages_are_shortened_and_printable() {
        let long = "x".repeat(1000);
        assert_eq!(shorten(&long).chars().count(), 301);
        assert_eq!(shorten("a\u{7}b"), "ab");
    }
}
