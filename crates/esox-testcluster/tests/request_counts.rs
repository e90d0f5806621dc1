//! `TestCluster::request_counts`, which benchmarks use to count a client's API traffic.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use esox_testcluster::{Config, TestCluster};

#[tokio::test]
async fn reads_and_writes_are_counted_by_method() {
    let cluster = TestCluster::start(Config::default()).await.expect("start");
    let client = cluster.client().await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let (r0, w0) = cluster.request_counts();

    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "counted"}})).expect("ConfigMap");
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    api.get("counted").await.expect("get");
    api.list(&ListParams::default()).await.expect("list");
    // A failed request is still a request the server had to answer.
    assert!(api.get("missing").await.is_err());
    api.delete("counted", &Default::default())
        .await
        .expect("delete");

    let (r1, w1) = cluster.request_counts();
    assert_eq!((r1 - r0, w1 - w0), (3, 2));
}
