//! Building the connection a store describes: server URL, CA and credentials, resolved into a
//! `kube::Config` (ESO's `BuildRESTConfigFromKubernetesConnection`). TLS is always verified.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use esox_api::v1::providers::kubernetes::{KubernetesAuth, KubernetesProvider as KubernetesSpec};
use kube::config::{AuthInfo, Kubeconfig};
use secrecy::ExposeSecret as _;

use super::server::{self, is_local_alias};
use crate::auth::{self, Scope, TokenKey, pem_certificates};
use crate::kube_errors as errors;
use crate::metrics::PROVIDER_KUBERNETES;
use crate::{ClientContext, LocalCluster, ProviderError};

/// How long a single request may wait for the server's answer. Watches use a client without
/// this limit, since the server may stay silent between events.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A resolved connection.
#[derive(Clone)]
pub(crate) struct Connection {
    /// For building clients; holds the credentials, so it is never printed.
    pub config: kube::Config,
    /// The server URL, for messages and the watch key.
    pub server: String,
    /// Which credential is used (selector names, never values), for the watch key.
    pub identity: String,
    /// The cached ServiceAccount token in use, to forget it when the server rejects it.
    pub token_key: Option<TokenKey>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A client for single requests, shared with earlier connections that resolved to the same
    /// server, CA and credentials: a reconcile then reuses open HTTPS connections instead of
    /// doing a TLS handshake each time.
    pub fn request_client(&self, clients: &ClientCache) -> Result<kube::Client, ProviderError> {
        let key = cache_key(&self.config);
        let now = Instant::now();
        {
            let mut cache = clients.lock();
            if let Some(entry) = cache.get_mut(&key)
                && entry.runtime_alive()
            {
                entry.last_used = now;
                return Ok(entry.client.clone());
            }
        }
        let mut config = self.config.clone();
        config.read_timeout = Some(REQUEST_READ_TIMEOUT);
        let client = build_client(config, &self.server)?;
        let mut cache = clients.lock();
        cache.retain(|_, e| {
            now.duration_since(e.last_used) < CLIENT_IDLE_LIMIT && e.runtime_alive()
        });
        if cache.len() >= CLIENT_CACHE_MAX {
            // Rare (thousands of distinct credentials): start over rather than track order.
            cache.clear();
        }
        cache.insert(
            key,
            CachedClient {
                client: client.clone(),
                last_used: now,
                runtime: RuntimeWitness::here(),
            },
        );
        Ok(client)
    }

    /// A digest of everything requests depend on (server, CA, credentials), so that reads can
    /// be shared only between clients that would send them identically. Never printed.
    pub fn fingerprint(&self) -> String {
        use sha3::Digest as _;
        let digest = sha3::Sha3_256::digest(cache_key(&self.config));
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A client for long-running watches.
    pub fn watch_client(&self) -> Result<kube::Client, ProviderError> {
        build_client(self.config.clone(), &self.server)
    }
}

/// Clients not used for this long are dropped (and their connections closed).
const CLIENT_IDLE_LIMIT: Duration = Duration::from_secs(15 * 60);
const CLIENT_CACHE_MAX: usize = 4096;

struct CachedClient {
    client: kube::Client,
    last_used: Instant,
    runtime: RuntimeWitness,
}

impl CachedClient {
    fn runtime_alive(&mut self) -> bool {
        self.runtime.alive()
    }
}

/// Tells whether the Tokio runtime that built a client still runs. A kube client's requests go
/// through a worker task on that runtime; once the runtime is gone (each `#[tokio::test]` has its
/// own, and a process may start several) every request fails with "buffer's worker closed", so
/// the cache must not hand such a client out again.
struct RuntimeWitness(tokio::sync::oneshot::Receiver<()>);

impl RuntimeWitness {
    fn here() -> Self {
        let (keep, watch) = tokio::sync::oneshot::channel::<()>();
        // The task holds the sender until the runtime drops it, which closes the channel.
        tokio::spawn(async move {
            let _keep = keep;
            std::future::pending::<()>().await;
        });
        Self(watch)
    }

