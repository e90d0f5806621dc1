//! Turning kube-rs errors into [`ProviderError`]s whose messages say what failed and where.
//!
//! The server a store names may be anyone's (a namespace user writes `server.url`), so the
//! body of its error answers is never copied: a message keeps the HTTP code and a reason
//! only when that reason is a plain word (Kubernetes' `Forbidden`, `NotFound`, ...), since a
//! proxy or a hostile server may echo a request, headers or a value there. Transport errors are flattened from their source chain, because kube-rs puts the useful
//! part (for example rustls' "invalid peer certificate: UnknownIssuer") several levels down.
//!
//! The kube error stays the error's source, except that an API answer keeps only its code and
//! its reason when that reason is a plain word: the status message is the server's text.

use std::error::Error as StdError;

use crate::ProviderError;
use crate::error::Source;

/// The text of `err` and all its sources, without the repetitions wrappers add.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether a transport error is a failed TLS handshake (a certificate the CA does not vouch
/// for, an alert from the peer): rustls' error somewhere in the chain. An `io::Error` hides the
/// error it wraps from `source()`, so it is looked into as well.
fn is_tls_failure(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && is_tls_failure(inner)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// `err` as a source: for an API answer, only its code and a plain-word reason.
fn sanitized(err: kube::Error) -> Source {
    match err {
        kube::Error::Api(status) => {
            let reason = if KNOWN_REASONS.contains(&status.reason.as_str()) {
                status.reason.as_str()
            } else {
                ""
            };
            Box::new(kube::Error::Api(
                kube::core::Status::failure("", reason)
                    .with_code(status.code)
                    .boxed(),
            ))
        }
        other => Box::new(other),
    }
}

/// Maps an error of a call to `server` (what: "get secret foo/bar") to a provider error.
pub(crate) fn api_error(err: kube::Error, server: &str, what: &str) -> ProviderError {
    credentials_error(err, server, None, what)
}

/// As [`api_error`], for a call made with the store credentials `identity` (a connection's
/// identity: `token:<ns>/<name>/<key>`, `serviceAccount:…`, `cert:…`, `kubeconfig:…`): a refusal
/// of those credentials then says which ones and what to do.
pub(crate) fn credentials_error(
    err: kube::Error,
    server: &str,
    identity: Option<&str>,
    what: &str,
) -> ProviderError {
    let kube::Error::Api(status) = &err else {
        return transport_error(err, server, what);
    };
    let code = status.code;
    let text = format!(
        "{what}: the API server answered {code} {}",
        reason_word(&status.reason, code)
    );
    let source = sanitized(err);
    match code {
        401 => ProviderError::Forbidden {
            message: format!(
                "{text} (the API server at {server} did not accept the credentials{})",
                identity.and_then(refused_credentials).unwrap_or_default()
            ),
            source: Some(source),
        },
        403 => ProviderError::Forbidden {
            message: text,
            source: Some(source),
        },
        409 => ProviderError::Conflict {
            message: text,
            source: Some(source),
        },
        429 | 500..=599 => ProviderError::Unavailable {
            message: text,
            source: Some(source),
        },
        _ => ProviderError::Refused {
            message: text,
            source,
        },
    }
}

/// Kubernetes' `metav1.StatusReason` values: the only reasons repeated as they come.
const KNOWN_REASONS: &[&str] = &[
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Gone",
    "Invalid",
    "ServerTimeout",
    "StoreReadError",
    "Timeout",
    "TooManyRequests",
    "BadRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "RequestEntityTooLarge",
    "UnsupportedMediaType",
    "InternalError",
    "Expired",
    "ServiceUnavailable",
];

/// The status' reason when it is one Kubernetes defines, otherwise the standard phrase of the
/// HTTP code: a server may put anything in that field.
fn reason_word(reason: &str, code: u16) -> String {
    if KNOWN_REASONS.contains(&reason) {
        return reason.to_owned();
    }
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("(no reason)")
        .to_owned()
}

/// What to check when the credentials named by a connection identity are refused.
fn refused_credentials(identity: &str) -> Option<String> {
    let (method, place) = identity.split_once(':')?;
    let mut parts = place.splitn(3, '/');
    let (ns, name, rest) = (parts.next()?, parts.next()?, parts.next()?);
    Some(match method {
        "token" => format!(
            ": the token in key {rest} of Secret {ns}/{name} (spec.provider.kubernetes.auth.token.bearerToken) is revoked, expired or not for this server; put a valid token there"
        ),
        "serviceAccount" => format!(
            ": the token esox requested for ServiceAccount {ns}/{name} (spec.provider.kubernetes.auth.serviceAccount) was refused; check that this server trusts tokens issued by the cluster esox runs in"
        ),
        "cert" => format!(
            ": the client certificate in key {rest} of Secret {ns}/{name} (spec.provider.kubernetes.auth.cert) is expired or not signed by a CA this server trusts"
        ),
        "kubeconfig" => format!(
            ": the credentials of the kubeconfig in key {rest} of Secret {ns}/{name} (spec.provider.kubernetes.authRef) are revoked or expired"
        ),
        _ => return None,
    })
}

fn transport_error(err: kube::Error, server: &str, what: &str) -> ProviderError {
    let detail = chain(&err);
    let message = if is_tls_failure(&err) {
        format!(
            "{what}: TLS verification of {server} failed: {detail}; check that \
             spec.provider.kubernetes.server.caBundle or caProvider holds the CA that signed the API server's certificate"
        )
    } else {
        format!("{what}: cannot reach {server}: {detail}")
    };
    ProviderError::Unavailable {
        message,
        source: Some(Box::new(err)),
    }
}

/// Whether the API server answered 404.
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub(crate) fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404)
}

