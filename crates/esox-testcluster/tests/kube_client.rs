//! The test cluster driven by kube-rs, the client esox's controllers use.

mod common;

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::PartialObjectMeta;
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use common::eventually;
use esox_testcluster::{Config, FaultMatch, TestCluster};

async fn cluster() -> (TestCluster, kube::Client) {
    let c = TestCluster::start(Config::default()).await.expect("start");
    let client = c.client().await.expect("client");
    (c, client)
}

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn crud_with_status_errors() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", &[("k", "v")]))
        .await
        .expect("create");
    let rv1 = created.metadata.resource_version.clone().expect("rv");
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    let e = api_err(
        api.create(&PostParams::default(), &cm("a", &[]))
            .await
            .expect_err("duplicate"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

    let mut changed = created.clone();
    changed.data = Some(BTreeMap::from([("k".into(), "w".into())]));
    let updated = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .expect("replace");
    assert_ne!(
        updated.metadata.resource_version.as_deref(),
        Some(rv1.as_str())
    );
    let e = api_err(
        api.replace("a", &PostParams::default(), &changed)
            .await
            .expect_err("stale rv"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message.contains("the object has been modified"),
        "{}",
        e.message
    );

    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "y", "k": null}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        patched.data,
        Some(BTreeMap::from([("x".into(), "y".into())]))
    );
    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(json!([{"op": "add", "path": "/data/z", "value": "1"}]))
                    .expect("ops"),
            ),
        )
        .await
        .expect("json patch");
    assert_eq!(
        patched
            .data
            .as_ref()
            .and_then(|d| d.get("z"))
            .map(String::as_str),
        Some("1")
    );
    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"finalizers": ["test/hold"]}})),
        )
        .await
        .expect("strategic patch");
    assert_eq!(
        patched.metadata.finalizers,
        Some(vec!["test/hold".to_string()])
    );

    // With a finalizer, delete only marks the object.
    api.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let held = api.get("a").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    let e = api_err(api.get("a").await.expect_err("gone"));
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "configmaps \"a\" not found");
}

#[tokio::test]
async fn generate_name_list_paging_and_selectors() {
    let (_c, client) = cluster().await;
    let api: Api<Secret> = Api::namespaced(client, "default");
    for i in 0..5 {
        let s = Secret {
            metadata: kube::api::ObjectMeta {
                generate_name: Some("gen-".into()),
                labels: Some(BTreeMap::from([("i".into(), (i % 2).to_string())])),
                ..Default::default()
            },
            type_: Some(if i == 0 {
                "example.com/special".into()
            } else {
                "Opaque".into()
            }),
            string_data: Some(BTreeMap::from([("k".into(), "v".into())])),
            ..Default::default()
        };
        let s = api
            .create(&PostParams::default(), &s)
            .await
            .expect("create");
        assert!(
            s.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("gen-") && n.len() == 9)
        );
        assert!(s.string_data.is_none());
    }
    let page1 = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(page1.items.len(), 2);
    let token = page1.metadata.continue_.clone().expect("continue token");
    let page2 = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(page2.items.len(), 3);
    assert!(page2.metadata.continue_.is_none());
    assert_eq!(
        api.list(&ListParams::default().labels("i=1"))
            .await
            .expect("labels")
            .items
            .len(),
        2
    );
    let special = api
        .list(&ListParams::default().fields("type=example.com/special"))
        .await
        .expect("fields");
    assert_eq!(special.items.len(), 1);
    let e = api_err(
        api.list(&ListParams::default().fields("data.k=v"))
            .await
            .expect_err("unsupported field"),
    );
    assert_eq!(e.code, 400);
}

