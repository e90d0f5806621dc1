//! Vault's answers as [`ProviderError`]s that say what to fix. Messages name the server, the
//! path and Vault's own error text (which never holds a token or a secret value: Vault does
//! not echo request bodies or headers), never a credential.

use http::StatusCode;

use super::http::{Response, TransportError};
use crate::ProviderError;

/// A request that got no answer.
pub(crate) fn transport(server: &str, what: &str, e: TransportError) -> ProviderError {
    let detail = match &e {
        TransportError::Timeout(d) => format!("no answer within {}s", d.as_secs()),
        TransportError::TooLarge => e.to_string(),
        TransportError::Failed(source) => cause_of(source.as_ref()),
    };
    ProviderError::Unavailable {
        message: format!("{what}: cannot reach the Vault server {server}: {detail}"),
        source: Some(Box::new(e)),
    }
}

/// The innermost causes of a connection failure, with the TLS case spelled out (hyper's own
/// message is "client error (Connect)").
fn cause_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return format!(
                "TLS handshake failed ({tls}): set spec.provider.vault.caBundle or caProvider to the CA that signed the server's certificate"
            );
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref()
                && let Some(tls) = inner.downcast_ref::<rustls::Error>()
            {
                return format!(
                    "TLS handshake failed ({tls}): set spec.provider.vault.caBundle or caProvider to the CA that signed the server's certificate"
                );
            }
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return "connection refused (is the server running and the port right?)".into();
            }
        }
        last = err.to_string();
        current = err.source();
    }
    last
}

/// Where a failed request was going, for the messages.
pub(crate) struct Context<'a> {
    pub server: &'a str,
    /// What was attempted, such as `cannot read secret at secret/data/app`.
    pub what: &'a str,
    /// The Vault path, for the policy hint.
    pub path: &'a str,
    /// The capability a policy must grant on `path` (`read`, `create/update`, `list`, ...).
    pub capability: &'a str,
}

/// Any non-success answer.
pub(crate) fn status(ctx: &Context<'_>, resp: &Response) -> ProviderError {
    let errors = resp.errors();
    let said = if errors.is_empty() {
        String::new()
    } else {
        format!(": {errors}")
    };
    let code = resp.status.as_u16();
    let source = || -> crate::error::Source { format!("Vault answered {code}{said}").into() };
    match resp.status {
        StatusCode::FORBIDDEN => ProviderError::Forbidden {
            message: format!(
                "{}: Vault at {} denied it (403{said}): the token's policy must grant {} on {} (or the token expired or was revoked)",
                ctx.what, ctx.server, ctx.capability, ctx.path
            ),
            source: Some(source()),
        },
        StatusCode::SERVICE_UNAVAILABLE if errors.to_ascii_lowercase().contains("sealed") => {
            ProviderError::Unavailable {
                message: format!(
                    "{}: the Vault server {} is sealed: unseal it (vault operator unseal); esox retries",
                    ctx.what, ctx.server
                ),
                source: Some(source()),
            }
        }
        StatusCode::BAD_REQUEST if errors.contains("check-and-set") => ProviderError::Conflict {
            message: format!(
                "{}: check-and-set failed at {} ({}): the secret changed meanwhile; esox retries",
                ctx.what, ctx.path, errors
            ),
            source: Some(source()),
        },
        s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
            ProviderError::Unavailable {
                message: format!(
                    "{}: Vault at {} answered {code}{said}",
                    ctx.what, ctx.server
                ),
                source: Some(source()),
            }
        }
        _ => ProviderError::Refused {
            message: format!(
                "{}: Vault at {} answered {code}{said}",
                ctx.what, ctx.server
            ),
            source: source(),
        },
    }
}

/// Whether a 404 says that no engine is mounted at the path (as opposed to a missing secret).
pub(crate) fn is_unmounted(resp: &Response) -> bool {
    if resp.status != StatusCode::NOT_FOUND {
        return false;
    }
    let errors = resp.errors();
    errors.contains("no handler for route") || errors.contains("unsupported path")
}
