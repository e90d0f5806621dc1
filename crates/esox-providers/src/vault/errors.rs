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

/// The innermost causes of a connection failure, with the TLS and refused cases spelled out
/// (hyper's own message is "client error (Connect)").
fn cause_of(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(tls) = find_in_chain::<rustls::Error>(e) {
        return format!(
            "TLS handshake failed ({tls}): set spec.provider.vault.caBundle or caProvider to the CA that signed the server's certificate"
        );
    }
    if find_in_chain::<std::io::Error>(e)
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    {
        return "connection refused (is the server running and the port right?)".into();
    }
    let mut last = e.to_string();
    let mut current = e.source();
    while let Some(err) = current {
        last = err.to_string();
        current = err.source();
    }
    last
}

/// The first error of type `T` in `e`'s chain. Wrappers that hide what they wrap from
/// `source()` (an `io::Error`, a boxed error handed out as itself) are looked into too.
pub(crate) fn find_in_chain<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    let mut steps = 0;
    while let Some(err) = current {
        steps += 1;
        if steps > 32 {
            return None;
        }
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(found) = find_in_chain::<T>(inner)
        {
            return Some(found);
        }
        current = err.source();
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn ctx() -> Context<'static> {
        Context {
            server: "https://vault:8200",
            what: "cannot read secret app/db from Vault",
            path: "secret/data/app/db",
            capability: "read",
        }
    }

    #[test]
    fn answers_map_to_the_variant_that_says_what_to_do() {
        let denied = status(
            &ctx(),
            &answer(
                403,
                r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#,
            ),
        );
        assert!(matches!(denied, ProviderError::Forbidden { .. }));
        assert_eq!(
            denied.to_string(),
            "cannot read secret app/db from Vault: Vault at https://vault:8200 denied it (403: permission denied): the token's policy must grant read on secret/data/app/db (or the token expired or was revoked)"
        );
        let sealed = status(&ctx(), &answer(503, r#"{"errors":["Vault is sealed"]}"#));
        assert!(sealed.is_retryable() && sealed.to_string().contains("is sealed"));
        let cas = status(
            &ctx(),
            &answer(
                400,
                r#"{"errors":["check-and-set parameter did not match the current version"]}"#,
            ),
        );
        assert!(matches!(cas, ProviderError::Conflict { .. }), "{cas:?}");
        assert!(status(&ctx(), &answer(429, "")).is_retryable());
        assert!(status(&ctx(), &answer(502, "<html>")).is_retryable());
        let refused = status(&ctx(), &answer(400, r#"{"errors":["bad"]}"#));
        assert!(matches!(refused, ProviderError::Refused { .. }));
        assert_eq!(
            refused.to_string(),
            "cannot read secret app/db from Vault: Vault at https://vault:8200 answered 400: bad"
        );
        assert!(is_unmounted(&answer(
            404,
            r#"{"errors":["no handler for route \"x/data/y\". route entry not found."]}"#
        )));
        assert!(!is_unmounted(&answer(404, r#"{"errors":[]}"#)));
    }
}
