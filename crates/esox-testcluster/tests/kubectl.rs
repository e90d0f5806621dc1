//! The test cluster driven by the real kubectl (/usr/bin/kubectl).

mod common;

use base64::Engine;
use common::{eventually, start};
use serde_json::Value;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn kubectl_create_get_delete_secret() {
    let env = start().await;
    env.kubectl_ok(
        &[
            "create",
            "secret",
            "generic",
            "s1",
            "-n",
            "default",
            "--from-literal=a=b",
        ],
        None,
    )
    .await;
    let s = env
        .kubectl_json(&["get", "secret", "s1", "-n", "default"])
        .await;
    assert_eq!(s["data"]["a"], b64("b"));
    assert_eq!(s["type"], "Opaque");
    assert!(s["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    // AlreadyExists as kubectl reports it.
    let again = env
        .kubectl(
            &[
                "create",
                "secret",
                "generic",
                "s1",
                "-n",
                "default",
                "--from-literal=a=b",
            ],
            None,
        )
        .await;
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("secrets \"s1\" already exists"), "{err}");
    env.kubectl_ok(&["delete", "secret", "s1", "-n", "default"], None)
        .await;
    let gone = env
        .kubectl(&["get", "secret", "s1", "-n", "default"], None)
        .await;
    assert!(
        String::from_utf8_lossy(&gone.stderr)
            .contains("Error from server (NotFound): secrets \"s1\" not found")
    );
}

#[tokio::test]
async fn kubectl_get_table_and_label_selector() {
    let env = start().await;
    for (name, app) in [("a", "x"), ("b", "y"), ("c", "x")] {
        env.kubectl_ok(&["create", "configmap", name, "--from-literal=k=v"], None)
            .await;
        env.kubectl_ok(&["label", "configmap", name, &format!("app={app}")], None)
            .await;
    }
    let names = env
        .kubectl_ok(&["get", "configmaps", "-l", "app=x", "-o", "name"], None)
        .await;
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["configmap/a", "configmap/c"]
    );
    // Default output uses server-side Table printing.
    let table = env
        .kubectl_ok(&["get", "configmaps", "-l", "app in (x,y)"], None)
        .await;
    assert!(
        table.lines().next().is_some_and(|h| h.starts_with("NAME")),
        "{table}"
    );
    assert_eq!(table.lines().count(), 4, "{table}");
    // Paging through kubectl's --chunk-size.
    let chunked = env
        .kubectl_ok(&["get", "configmaps", "--chunk-size=1", "-o", "name"], None)
        .await;
    assert_eq!(
        chunked.lines().count(),
        4,
        "a, b, c and kube-root-ca.crt: {chunked}"
    );
}

const CM_V1: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: default
data:
  one: \"1\"
  two: \"2\"
";

const CM_V2: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: default
data:
  one: \"uno\"
";

#[tokio::test]
async fn kubectl_client_side_apply_three_way() {
    let env = start().await;
    let out = env.kubectl_ok(&["apply", "-f", "-"], Some(CM_V1)).await;
    assert!(out.contains("configmap/applied created"), "{out}");
    let out = env.kubectl_ok(&["apply", "-f", "-"], Some(CM_V2)).await;
    assert!(out.contains("configmap/applied configured"), "{out}");
    let cm = env.kubectl_json(&["get", "configmap", "applied"]).await;
    assert_eq!(
        cm["data"],
        serde_json::json!({"one": "uno"}),
        "removed key pruned by the three-way merge"
    );
    let last = cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or("");
    assert!(last.contains("uno"));
    let out = env.kubectl_ok(&["apply", "-f", "-"], Some(CM_V2)).await;
    assert!(out.contains("configmap/applied unchanged"), "{out}");
}

