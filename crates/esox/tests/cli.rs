//! The binary, driven as a user would: `esox crds | kubectl apply --server-side -f -` against the
//! test API server, then the seed's four manifests applied unchanged with kubectl.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn esox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_esox"))
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl is installed (scripts/install-test-deps installs it)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn seed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/seed")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_install_with_kubectl_and_the_seed_manifests_apply_unchanged() {
    let cluster = esox_testcluster::TestCluster::start(Default::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    let kc = kubeconfig.clone();

    let result = tokio::task::spawn_blocking(move || {
        let crds = esox().arg("crds").output().unwrap();
        assert!(crds.status.success());
        let (ok, out) = kubectl(&kc, &["apply", "--server-side", "-f", "-"], Some(&crds.stdout));
        assert!(ok, "CRDs refused: {out}");
        // Every CRD esox prints is applied (14: ESO's six kinds, seven generators and the
        // ClusterGenerator).
        let printed = String::from_utf8_lossy(&crds.stdout)
            .matches("kind: CustomResourceDefinition")
            .count();
        assert_eq!(
            printed,
            esox_api::crd::all(&esox_api::crd::CrdOptions::default()).len()
        );
        assert_eq!(out.matches("serverside-applied").count(), printed, "{out}");
        let (ok, out) = kubectl(&kc, &["wait", "--for=condition=Established", "crd", "--all", "--timeout=20s"], None);
        assert!(ok, "{out}");

        for ns in ["foo", "bar"] {
            let (ok, out) = kubectl(&kc, &["create", "namespace", ns], None);
            assert!(ok, "{out}");
        }
        for (file, namespace) in [
            ("1-namespace-sync-clustersecretstore.yaml", None),
            ("2-namespace-sync-externalsecret.yaml", None),
            ("3-cross-cluster-dev.yaml", None),
            ("4-cross-cluster-platform.yaml", Some("foo")),
        ] {
            let path = seed(file);
            let path = path.to_str().unwrap();
            let mut args = vec!["apply", "--server-side", "-f", path];
            if let Some(ns) = namespace {
                args.extend(["-n", ns]);
            }
            let (ok, out) = kubectl(&kc, &args, None);
            assert!(ok, "{file} refused: {out}");
        }
        let (ok, out) = kubectl(&kc, &["get", "es", "-n", "bar"], None);
        assert!(ok && out.contains("pull-my-secret") && out.contains("ClusterSecretStore"), "{out}");
        let (ok, out) = kubectl(&kc, &["get", "ps", "push-my-secret-to-dev", "-n", "foo", "-o", "jsonpath={.spec.secretStoreRefs[0].name}"], None);
        assert!(ok && out == "foo-secret-store-dev", "{out}");
        let (ok, out) = kubectl(&kc, &["get", "clustersecretstores.v1.external-secrets.io", "foo-secret-store", "-o", "json"], None);
        assert!(ok && out.contains(r#""apiVersion": "external-secrets.io/v1""#), "served as v1: {out}");
        assert!(out.contains(r#""remoteNamespace": "foo""#), "{out}");

        // A webhook rule of ESO, enforced by CEL at apply time.
        let bad = b"apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: empty, namespace: bar}\nspec:\n  secretStoreRef: {name: foo-secret-store, kind: ClusterSecretStore}\n";
        let (ok, out) = kubectl(&kc, &["apply", "--server-side", "-f", "-"], Some(bad));
        assert!(!ok && out.contains("needs at least one entry in data or dataFrom"), "{out}");
    })
    .await;
    cluster.shutdown();
    result.unwrap();
}

#[test]
fn selectable_fields_are_opt_in() {
    let plain = esox().arg("crds").output().unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("selectableFields"));
    let with = esox()
        .args(["crds", "--selectable-fields"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&with.stdout).contains("selectableFields"));
}