    fn alive(&mut self) -> bool {
        matches!(
            self.0.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        )
    }
}

/// Request clients by [`cache_key`], one cache per provider instance. The keys contain
/// credentials; they stay in memory and are never printed.
#[derive(Default)]
pub(crate) struct ClientCache(Mutex<BTreeMap<Vec<u8>, CachedClient>>);

impl ClientCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, CachedClient>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything a client's behaviour depends on, so that two connections share a client only
/// when they would be configured identically.
fn cache_key(config: &kube::Config) -> Vec<u8> {
    let mut key = Vec::new();
    let mut field = |bytes: &[u8]| {
        key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        key.extend_from_slice(bytes);
    };
    field(config.cluster_url.to_string().as_bytes());
    for cert in config.root_cert.iter().flatten() {
        field(cert);
    }
    field(b"|");
    let auth = &config.auth_info;
    field(
        auth.token
            .as_ref()
            .map(|t| t.expose_secret().as_bytes())
            .unwrap_or_default(),
    );
    field(
        auth.client_certificate_data
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    field(
        auth.client_key_data
            .as_ref()
            .map(|k| k.expose_secret().as_bytes())
            .unwrap_or_default(),
    );
    field(auth.username.as_deref().unwrap_or_default().as_bytes());
    field(
        auth.password
            .as_ref()
            .map(|p| p.expose_secret().as_bytes())
            .unwrap_or_default(),
    );
    field(auth.impersonate.as_deref().unwrap_or_default().as_bytes());
    field(
        auth.impersonate_uid
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    for group in auth.impersonate_groups.iter().flatten() {
        field(group.as_bytes());
    }
    field(
        config
            .tls_server_name
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    field(
        config
            .proxy_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default()
            .as_bytes(),
    );
    key
}

fn build_client(config: kube::Config, server: &str) -> Result<kube::Client, ProviderError> {
    kube::Client::try_from(config).map_err(|e| {
        ProviderError::InvalidConfig(format!(
            "cannot configure a client for {server}: {}",
            errors::chain(&e)
        ))
    })
}

const AUTH: &str = "spec.provider.kubernetes.auth";

/// Resolves the store's server, CA and credentials.
pub(crate) async fn connect(
    spec: &KubernetesSpec,
    scope: &Scope,
    ctx: &ClientContext,
    local: &LocalCluster,
) -> Result<Connection, ProviderError> {
    if let Some(auth_ref) = &spec.auth_ref {
        if spec.auth.is_some() {
            return Err(ProviderError::InvalidConfig(
                "authRef and inline auth cannot both be set: keep either spec.provider.kubernetes.auth or spec.provider.kubernetes.authRef".into(),
            ));
        }
        const FIELD: &str = "spec.provider.kubernetes.authRef";
        let ns = scope.namespace_for(auth_ref.namespace.as_deref(), FIELD)?;
        let bytes = auth::secret_key(ctx, &ns, &auth_ref.name, &auth_ref.key, FIELD).await?;
        let origin = format!("secret {ns}/{} key {}", auth_ref.name, auth_ref.key);
        let identity = format!("kubeconfig:{ns}/{}/{}", auth_ref.name, auth_ref.key);
        return from_kubeconfig(&bytes, &origin, identity, local);
    }
    let auth = spec.auth.as_ref().ok_or_else(|| {
        ProviderError::InvalidConfig(
            "no auth provider given: set spec.provider.kubernetes.auth (token, serviceAccount or cert) or spec.provider.kubernetes.authRef".into(),
        )
    })?;
    check_one_method(auth)?;

    let url = spec.server.as_ref().map(|s| s.url.as_str()).unwrap_or("");
    server::require_tls(url, "spec.provider.kubernetes.server.url")?;
    let is_local = is_local_alias(url);
    if let Some(sa) = &auth.service_account
        && !is_local
    {
        server::require_audience(sa, url)?;
    }
    let server_url = if is_local {
        local.url.clone()
    } else {
        url.to_owned()
    };
    let cluster_url: http::Uri = server_url.parse().map_err(|e| {
        ProviderError::InvalidConfig(format!(
            "spec.provider.kubernetes.server.url {server_url:?} is not a valid URL: {e}"
        ))
    })?;
    let mut ca = match &spec.server {
        Some(s) => server::store_ca(s, scope, ctx).await?,
        None => None,
    };
    if ca.is_none() && is_local {
        ca = local.ca_pem.clone();
    }
    let mut config = kube::Config::new(cluster_url);
    config.default_namespace = spec.remote_namespace.clone();
    config.accept_invalid_certs = false;
    if let Some(pem) = &ca {
        config.root_cert = Some(pem_certificates(
            pem,
            "the CA of spec.provider.kubernetes.server",
        )?);
    }
    let (auth_info, identity, token_key) = credentials(auth, scope, ctx).await?;
    config.auth_info = auth_info;
    Ok(Connection {
        config,
        server: server_url,
        identity,
        token_key,
    })
}

fn check_one_method(auth: &KubernetesAuth) -> Result<(), ProviderError> {
    let set = usize::from(auth.token.is_some())
        + usize::from(auth.service_account.is_some())
        + usize::from(auth.cert.is_some());
    match set {
        0 => Err(ProviderError::InvalidConfig(format!(
            "no auth provider given: set one of {AUTH}.token, {AUTH}.serviceAccount or {AUTH}.cert"
        ))),
        1 => Ok(()),
        _ => Err(ProviderError::InvalidConfig(format!(
            "multiple auth methods provided: set exactly one of {AUTH}.token, {AUTH}.serviceAccount or {AUTH}.cert"
        ))),
    }
}

async fn credentials(
    auth: &KubernetesAuth,
    scope: &Scope,
    ctx: &ClientContext,
) -> Result<(AuthInfo, String, Option<TokenKey>), ProviderError> {
    if let Some(token) = &auth.token {
        let sel = &token.bearer_token;
        let field = format!("{AUTH}.token.bearerToken");
        let ns = scope.namespace_for(sel.namespace.as_deref(), &field)?;
        let bytes = auth::secret_key(ctx, &ns, &sel.name, &sel.key, &field).await?;
        let token = String::from_utf8(bytes)
            .map_err(|_| {
                ProviderError::InvalidConfig(format!(
                    "{field}: key {} of secret {ns}/{} is not UTF-8 text",
                    sel.key, sel.name
                ))
            })?
            .trim()
            .to_owned();
        if token.is_empty() {
            return Err(ProviderError::InvalidConfig(format!(
                "{field}: key {} of secret {ns}/{} is empty",
                sel.key, sel.name
            )));
        }
        let info = AuthInfo {
            token: Some(token.into()),
            ..Default::default()
        };
        return Ok((info, format!("token:{ns}/{}/{}", sel.name, sel.key), None));
    }
    if let Some(sa) = &auth.service_account {
        let field = format!("{AUTH}.serviceAccount");
        let ns = scope.namespace_for(sa.namespace.as_deref(), &field)?;
        let key = TokenKey {
            issuer: ctx.own_server().to_owned(),
            namespace: ns.clone(),
            name: sa.name.clone(),
            audiences: sa.audiences.clone(),
        };
        let token = ctx.tokens().token(ctx, &key, PROVIDER_KUBERNETES).await?;
        let info = AuthInfo {
            token: Some(token.into()),
            ..Default::default()
        };
        let identity = format!("serviceAccount:{ns}/{}/{}", sa.name, sa.audiences.join(","));
        return Ok((info, identity, Some(key)));
    }
    if let Some(cert) = &auth.cert {
        let cert_field = format!("{AUTH}.cert.clientCert");
        let key_field = format!("{AUTH}.cert.clientKey");
        let cert_ns = scope.namespace_for(cert.client_cert.namespace.as_deref(), &cert_field)?;
        let key_ns = scope.namespace_for(cert.client_key.namespace.as_deref(), &key_field)?;
        let cert_pem = auth::secret_key(
            ctx,
            &cert_ns,
            &cert.client_cert.name,
            &cert.client_cert.key,
            &cert_field,
        )
        .await?;
        let key_pem = auth::secret_key(
            ctx,
            &key_ns,
            &cert.client_key.name,
            &cert.client_key.key,
            &key_field,
        )
        .await?;
        pem_certificates(&cert_pem, &cert_field)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let info = AuthInfo {
            client_certificate_data: Some(b64.encode(&cert_pem)),
            client_key_data: Some(b64.encode(&key_pem).into()),
            ..Default::default()
        };
        let identity = format!(
            "cert:{cert_ns}/{}/{}",
            cert.client_cert.name, cert.client_cert.key
        );
        return Ok((info, identity, None));
    }
    Err(ProviderError::InvalidConfig(format!(
        "no auth provider given: set one of {AUTH}.token, {AUTH}.serviceAccount or {AUTH}.cert"
    )))
}

/// A kubeconfig from a Secret (`authRef`). It comes from a user's Secret, so everything that
/// would make esox run programs or read its own files is refused.
fn from_kubeconfig(
    bytes: &[u8],
    origin: &str,
    identity: String,
    local: &LocalCluster,
) -> Result<Connection, ProviderError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ProviderError::InvalidConfig(format!("{origin} is not UTF-8 text, so not a kubeconfig"))
    })?;
    // The parser's messages may quote the document, which holds credentials: keep them out.
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|_| {
        ProviderError::InvalidConfig(format!(
            "{origin} does not hold a valid kubeconfig (a YAML document with clusters, users, contexts and current-context)"
        ))
    })?;
    reject_unsafe(&kubeconfig, origin)?;
    let mut config = kube::Config::try_from(kubeconfig).map_err(|e| {
        ProviderError::InvalidConfig(format!("the kubeconfig in {origin} cannot be used: {e}"))
    })?;
    let url = config.cluster_url.to_string();
    if config.cluster_url.scheme_str() != Some("https") {
        return Err(ProviderError::InvalidConfig(format!(
            "the kubeconfig in {origin} points at {url:?}, which is not https://: esox sends credentials over verified TLS only, so give the cluster an https:// server"
        )));
    }
    let server = if is_local_alias(&url) {
        let local_url: http::Uri = local.url.parse().map_err(|e| {
            ProviderError::InvalidConfig(format!(
                "esox's own API server URL {:?} is not valid: {e}",
                local.url
            ))
        })?;
        config.cluster_url = local_url;
        if config.root_cert.is_none()
            && let Some(pem) = &local.ca_pem
        {
            config.root_cert = Some(pem_certificates(pem, "esox's own cluster CA")?);
        }
        local.url.clone()
    } else {
        url.trim_end_matches('/').to_owned()
    };
    Ok(Connection {
        config,
        server,
        identity,
        token_key: None,
    })
}