#[tokio::test]
async fn runtime_watcher_and_metadata_watcher_see_changes() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut objects = watcher(api.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let meta_api: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client.clone(), "default");
    let mut metas = watcher(meta_api, watcher::Config::default())
        .applied_objects()
        .boxed();
    api.create(&PostParams::default(), &cm("w1", &[("a", "b")]))
        .await
        .expect("create");
    let next_named = |name: &'static str| move |o: &Option<String>| o.as_deref() == Some(name);
    let mut seen = false;
    while let Some(o) = tokio::time::timeout(std::time::Duration::from_secs(10), objects.try_next())
        .await
        .expect("event")
        .expect("ok")
    {
        if next_named("w1")(&o.metadata.name) {
            assert_eq!(
                o.data.as_ref().and_then(|d| d.get("a")).map(String::as_str),
                Some("b")
            );
            seen = true;
            break;
        }
    }
    assert!(seen);
    let mut seen_meta = false;
    while let Some(m) = tokio::time::timeout(std::time::Duration::from_secs(10), metas.try_next())
        .await
        .expect("event")
        .expect("ok")
    {
        if m.metadata.name.as_deref() == Some("w1") {
            seen_meta = true;
            break;
        }
    }
    assert!(seen_meta);
}

#[tokio::test]
async fn raw_watch_resume_bookmarks_and_gone() {
    let c = TestCluster::start(Config {
        bookmark_interval: std::time::Duration::from_millis(100),
        ..Config::default()
    })
    .await
    .expect("start");
    let client = c.client().await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api
        .create(&PostParams::default(), &cm("r1", &[]))
        .await
        .expect("create");
    let rv = first.metadata.resource_version.clone().expect("rv");
    api.create(&PostParams::default(), &cm("r2", &[]))
        .await
        .expect("create");
    // Resuming after r1 replays r2 only.
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    match stream.try_next().await.expect("ok") {
        Some(WatchEvent::Added(o)) => assert_eq!(o.metadata.name.as_deref(), Some("r2")),
        other => panic!("expected ADDED r2, got {other:?}"),
    }
    match tokio::time::timeout(std::time::Duration::from_secs(5), stream.try_next())
        .await
        .expect("bookmark")
        .expect("ok")
    {
        Some(WatchEvent::Bookmark(_)) => {}
        other => panic!("expected a bookmark, got {other:?}"),
    }
    // After compaction, the old version is gone: an ERROR event with 410 Expired.
    c.compact();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    match stream.try_next().await.expect("ok") {
        Some(WatchEvent::Error(e)) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn server_side_apply_tracks_managers() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}});
    let o = api
        .patch("ssa", &PatchParams::apply("mgr-a"), &Patch::Apply(&cfg))
        .await
        .expect("apply creates");
    let mf = o.metadata.managed_fields.clone().expect("managedFields");
    assert_eq!(mf[0].manager.as_deref(), Some("mgr-a"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}});
    let e = api_err(
        api.patch("ssa", &PatchParams::apply("mgr-b"), &Patch::Apply(&other))
            .await
            .expect_err("conflict"),
    );
    assert_eq!(e.code, 409);
    assert!(
        e.message.contains("conflict with \"mgr-a\""),
        "{}",
        e.message
    );
    let forced = api
        .patch(
            "ssa",
            &PatchParams::apply("mgr-b").force(),
            &Patch::Apply(&other),
        )
        .await
        .expect("force");
    assert_eq!(
        forced.data.and_then(|d| d.get("a").cloned()).as_deref(),
        Some("2")
    );
}

const CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.example.com"},
  "spec": {"group": "example.com", "scope": "Namespaced",
    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
    "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}}"#;

#[tokio::test]
async fn crd_serves_custom_resources_with_status_subresource() {
    let (_c, client) = cluster().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_str(CRD).expect("crd json");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let established = crds.get("widgets.example.com").await.expect("get crd");
    let conds = established
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(
        conds
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );

    let discovered = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(discovered.groups().any(|g| g.name() == "example.com"));

    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut w = DynamicObject::new("w1", &ar);
    w.data = json!({"spec": {"size": 3}, "status": {"ready": true}});
    let created = api
        .create(&PostParams::default(), &w)
        .await
        .expect("create widget");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );
    let st = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 9}})),
        )
        .await
        .expect("status patch");
    assert_eq!(st.data["status"]["ready"], true);
    assert_eq!(
        st.data["spec"]["size"], 3,
        "the status subresource ignores spec"
    );
    assert_eq!(st.metadata.generation, Some(1));
    let sp = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 4}})),
        )
        .await
        .expect("spec patch");
    assert_eq!(sp.metadata.generation, Some(2));
    let lp = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect("label patch");
    assert_eq!(
        lp.metadata.generation,
        Some(2),
        "metadata changes do not bump generation"
    );
    let e = api_err(
        api.patch("w1", &PatchParams::default(), &Patch::Strategic(json!({})))
            .await
            .expect_err("no SMP on CRs"),
    );
    assert_eq!(e.code, 415);

    // Deleting the CRD removes the resource.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete crd");
    let e = api_err(api.get("w1").await.expect_err("no longer served"));
    assert_eq!(e.code, 404);
}

#[tokio::test]
async fn crd_with_bad_names_is_refused() {
    let (_c, client) = cluster().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let mut v: serde_json::Value = serde_json::from_str(CRD).expect("json");
    v["metadata"]["name"] = json!("wrong.example.com");
    let crd: CustomResourceDefinition = serde_json::from_value(v).expect("crd");
    let e = api_err(
        crds.create(&PostParams::default(), &crd)
            .await
            .expect_err("invalid"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(e.message.starts_with("CustomResourceDefinition.apiextensions.k8s.io \"wrong.example.com\" is invalid: metadata.name"), "{}", e.message);
}

#[tokio::test]
async fn garbage_collection_background_and_foreground() {
    let (_c, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    for policy in ["Background", "Foreground"] {
        let owner = cms
            .create(
                &PostParams::default(),
                &cm(&format!("owner-{}", policy.to_lowercase()), &[]),
            )
            .await
            .expect("owner");
        let dep_name = format!("dep-{}", policy.to_lowercase());
        let dep = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(dep_name.clone()),
                owner_references: Some(vec![
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                        api_version: "v1".into(),
                        kind: "ConfigMap".into(),
                        name: owner.metadata.name.clone().expect("name"),
                        uid: owner.metadata.uid.clone().expect("uid"),
                        block_owner_deletion: Some(true),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            },
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &dep)
            .await
            .expect("dependent");
        let dp = if policy == "Foreground" {
            DeleteParams::foreground()
        } else {
            DeleteParams::background()
        };
        cms.delete(owner.metadata.name.as_deref().expect("name"), &dp)
            .await
            .expect("delete owner");
        eventually("dependent collected", || async {
            secrets
                .get_opt(&dep_name)
                .await
                .expect("get")
                .is_none()
                .then_some(())
        })
        .await;
        let owner_name = owner.metadata.name.clone().expect("name");
        eventually("owner gone", || async {
            cms.get_opt(&owner_name)
                .await
                .expect("get")
                .is_none()
                .then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn token_request_and_rbac_for_service_accounts() {
    let (c, client) = cluster().await;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "bot"}})).expect("sa"),
    )
    .await
    .expect("sa");
    let tr: k8s_openapi::api::authentication::v1::TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": ["esox"], "expirationSeconds": 600}}))
            .expect("tr");
    let issued = sas
        .create_token_request("bot", &PostParams::default(), &tr)
        .await
        .expect("token request");
    let token = issued.status.expect("status").token;
    let bot = c.client_with_token(&token).await.expect("bot client");
    let e = api_err(
        Api::<Secret>::namespaced(bot.clone(), "default")
            .list(&ListParams::default())
            .await
            .expect_err("no rights yet"),
    );
    assert_eq!(e.code, 403);
    assert_eq!(
        e.message,
        "secrets is forbidden: User \"system:serviceaccount:default:bot\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    let rbac = |kind: &str, body: serde_json::Value| {
        let client = client.clone();
        let kind = kind.to_string();
        async move {
            let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
                "rbac.authorization.k8s.io",
                "v1",
                &kind,
            ));
            let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
            let obj: DynamicObject = serde_json::from_value(body).expect("rbac object");
            api.create(&PostParams::default(), &obj)
                .await
                .expect("create rbac object");
        }
    };
    rbac("Role", json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}, "rules": [{"apiGroups": ["*"], "resources": ["secrets"], "verbs": ["list"]}]})).await;
    rbac("RoleBinding", json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}]})).await;
    Api::<Secret>::namespaced(bot.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("allowed now");
    // Deleting the account invalidates its tokens.
    sas.delete("bot", &DeleteParams::default())
        .await
        .expect("delete sa");
    match Api::<Secret>::namespaced(bot, "default")
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 401),
        Err(other) => assert!(other.to_string().contains("401"), "{other}"),
        Ok(_) => panic!("token of a deleted account accepted"),
    }
}

