//! Writes the kubeconfig a client needs to reach the test cluster as its administrator.

use base64::Engine;

/// Renders a kubeconfig with one cluster, one user (bearer token) and one current context.
pub(crate) fn render(server_url: &str, ca_pem: &str, token: &str) -> String {
    render_user(server_url, ca_pem, &format!("token: {token}"))
}

/// A kubeconfig whose user authenticates with a client certificate.
pub(crate) fn render_cert(server_url: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    render_user(
        server_url,
        ca_pem,
        &format!(
            "client-certificate-data: {}\n    client-key-data: {}",
            b(cert_pem),
            b(key_pem)
        ),
    )
}

fn render_user(server_url: &str, ca_pem: &str, user: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: esox-testcluster
  cluster:
    server: {server_url}
    certificate-authority-data: {ca}
users:
- name: esox-admin
  user:
    {user}
contexts:
- name: esox-testcluster
  context:
    cluster: esox-testcluster
    user: esox-admin
    namespace: default
current-context: esox-testcluster
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_parses_with_kube_and_carries_the_ca() {
        let yaml = render(
            "https://127.0.0.1:6443",
            "-----BEGIN CERTIFICATE-----\nx\n",
            "tok",
        );
        let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
        let cluster = kc.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let ca = cluster
            .certificate_authority_data
            .as_deref()
            .expect("ca data");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .expect("base64");
        assert!(decoded.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert_eq!(kc.current_context.as_deref(), Some("esox-testcluster"));
    }
}