fn reject_unsafe(kubeconfig: &Kubeconfig, origin: &str) -> Result<(), ProviderError> {
    let refuse = |what: &str| {
        Err(ProviderError::InvalidConfig(format!(
            "the kubeconfig in {origin} uses {what}, which esox does not allow in a store's kubeconfig: embed the credentials and CA as data (token, client-certificate-data, client-key-data, certificate-authority-data)"
        )))
    };
    for named in &kubeconfig.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        if user.exec.is_some() {
            return refuse("an exec credential plugin");
        }
        if user.auth_provider.is_some() {
            return refuse("an auth-provider plugin");
        }
        if user.token_file.is_some() {
            return refuse("tokenFile (a file on esox's host)");
        }
        if user.client_certificate.is_some() || user.client_key.is_some() {
            return refuse("client-certificate/client-key files (files on esox's host)");
        }
    }
    for named in &kubeconfig.clusters {
        let Some(cluster) = &named.cluster else {
            continue;
        };
        if cluster.insecure_skip_tls_verify == Some(true) {
            return refuse("insecure-skip-tls-verify (TLS is always verified)");
        }
        if cluster.certificate_authority.is_some() {
            return refuse("certificate-authority (a file on esox's host)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(cluster_extra: &str, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n{cluster_extra}contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n{user}"
        )
    }

    fn parse(text: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(text).expect("kubeconfig parses")
    }

    #[test]
    fn plain_token_kubeconfig_is_accepted() {
        let kc = parse(&kubeconfig("", "    token: abc\n"));
        reject_unsafe(&kc, "secret a/b key c").expect("safe");
    }

    #[test]
    fn exec_files_and_insecure_are_refused() {
        let cases = [
            kubeconfig(
                "",
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n",
            ),
            kubeconfig("", "    tokenFile: /var/run/secrets/token\n"),
            kubeconfig(
                "",
                "    client-certificate: /etc/cert\n    client-key: /etc/key\n",
            ),
            kubeconfig("    insecure-skip-tls-verify: true\n", "    token: abc\n"),
            kubeconfig(
                "    certificate-authority: /etc/ca.crt\n",
                "    token: abc\n",
            ),
        ];
        for text in cases {
            let err = reject_unsafe(&parse(&text), "secret a/b key c").expect_err(&text);
            assert!(err.to_string().contains("does not allow"), "{err}");
        }
    }

    #[test]
    fn clients_are_shared_only_for_identical_settings() {
        let base = || {
            let mut c = kube::Config::new("https://127.0.0.1:6443".parse().expect("uri"));
            c.auth_info.token = Some("token-a".to_owned().into());
            c
        };
        assert_eq!(cache_key(&base()), cache_key(&base()));
        let mut other_token = base();
        other_token.auth_info.token = Some("token-b".to_owned().into());
        assert_ne!(cache_key(&base()), cache_key(&other_token));
        let mut other_ca = base();
        other_ca.root_cert = Some(vec![vec![1, 2, 3]]);
        assert_ne!(cache_key(&base()), cache_key(&other_ca));
        let mut other_server = base();
        other_server.cluster_url = "https://127.0.0.1:6444".parse().expect("uri");
        assert_ne!(cache_key(&base()), cache_key(&other_server));
        // Field boundaries matter: moving bytes between fields changes the key.
        let mut split_a = base();
        split_a.auth_info.token = None;
        split_a.auth_info.username = Some("ab".into());
        let mut split_b = base();
        split_b.auth_info.token = Some("a".to_owned().into());
        split_b.auth_info.username = Some("b".into());
        assert_ne!(cache_key(&split_a), cache_key(&split_b));
    }

    #[tokio::test]
    async fn kubeconfig_naming_kubernetes_default_uses_the_local_cluster() {
        let ca = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
        let ctx = LocalCluster {
            url: "https://127.0.0.1:7443".into(),
            ca_pem: Some(ca.as_bytes().to_vec()),
        };
        let text = kubeconfig("", "    token: abc\n")
            .replace("https://127.0.0.1:6443", "https://kubernetes.default.svc");
        let conn = from_kubeconfig(text.as_bytes(), "secret a/b key c", "id".into(), &ctx)
            .expect("connection");
        assert_eq!(conn.server, "https://127.0.0.1:7443");
        assert_eq!(
            conn.config.cluster_url.to_string(),
            "https://127.0.0.1:7443/"
        );
        assert_eq!(
            conn.config.root_cert,
            Some(vec![vec![0x30, 0x03, 0x02, 0x01, 0x00]])
        );

        let remote = from_kubeconfig(
            kubeconfig("", "    token: abc\n").as_bytes(),
            "secret a/b key c",
            "id".into(),
            &ctx,
        )
        .expect("connection");
        assert_eq!(remote.server, "https://127.0.0.1:6443");
        assert_eq!(remote.config.root_cert, None);

        let err = from_kubeconfig(b"clusters: [", "secret a/b key c", "id".into(), &ctx)
            .expect_err("not YAML");
        assert!(
            err.to_string().contains("does not hold a valid kubeconfig"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn cleartext_kubeconfig_servers_are_refused() {
        let ctx = LocalCluster {
            url: "https://127.0.0.1:7443".into(),
            ca_pem: None,
        };
        let text = kubeconfig("", "    token: abc\n")
            .replace("https://127.0.0.1:6443", "http://127.0.0.1:8080");
        let err = from_kubeconfig(text.as_bytes(), "secret a/b key c", "id".into(), &ctx)
            .expect_err("http");
        let msg = err.to_string();
        assert!(msg.contains("secret a/b key c"), "{msg}");
        assert!(msg.contains("https://"), "{msg}");
        assert!(!msg.contains("abc"), "{msg}");
    }

    #[test]
    fn one_auth_method_exactly() {
        use esox_api::meta::{SecretKeySelector, ServiceAccountSelector};
        use esox_api::v1::providers::kubernetes::TokenAuth;
        let none = KubernetesAuth::default();
        assert!(
            check_one_method(&none)
                .expect_err("none")
                .to_string()
                .contains("no auth provider given")
        );
        let two = KubernetesAuth {
            token: Some(TokenAuth {
                bearer_token: SecretKeySelector::default(),
            }),
            service_account: Some(ServiceAccountSelector {
                name: "sa".into(),
                namespace: None,
                audiences: vec![],
            }),
            cert: None,
        };
        assert!(
            check_one_method(&two)
                .expect_err("two")
                .to_string()
                .contains("multiple auth methods")
        );
    }
}