#[tokio::test]
async fn faults_restart_and_side_by_side_instances() {
    let (c, client) = cluster().await;
    let (c2, client2) = cluster().await;
    assert_ne!(c.url(), c2.url());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("keep", &[("a", "b")]))
        .await
        .expect("create");
    assert!(
        Api::<ConfigMap>::namespaced(client2, "default")
            .get_opt("keep")
            .await
            .expect("get")
            .is_none(),
        "instances are separate"
    );

    c.faults().fail(
        FaultMatch {
            verb: Some("get".into()),
            resource: Some("configmaps".into()),
            ..Default::default()
        },
        500,
        Some(1),
    );
    let e = api_err(api.get("keep").await.expect_err("injected"));
    assert_eq!(e.code, 500);
    api.get("keep").await.expect("fault used up");

    let delayed = c.faults().delay(
        FaultMatch {
            verb: Some("list".into()),
            ..Default::default()
        },
        std::time::Duration::from_millis(300),
        None,
    );
    let t = std::time::Instant::now();
    api.list(&ListParams::default()).await.expect("slow list");
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    c.faults().remove(delayed);

    let addr = c.addr();
    let restart = c.restart_after(std::time::Duration::from_millis(300));
    let probe = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        tokio::net::TcpStream::connect(addr).await
    };
    let (r, during) = tokio::join!(restart, probe);
    r.expect("restart");
    assert!(
        during.is_err(),
        "connections are refused while the server is down"
    );
    let fresh = c.client().await.expect("client after restart");
    let kept = Api::<ConfigMap>::namespaced(fresh, "default")
        .get("keep")
        .await
        .expect("state kept");
    assert_eq!(
        kept.data.and_then(|d| d.get("a").cloned()).as_deref(),
        Some("b")
    );
}

#[tokio::test]
async fn cut_watches_end_streams() {
    let (c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    // The initial state (kube-root-ca.crt) arrives first.
    assert!(matches!(
        stream.try_next().await.expect("ok"),
        Some(WatchEvent::Added(_))
    ));
    c.cut_watches();
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .expect("stream ends");
    assert!(end.is_none() || matches!(end, Some(Err(_))));
}

const VALIDATED_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "gadgets.example.com"},
  "spec": {"group": "example.com", "scope": "Cluster",
    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
    "versions": [{"name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "required": ["provider"],
          "x-kubernetes-validations": [{"rule": "self.replicas <= 5", "message": "at most five replicas"}],
          "properties": {
            "provider": {"type": "string", "enum": ["aws", "gcp"]},
            "replicas": {"type": "integer", "default": 1}}}}}}}]}}"#;