/// Whether the API server answered 401 (the credentials are no longer valid).
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub(crate) fn is_unauthorized(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 401)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn api_statuses_map_to_variants() {
        let e = api_error(
            status(403, "secrets is forbidden"),
            "https://x",
            "get secret a/b",
        );
        assert!(
            matches!(&e, ProviderError::Forbidden { message: m, .. } if m == "get secret a/b: the API server answered 403 Forbidden"),
            "{e}"
        );
        let e = api_error(
            status(401, "Unauthorized"),
            "https://x",
            "list secrets in a",
        );
        assert!(
            matches!(&e, ProviderError::Forbidden { message: m, .. } if m.contains("did not accept the credentials"))
        );
        let e = credentials_error(
            status(401, "Unauthorized"),
            "https://x",
            Some("token:app/pusher-token/token"),
            "get secret a/b",
        );
        assert!(
            matches!(&e, ProviderError::Forbidden { message: m, .. } if m.contains("did not accept the credentials: the token in key token of Secret app/pusher-token (spec.provider.kubernetes.auth.token.bearerToken)")),
            "{e}"
        );
        for identity in [
            "serviceAccount:ns/sa/aud",
            "cert:ns/c/tls.crt",
            "kubeconfig:ns/k/config",
        ] {
            let e = credentials_error(
                status(401, "Unauthorized"),
                "https://x",
                Some(identity),
                "list",
            );
            let (method, _) = identity.split_once(':').unwrap();
            let field = match method {
                "kubeconfig" => "authRef".to_owned(),
                m => format!("auth.{m}"),
            };
            assert!(e.to_string().contains(&field), "{identity}: {e}");
        }
        let e = api_error(status(409, "conflict"), "https://x", "update");
        assert!(matches!(e, ProviderError::Conflict { .. }));
        let e = api_error(status(503, "down"), "https://x", "update");
        assert!(matches!(e, ProviderError::Unavailable { .. }));
        let e = api_error(status(422, "invalid"), "https://x", "update");
        assert!(matches!(e, ProviderError::Refused { .. }));
    }

    #[test]
    fn error_bodies_are_never_copied() {
        // A body that echoes a value (or a credential) and a reason that is not a plain word.
        let canary = "CANARY-s3cr3t-value";
        for (code, reason) in [
            (403, format!("Forbidden {canary}")),
            (500, String::new()),
            (401, canary.to_owned()),
            (422, "<html>".to_owned()),
            (500, "CANARYonlyLetters".to_owned()),
        ] {
            let err = kube::Error::Api(
                kube::core::Status::failure(&format!("echo: {canary}"), &reason)
                    .with_code(code)
                    .boxed(),
            );
            let e = credentials_error(err, "https://x", Some("token:a/b/c"), "get secret a/b");
            // The whole chain, as a log of the error would print it.
            let text = chain(&e);
            assert!(!text.contains(canary) && !text.contains("CANARY"), "{text}");
            assert!(!text.contains("<html>"), "{text}");
            assert!(text.contains(&format!("answered {code} ")), "{text}");
        }
        let known = kube::Error::Api(
            kube::core::Status::failure("m", "NotFound")
                .with_code(404)
                .boxed(),
        );
        let e = api_error(known, "https://x", "get");
        assert!(e.to_string().ends_with("answered 404 NotFound"), "{e}");
        let bad_reason = kube::Error::Api(
            kube::core::Status::failure("m", "SomethingElse")
                .with_code(503)
                .boxed(),
        );
        let e = api_error(bad_reason, "https://x", "list");
        assert!(
            e.to_string().ends_with("answered 503 Service Unavailable"),
            "{e}"
        );
    }

    #[test]
    fn not_found_and_unauthorized_are_recognised() {
        assert!(is_not_found(&status(404, "secrets \"x\" not found")));
        assert!(!is_not_found(&status(403, "no")));
        assert!(is_unauthorized(&status(401, "Unauthorized")));
        assert!(!is_unauthorized(&status(404, "no")));
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Layer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn chain_joins_sources_once() {
        let e = Layer(
            "client error (Connect)",
            Some(Box::new(Layer(
                "invalid peer certificate: UnknownIssuer",
                Some(Box::new(Layer("UnknownIssuer", None))),
            ))),
        );
        assert_eq!(
            chain(&e),
            "client error (Connect): invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn tls_failures_are_recognised_by_type_not_text() {
        let rustls_err = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err);
        let outer = Layer("client error (Connect)", None);
        assert!(is_tls_failure(&wrapped));
        assert!(!is_tls_failure(&outer));
        // Words alone do not make a TLS failure.
        let words = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "certificate alert during tls handshake",
        );
        assert!(!is_tls_failure(&words));
    }
}