#[tokio::test]
async fn kubectl_server_side_apply_conflicts_and_force() {
    let env = start().await;
    env.kubectl_ok(
        &["apply", "--server-side", "--field-manager=first", "-f", "-"],
        Some(CM_V1),
    )
    .await;
    let cm = env
        .kubectl_json(&["get", "configmap", "applied", "--show-managed-fields"])
        .await;
    let mf = &cm["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "first");
    assert_eq!(mf["operation"], "Apply");
    let conflict = env
        .kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager=second",
                "-f",
                "-",
            ],
            Some(CM_V2),
        )
        .await;
    assert!(!conflict.status.success());
    let err = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        err.contains("conflict") && err.contains("first") && err.contains(".data.one"),
        "{err}"
    );
    env.kubectl_ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=second",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(CM_V2),
    )
    .await;
    let cm = env.kubectl_json(&["get", "configmap", "applied"]).await;
    assert_eq!(cm["data"]["one"], "uno");
    // "two" still belongs to "first", so it stays.
    assert_eq!(cm["data"]["two"], "2");
}

#[tokio::test]
async fn kubectl_watch_sees_new_objects() {
    let env = start().await;
    let kc = env.kubeconfig.clone();
    let mut child = tokio::process::Command::new(common::KUBECTL)
        .arg("--kubeconfig")
        .arg(&kc)
        .args([
            "get",
            "configmaps",
            "--watch",
            "--output-watch-events",
            "-o",
            "jsonpath={.type} {.object.metadata.name}{\"\\n\"}",
        ])
        .env("HOME", &env.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl watch starts");
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .expect("initial event")
        .expect("read");
    assert_eq!(first.as_deref(), Some("ADDED kube-root-ca.crt"));
    env.kubectl_ok(
        &["create", "configmap", "watched", "--from-literal=a=b"],
        None,
    )
    .await;
    env.kubectl_ok(&["delete", "configmap", "watched"], None)
        .await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let l = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .expect("event")
            .expect("read");
        seen.push(l.unwrap_or_default());
    }
    assert_eq!(seen, ["ADDED watched", "DELETED watched"]);
    let _ = child.kill().await;
}

#[tokio::test]
async fn kubectl_auth_can_i_and_create_token() {
    let env = start().await;
    env.kubectl_ok(&["create", "namespace", "foo"], None).await;
    env.kubectl_ok(&["create", "serviceaccount", "reader", "-n", "foo"], None)
        .await;
    env.kubectl_ok(
        &[
            "create",
            "role",
            "read-cm",
            "-n",
            "foo",
            "--verb=get,list",
            "--resource=configmaps",
            "--resource-name=x",
        ],
        None,
    )
    .await;
    env.kubectl_ok(
        &[
            "create",
            "role",
            "list-cm",
            "-n",
            "foo",
            "--verb=list",
            "--resource=configmaps",
        ],
        None,
    )
    .await;
    env.kubectl_ok(
        &[
            "create",
            "rolebinding",
            "rb",
            "-n",
            "foo",
            "--role=read-cm",
            "--serviceaccount=foo:reader",
        ],
        None,
    )
    .await;
    env.kubectl_ok(
        &[
            "create",
            "rolebinding",
            "rb2",
            "-n",
            "foo",
            "--role=list-cm",
            "--serviceaccount=foo:reader",
        ],
        None,
    )
    .await;
    let token = env
        .kubectl_ok(&["create", "token", "reader", "-n", "foo"], None)
        .await;
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    // Impersonation is not supported; use the token directly.
    let can = |args: Vec<String>| {
        let env = &env;
        async move {
            let mut a: Vec<&str> = vec!["--token", token, "auth", "can-i"];
            a.extend(args.iter().map(String::as_str));
            let out = env.kubectl(&a, None).await;
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    assert_eq!(
        can(vec![
            "get".into(),
            "configmaps/x".into(),
            "-n".into(),
            "foo".into()
        ])
        .await,
        "yes"
    );
    assert_eq!(
        can(vec![
            "get".into(),
            "configmaps/y".into(),
            "-n".into(),
            "foo".into()
        ])
        .await,
        "no"
    );
    assert_eq!(
        can(vec![
            "list".into(),
            "configmaps".into(),
            "-n".into(),
            "foo".into()
        ])
        .await,
        "yes"
    );
    assert_eq!(
        can(vec![
            "list".into(),
            "configmaps".into(),
            "-n".into(),
            "default".into()
        ])
        .await,
        "no"
    );
    assert_eq!(
        env.kubectl_ok(&["auth", "can-i", "delete", "namespaces"], None)
            .await
            .trim(),
        "yes"
    );
    // `auth can-i --list` uses SelfSubjectRulesReview.
    let out = env
        .kubectl(
            &["--token", token, "auth", "can-i", "--list", "-n", "foo"],
            None,
        )
        .await;
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("configmaps") && list.contains("[x]"),
        "{list}"
    );
    // A forbidden request reads like the real server's.
    let out = env
        .kubectl(&["--token", token, "get", "secrets", "-n", "foo"], None)
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Error from server (Forbidden): secrets is forbidden: User \"system:serviceaccount:foo:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"foo\""), "{err}");
    // The bootstrap "view" ClusterRole bound in a namespace: reads but no Secrets.
    env.kubectl_ok(
        &[
            "create",
            "rolebinding",
            "viewer",
            "-n",
            "foo",
            "--clusterrole=view",
            "--serviceaccount=foo:reader",
        ],
        None,
    )
    .await;
    assert_eq!(
        can(vec![
            "get".into(),
            "configmaps/y".into(),
            "-n".into(),
            "foo".into()
        ])
        .await,
        "yes"
    );
    assert_eq!(
        can(vec![
            "get".into(),
            "secrets".into(),
            "-n".into(),
            "foo".into()
        ])
        .await,
        "no"
    );
    // An unknown token is 401.
    let out = env
        .kubectl(
            &["--token", "not-a-token", "get", "configmaps", "-n", "foo"],
            None,
        )
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unauthorized") || err.contains("provide credentials"),
        "{err}"
    );
}