/// CRD and custom resource validation follow "Extend the Kubernetes API with
/// CustomResourceDefinitions" (structural schemas, defaulting, pruning, validation rules).
#[tokio::test]
async fn custom_resources_are_pruned_defaulted_and_validated() {
    let (_c, client) = cluster().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    // A schema without types is not structural and is refused.
    let mut bad: serde_json::Value = serde_json::from_str(VALIDATED_CRD).expect("json");
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        json!({"properties": {"x": {}}});
    let bad: CustomResourceDefinition = serde_json::from_value(bad).expect("crd");
    let e = api_err(
        crds.create(&PostParams::default(), &bad)
            .await
            .expect_err("non-structural"),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("spec.versions[0].schema.openAPIV3Schema"),
        "{}",
        e.message
    );

    let crd: CustomResourceDefinition = serde_json::from_str(VALIDATED_CRD).expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    let api: Api<DynamicObject> = Api::all_with(client, &ar);

    let mut g = DynamicObject::new("g1", &ar);
    g.data = json!({"spec": {"provider": "aws", "unknown": true}});
    let created = api
        .create(&PostParams::default(), &g)
        .await
        .expect("valid gadget");
    assert_eq!(created.data["spec"]["replicas"], 1, "defaulted");
    assert!(created.data["spec"].get("unknown").is_none(), "pruned");
    // With fieldValidation=Strict (kubectl's default) unknown fields are refused instead.
    let strict = PatchParams::default().validation_strict();
    let e = api_err(
        api.patch(
            "g1",
            &strict,
            &Patch::Merge(json!({"spec": {"unknown": true}})),
        )
        .await
        .expect_err("strict"),
    );
    assert_eq!(e.code, 400);
    assert_eq!(
        e.message,
        "Gadget in version \"v1\" cannot be handled as a Gadget: strict decoding error: unknown field \"spec.unknown\""
    );

    let mut g2 = DynamicObject::new("g2", &ar);
    g2.data = json!({"spec": {"provider": "azure"}});
    let e = api_err(
        api.create(&PostParams::default(), &g2)
            .await
            .expect_err("enum"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let details = e.details.expect("details");
    assert_eq!(details.causes[0].field, "spec.provider");
    assert_eq!(details.causes[0].reason, "FieldValueNotSupported");
    assert!(
        e.message
            .starts_with("Gadget.example.com \"g2\" is invalid: "),
        "{}",
        e.message
    );
    assert!(
        e.message.contains(
            "spec.provider: Unsupported value: \"azure\": supported values: \"aws\", \"gcp\""
        ),
        "{}",
        e.message
    );

    let mut g3 = DynamicObject::new("g3", &ar);
    g3.data = json!({"spec": {}});
    let e = api_err(
        api.create(&PostParams::default(), &g3)
            .await
            .expect_err("required"),
    );
    assert!(
        e.message.contains("spec.provider: Required value"),
        "{}",
        e.message
    );

    let e = api_err(
        api.patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 9}})),
        )
        .await
        .expect_err("CEL rule"),
    );
    assert!(e.message.contains("at most five replicas"), "{}", e.message);
}

