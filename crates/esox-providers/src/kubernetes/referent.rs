//! ESO's "referent" authentication: a ClusterSecretStore whose credential selectors name no
//! namespace resolves them in the namespace of the object using it.

use esox_api::v1::providers::kubernetes::KubernetesAuth;

/// ESO's `IsReferentKubernetesAuth`: a credential selector without a namespace.
pub(crate) fn is_referent(auth: Option<&KubernetesAuth>) -> bool {
    let Some(auth) = auth else { return false };
    let cert = auth
        .cert
        .as_ref()
        .is_some_and(|c| c.client_cert.namespace.is_none() || c.client_key.namespace.is_none());
    let sa = auth
        .service_account
        .as_ref()
        .is_some_and(|s| s.namespace.is_none());
    let token = auth
        .token
        .as_ref()
        .is_some_and(|t| t.bearer_token.namespace.is_none());
    cert || sa || token
}

#[cfg(test)]
mod tests {
    use super::*;
    use esox_api::meta::{SecretKeySelector, ServiceAccountSelector};
    use esox_api::v1::providers::kubernetes::{CertAuth, TokenAuth};

    #[test]
    fn referent_auth_is_a_selector_without_namespace() {
        assert!(!is_referent(None));
        let sa = |ns: Option<&str>| KubernetesAuth {
            service_account: Some(ServiceAccountSelector {
                name: "sa".into(),
                namespace: ns.map(str::to_owned),
                audiences: vec![],
            }),
            ..Default::default()
        };
        assert!(is_referent(Some(&sa(None))));
        assert!(!is_referent(Some(&sa(Some("x")))));
        let sel = |ns: Option<&str>| SecretKeySelector {
            name: "s".into(),
            namespace: ns.map(str::to_owned),
            key: "k".into(),
        };
        let token = KubernetesAuth {
            token: Some(TokenAuth {
                bearer_token: sel(None),
            }),
            ..Default::default()
        };
        assert!(is_referent(Some(&token)));
        let cert = KubernetesAuth {
            cert: Some(CertAuth {
                client_cert: sel(Some("a")),
                client_key: sel(None),
            }),
            ..Default::default()
        };
        assert!(is_referent(Some(&cert)));
        let cert_full = KubernetesAuth {
            cert: Some(CertAuth {
                client_cert: sel(Some("a")),
                client_key: sel(Some("a")),
            }),
            ..Default::default()
        };
        assert!(!is_referent(Some(&cert_full)));
    }
}
