//! `esox run` against a cluster without esox's CRDs says which are missing and how to install
//! them, stays unready, and starts once they are installed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::PostParams;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The status code of `GET path`, or 0 while the server is not up.
fn status(addr: SocketAddr, path: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

async fn until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_crds_esox_run_says_what_to_install_and_stays_unready_until_then() {
    let cluster = esox_testcluster::TestCluster::start(Default::default())
        .await
        .unwrap();
    let client = cluster.client().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    let log_path = dir.path().join("stderr");
    let health = free_addr();
    let _esox = Running(
        Command::new(env!("CARGO_BIN_EXE_esox"))
            .args(["run", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--metrics-addr", &free_addr().to_string()])
            .args(["--health-addr", &health.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("esox runs"),
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let said = until(Duration::from_secs(20), || {
        log().contains("esox crds | kubectl apply --server-side -f -")
    })
    .await;
    let text = log();
    assert!(said, "the log says how to install the CRDs: {text}");
    assert!(
        text.contains("externalsecrets.external-secrets.io")
            && text.contains("pushsecrets.external-secrets.io"),
        "{text}"
    );
    assert!(!text.contains("404 page not found"), "no bare 404s: {text}");
    assert_eq!(status(health, "/healthz"), 200, "alive");
    assert_eq!(status(health, "/readyz"), 503, "not ready without CRDs");

    let crds: Api<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    > = Api::all(client.clone());
    for crd in esox_api::crd::all(&Default::default()) {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let ready = until(Duration::from_secs(20), || status(health, "/readyz") == 200).await;
    assert!(ready, "ready once the CRDs are served: {}", log());
}