/// "API concepts: watch" with a label selector: an object whose labels stop matching is
/// reported as DELETED to that watch, and one that starts matching as ADDED.
#[tokio::test]
async fn label_selected_watch_sees_objects_enter_and_leave() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = api
        .watch(&WatchParams::default().labels("sel=yes"), "0")
        .await
        .expect("watch")
        .boxed();
    api.create(&PostParams::default(), &cm("moving", &[]))
        .await
        .expect("create");
    api.patch(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"sel": "yes"}}})),
    )
    .await
    .expect("label");
    api.patch(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"sel": "no"}}})),
    )
    .await
    .expect("relabel");
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(5), stream.try_next())
            .await
            .expect("event")
            .expect("ok");
        match ev {
            Some(WatchEvent::Added(o)) => {
                kinds.push(format!("ADDED {}", o.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Deleted(o)) => {
                kinds.push(format!("DELETED {}", o.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Modified(o)) => {
                kinds.push(format!("MODIFIED {}", o.metadata.name.unwrap_or_default()))
            }
            Some(WatchEvent::Bookmark(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED moving", "DELETED moving"]);
}

#[tokio::test]
async fn client_certificates_authenticate_as_cn_and_groups() {
    let (c, _client) = cluster().await;
    let admin_cert = c
        .issue_client_cert("alice", &["system:masters"])
        .expect("cert");
    let alice = c.client_with_cert(&admin_cert).await.expect("client");
    Api::<Secret>::namespaced(alice, "default")
        .list(&ListParams::default())
        .await
        .expect("masters may list");
    let plain = c.issue_client_cert("bob", &["devs"]).expect("cert");
    let bob = c.client_with_cert(&plain).await.expect("client");
    let e = api_err(
        Api::<Secret>::namespaced(bob, "default")
            .list(&ListParams::default())
            .await
            .expect_err("bob has no rights"),
    );
    assert_eq!(e.code, 403);
    assert!(
        e.message.contains("User \"bob\" cannot list"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn event_recorder_creates_and_updates_series() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let (_c, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let target = cms
        .create(&PostParams::default(), &cm("evt", &[]))
        .await
        .expect("create");
    let reference = kube::Resource::object_ref(&target, &());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "esox-test".into(),
            instance: None,
        },
    );
    let ev = Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("ok".into()),
        action: "Sync".into(),
        secondary: None,
    };
    recorder
        .publish(&ev, &reference)
        .await
        .expect("first event");
    recorder
        .publish(&ev, &reference)
        .await
        .expect("repeat becomes a series");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client, "default");
    let list = events
        .list(&ListParams::default())
        .await
        .expect("list events");
    assert_eq!(list.items.len(), 1);
    let e = &list.items[0];
    assert_eq!(e.reason.as_deref(), Some("Synced"));
    assert_eq!(e.series.as_ref().map(|s| s.count), Some(2));
}

/// Creating in a missing namespace is 404 for the namespace; in a Terminating one, 403
/// (see "Namespaces" and the NamespaceLifecycle admission plugin).
#[tokio::test]
async fn namespace_lifecycle_errors() {
    let (_c, client) = cluster().await;
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let e = api_err(
        missing
            .create(&PostParams::default(), &cm("x", &[]))
            .await
            .expect_err("no namespace"),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (404, "namespaces \"nope\" not found")
    );

    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "held"}})).expect("ns"),
    )
    .await
    .expect("ns");
    let held: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    let mut blocker = cm("blocker", &[]);
    blocker.metadata.finalizers = Some(vec!["test/keep".into()]);
    held.create(&PostParams::default(), &blocker)
        .await
        .expect("blocker");
    nss.delete("held", &DeleteParams::default())
        .await
        .expect("delete ns");
    let ns = nss.get("held").await.expect("still terminating");
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let e = api_err(
        held.create(&PostParams::default(), &cm("late", &[]))
            .await
            .expect_err("terminating"),
    );
    assert_eq!(e.code, 403);
    assert!(
        e.message.contains("because it is being terminated"),
        "{}",
        e.message
    );
    // Releasing the finalizer lets the namespace go.
    eventually("blocker marked for deletion", || async {
        held.get("blocker")
            .await
            .ok()?
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    held.patch(
        "blocker",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually("namespace gone", || async {
        nss.get_opt("held")
            .await
            .expect("get")
            .is_none()
            .then_some(())
    })
    .await;
}

/// Requests without credentials are `system:anonymous`: public paths answer, the rest is 403
/// (a real API server with the default `--anonymous-auth=true`).
#[tokio::test]
async fn anonymous_requests_reach_public_paths_only() {
    let (c, _client) = cluster().await;
    // The admin kubeconfig with its user's credentials removed.
    let yaml = c.kubeconfig_yaml();
    let token_line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .expect("token line")
        .to_string();
    let yaml = yaml.replace(&token_line, "    username: nobody");
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let anonymous = kube::Client::try_from(config).expect("client");
    let version = anonymous.apiserver_version().await;
    assert!(version.is_ok(), "/version is public: {version:?}");
    let e = api_err(
        Api::<Secret>::namespaced(anonymous, "default")
            .list(&ListParams::default())
            .await
            .expect_err("forbidden"),
    );
    assert_eq!(e.code, 403);
    assert!(
        e.message.contains("User \"system:anonymous\""),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn watch_timeout_dry_run_and_status_apply() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // timeoutSeconds ends the stream.
    let t = std::time::Instant::now();
    let mut stream = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .expect("watch")
        .boxed();
    while stream.try_next().await.expect("ok").is_some() {}
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(900)
            && t.elapsed() < std::time::Duration::from_secs(5)
    );
    // dryRun stores nothing.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let made = api
        .create(&dry, &cm("dry", &[("a", "b")]))
        .await
        .expect("dry create");
    assert_eq!(made.metadata.name.as_deref(), Some("dry"));
    assert!(api.get_opt("dry").await.expect("get").is_none());

    // Server-side apply through the status subresource, as a controller reports status.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(
        &PostParams::default(),
        &serde_json::from_str(CRD).expect("crd"),
    )
    .await
    .expect("crd");
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let mut w = DynamicObject::new("sw", &ar);
    w.data = json!({"spec": {"size": 1}});
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("widget");
    let status = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "sw"}, "status": {"ready": true}});
    let applied = widgets
        .patch_status(
            "sw",
            &PatchParams::apply("esox-controller").force(),
            &Patch::Apply(&status),
        )
        .await
        .expect("status apply");
    assert_eq!(applied.data["status"]["ready"], true);
    assert_eq!(applied.data["spec"]["size"], 1);
    let mf = applied.metadata.managed_fields.unwrap_or_default();
    let entry = mf
        .iter()
        .find(|e| e.manager.as_deref() == Some("esox-controller"))
        .expect("status manager entry");
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
}

