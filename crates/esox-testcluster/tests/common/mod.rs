#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use esox_testcluster::{Config, TestCluster};

pub const KUBECTL: &str = "/usr/bin/kubectl";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory unique to this test.
pub fn scratch_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("esox-testcluster-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub struct Env {
    pub cluster: TestCluster,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

pub async fn start() -> Env {
    let cluster = TestCluster::start(Config::default())
        .await
        .expect("cluster starts");
    let dir = scratch_dir();
    let kubeconfig = dir.join("kubeconfig");
    cluster
        .write_kubeconfig(&kubeconfig)
        .expect("kubeconfig written");
    Env {
        cluster,
        dir,
        kubeconfig,
    }
}

impl Env {
    /// Runs kubectl against this cluster (blocking call on a helper thread).
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let kc = self.kubeconfig.clone();
        let dir = self.dir.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let stdin = stdin.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(KUBECTL);
            cmd.arg("--kubeconfig")
                .arg(&kc)
                .args(&args)
                .env("HOME", &dir)
                .env("KUBECACHEDIR", dir.join("cache"));
            cmd.stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("kubectl runs");
            if let Some(input) = stdin {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(input.as_bytes())
                    .expect("write stdin");
            }
            child.wait_with_output().expect("kubectl output")
        })
        .await
        .expect("join")
    }

    /// Runs kubectl and asserts success, returning stdout.
    pub async fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub async fn kubectl_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&a, None).await).expect("kubectl printed JSON")
    }
}

/// Polls `f` until it returns Some or the timeout passes.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