#[tokio::test]
async fn kubectl_namespace_deletion_empties_it() {
    let env = start().await;
    env.kubectl_ok(&["create", "namespace", "doomed"], None)
        .await;
    env.kubectl_ok(
        &[
            "create",
            "configmap",
            "c",
            "-n",
            "doomed",
            "--from-literal=a=b",
        ],
        None,
    )
    .await;
    let sa = env
        .kubectl_json(&["get", "serviceaccount", "default", "-n", "doomed"])
        .await;
    assert_eq!(sa["metadata"]["name"], "default");
    let root = env
        .kubectl_json(&["get", "configmap", "kube-root-ca.crt", "-n", "doomed"])
        .await;
    assert!(
        root["data"]["ca.crt"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
    );
    env.kubectl_ok(
        &[
            "delete",
            "namespace",
            "doomed",
            "--wait=true",
            "--timeout=20s",
        ],
        None,
    )
    .await;
    let out = env.kubectl(&["get", "namespace", "doomed"], None).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("namespaces \"doomed\" not found"));
    let left = env
        .kubectl_ok(
            &[
                "get",
                "configmaps",
                "-A",
                "-o",
                "name",
                "--field-selector",
                "metadata.namespace=doomed",
            ],
            None,
        )
        .await;
    assert!(left.trim().is_empty(), "{left}");
}

