//! Helpers for tests against esox-testcluster (an in-memory API server over HTTPS).
#![allow(dead_code)]

use std::time::Duration;

use esox_api::v1::StoreKind;
use esox_providers::{ClientContext, LocalCluster, Provider, ProviderRuntime, StoreInfo};
use esox_testcluster::TestCluster;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

pub struct Cluster {
    pub server: TestCluster,
    pub admin: kube::Client,
    /// The providers of an esox whose own cluster this is.
    pub runtime: ProviderRuntime,
}

pub async fn cluster() -> Cluster {
    let server = TestCluster::start(Default::default())
        .await
        .expect("test cluster starts");
    let admin = server.client().await.expect("admin client");
    let runtime = ProviderRuntime::new(
        admin.clone(),
        LocalCluster {
            url: server.url(),
            ca_pem: Some(server.ca_pem().as_bytes().to_vec()),
        },
    );
    Cluster {
        server,
        admin,
        runtime,
    }
}

impl Cluster {
    /// The context esox would pass when this cluster is its own.
    pub fn ctx(&self, namespace: Option<&str>) -> ClientContext {
        self.runtime.context(namespace)
    }

    /// The runtime's Kubernetes provider.
    pub fn kubernetes(&self) -> &dyn Provider {
        self.runtime
            .provider("kubernetes")
            .expect("the kubernetes provider is built")
    }

    pub async fn namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.admin.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
        api.create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
    }

    pub async fn service_account(&self, ns: &str, name: &str) {
        let api: Api<ServiceAccount> = Api::namespaced(self.admin.clone(), ns);
        let sa: ServiceAccount =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("sa");
        api.create(&PostParams::default(), &sa)
            .await
            .expect("create service account");
    }

    /// A Role in `ns` with `rules`, bound to ServiceAccount `sa_ns/sa`.
    pub async fn grant(&self, ns: &str, role: &str, rules: Value, sa_ns: &str, sa: &str) {
        let roles: Api<Role> = Api::namespaced(self.admin.clone(), ns);
        let r: Role = serde_json::from_value(json!({"metadata": {"name": role}, "rules": rules}))
            .expect("role");
        roles
            .create(&PostParams::default(), &r)
            .await
            .expect("create role");
        let bindings: Api<RoleBinding> = Api::namespaced(self.admin.clone(), ns);
        let b: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}],
            "roleRef": {"kind": "Role", "name": role, "apiGroup": "rbac.authorization.k8s.io"}
        }))
        .expect("binding");
        bindings
            .create(&PostParams::default(), &b)
            .await
            .expect("create role binding");
    }

    /// A Role in `ns` with `rules`, bound to user `user` (e.g. a client certificate's CN).
    pub async fn grant_user(&self, ns: &str, role: &str, rules: Value, user: &str) {
        let roles: Api<Role> = Api::namespaced(self.admin.clone(), ns);
        let r: Role = serde_json::from_value(json!({"metadata": {"name": role}, "rules": rules}))
            .expect("role");
        roles
            .create(&PostParams::default(), &r)
            .await
            .expect("create role");
        let bindings: Api<RoleBinding> = Api::namespaced(self.admin.clone(), ns);
        let b: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": role},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "Role", "name": role, "apiGroup": "rbac.authorization.k8s.io"}
        }))
        .expect("binding");
        bindings
            .create(&PostParams::default(), &b)
            .await
            .expect("create role binding");
    }

    pub async fn secret(&self, ns: &str, body: Value) -> Secret {
        let api: Api<Secret> = Api::namespaced(self.admin.clone(), ns);
        let s: Secret = serde_json::from_value(body).expect("secret");
        api.create(&PostParams::default(), &s)
            .await
            .expect("create secret")
    }

    pub async fn get_secret(&self, ns: &str, name: &str) -> Option<Secret> {
        let api: Api<Secret> = Api::namespaced(self.admin.clone(), ns);
        api.get_opt(name).await.expect("get secret")
    }

    /// Waits until the token controller filled a `kubernetes.io/service-account-token` Secret.
    pub async fn filled_token_secret(&self, ns: &str, name: &str) -> Secret {
        for _ in 0..100 {
            if let Some(s) = self.get_secret(ns, name).await
                && s.data.as_ref().is_some_and(|d| d.contains_key("token"))
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("secret {ns}/{name} never got a token");
    }
}

/// Rules that let a store read and write Secrets (the seed's Role).
pub fn secret_rules() -> Value {
    json!([
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "create", "update", "delete", "patch"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"], "verbs": ["create"]}
    ])
}

pub fn store(kind: StoreKind, name: &str, namespace: Option<&str>, kubernetes: Value) -> StoreInfo {
    StoreInfo {
        kind,
        name: name.into(),
        namespace: namespace.map(str::to_owned),
        spec: serde_json::from_value(json!({"provider": {"kubernetes": kubernetes}}))
            .expect("store spec"),
    }
}

pub fn text(v: &[u8]) -> String {
    String::from_utf8(v.to_vec()).expect("utf8")
}