#[tokio::test]
async fn namespace_defaults_are_recreated() {
    let (c, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let before = cms
        .get("kube-root-ca.crt")
        .await
        .expect("root CA configmap");
    assert_eq!(
        before
            .data
            .as_ref()
            .and_then(|d| d.get("ca.crt"))
            .map(String::as_str),
        Some(c.ca_pem())
    );
    cms.delete("kube-root-ca.crt", &DeleteParams::default())
        .await
        .expect("delete");
    let after = eventually("kube-root-ca.crt recreated", || async {
        cms.get_opt("kube-root-ca.crt").await.expect("get")
    })
    .await;
    assert_ne!(after.metadata.uid, before.metadata.uid);
    let sas: Api<ServiceAccount> = Api::namespaced(client, "default");
    sas.delete("default", &DeleteParams::default())
        .await
        .expect("delete sa");
    eventually("default SA recreated", || async {
        sas.get_opt("default").await.expect("get")
    })
    .await;
}

#[tokio::test]
async fn delete_collection_honours_selectors() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for (name, team) in [("dc-a", "x"), ("dc-b", "x"), ("dc-c", "y")] {
        let mut m = cm(name, &[]);
        m.metadata.labels = Some(BTreeMap::from([("team".to_string(), team.to_string())]));
        api.create(&PostParams::default(), &m)
            .await
            .expect("create");
    }
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("team=x"),
    )
    .await
    .expect("deletecollection");
    let left: Vec<String> = api
        .list(&ListParams::default().labels("team"))
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(left, ["dc-c"]);
}

/// Streaming lists ("API concepts: streaming lists"): initial ADDED events, then a bookmark
/// annotated `k8s.io/initial-events-end`, which kube's watcher needs to report InitDone.
#[tokio::test]
async fn watcher_with_streaming_lists() {
    let (_c, client) = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("before", &[]))
        .await
        .expect("create");
    let mut events = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), events.try_next())
            .await
            .expect("event")
            .expect("ok");
        match ev {
            Some(watcher::Event::InitApply(o)) => initial.push(o.metadata.name.unwrap_or_default()),
            Some(watcher::Event::InitDone) => break,
            Some(watcher::Event::Init) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["before", "kube-root-ca.crt"]);
    api.create(&PostParams::default(), &cm("after", &[]))
        .await
        .expect("create");
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), events.try_next())
        .await
        .expect("event")
        .expect("ok");
    assert!(
        matches!(ev, Some(watcher::Event::Apply(ref o)) if o.metadata.name.as_deref() == Some("after")),
        "{ev:?}"
    );
}