/// The seed's Dev-cluster manifest: the token Secret gets filled, and its token can read and
/// write Secrets in `foo` only.
#[tokio::test]
async fn seed_dev_cluster_manifest_yields_a_working_token() {
    let env = start().await;
    env.kubectl_ok(&["create", "namespace", "foo"], None).await;
    env.kubectl_ok(
        &[
            "apply",
            "-f",
            "/work/shared/seed/manifests/3-cross-cluster-dev.yaml",
        ],
        None,
    )
    .await;
    let secret: Value = eventually("the token controller", || async {
        let s = env
            .kubectl_json(&["get", "secret", "eso-token", "-n", "foo"])
            .await;
        s["data"]["token"].is_string().then_some(s)
    })
    .await;
    let dec = |k: &str| {
        let raw = secret["data"][k].as_str().unwrap_or("");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .expect("base64"),
        )
        .expect("utf8")
    };
    assert_eq!(dec("namespace"), "foo");
    assert_eq!(dec("ca.crt"), env.cluster.ca_pem());
    let token = dec("token");
    let out = env
        .kubectl_ok(
            &[
                "--token",
                &token,
                "create",
                "secret",
                "generic",
                "written",
                "-n",
                "foo",
                "--from-literal=k=v",
            ],
            None,
        )
        .await;
    assert!(out.contains("secret/written created"));
    let got = env
        .kubectl_ok(
            &[
                "--token",
                &token,
                "get",
                "secret",
                "written",
                "-n",
                "foo",
                "-o",
                "jsonpath={.data.k}",
            ],
            None,
        )
        .await;
    assert_eq!(got, b64("v"));
    let out = env
        .kubectl(
            &["--token", &token, "get", "secrets", "-n", "default"],
            None,
        )
        .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("(Forbidden)"));
    let out = env
        .kubectl(
            &[
                "--token",
                &token,
                "create",
                "secret",
                "generic",
                "x",
                "-n",
                "default",
                "--from-literal=k=v",
            ],
            None,
        )
        .await;
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "cannot create resource \"secrets\" in API group \"\" in the namespace \"default\""
    ));
    // The whole manifest deletes cleanly, as on a real cluster (the token controller removes
    // an account's token Secrets only a moment later).
    let copy = env.dir.join("dev.yaml");
    std::fs::copy(
        "/work/shared/seed/manifests/3-cross-cluster-dev.yaml",
        &copy,
    )
    .expect("copy manifest");
    env.kubectl_ok(&["delete", "-f", copy.to_str().expect("path")], None)
        .await;
    // Deleting the Secret (and the account) revoked the token.
    let out = env
        .kubectl(&["--token", &token, "get", "secrets", "-n", "foo"], None)
        .await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unauthorized")
            || String::from_utf8_lossy(&out.stderr).contains("provide credentials")
    );
}

const CRD_AND_CR: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo, listKind: GizmoList, shortNames: [gz]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string, enum: [red, blue]}
"#;

#[tokio::test]
async fn kubectl_applies_crds_and_custom_resources() {
    let env = start().await;
    env.kubectl_ok(&["apply", "-f", "-"], Some(CRD_AND_CR))
        .await;
    env.kubectl_ok(
        &[
            "wait",
            "--for=condition=established",
            "crd/gizmos.example.com",
            "--timeout=10s",
        ],
        None,
    )
    .await;
    let cr = "apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n  namespace: default\nspec:\n  color: red\n";
    let out = env.kubectl_ok(&["apply", "-f", "-"], Some(cr)).await;
    assert!(out.contains("gizmo.example.com/g created"), "{out}");
    let out = env
        .kubectl_ok(&["apply", "-f", "-"], Some(&cr.replace("red", "blue")))
        .await;
    assert!(out.contains("gizmo.example.com/g configured"), "{out}");
    assert_eq!(
        env.kubectl_ok(&["get", "gz", "g", "-o", "jsonpath={.spec.color}"], None)
            .await,
        "blue"
    );
    // Schema validation reaches kubectl as the real server's message.
    let out = env
        .kubectl(&["apply", "-f", "-"], Some(&cr.replace("red", "green")))
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.color: Unsupported value: \"green\""),
        "{err}"
    );
    // kubectl validates strictly by default: unknown fields are refused by the server.
    let out = env
        .kubectl(
            &["apply", "-f", "-"],
            Some(&cr.replace("color: red", "color: red\n  shade: dark")),
        )
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"spec.shade\""), "{err}");
    env.kubectl_ok(&["delete", "gizmo", "g"], None).await;
    let left = env.kubectl_ok(&["get", "gizmos", "-o", "name"], None).await;
    assert!(left.trim().is_empty(), "{left}");
}
