//! `esox render`, run as the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::process::{Command, Output};

use base64::Engine as _;

const DOCKER_ES: &str = r#"apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: registry, namespace: app}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: fake}
  target:
    template:
      type: kubernetes.io/dockerconfigjson
      data:
        .dockerconfigjson: '{"auths":{"{{ .registry }}":{"auth":"{{ printf "%s:%s" .user .pass | b64enc }}"}}}'
  dataFrom:
    - extract: {key: registry}
"#;

fn render(manifest: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("es.yaml");
    std::fs::write(&path, manifest).unwrap();
    Command::new(env!("CARGO_BIN_EXE_esox"))
        .arg("render")
        .arg("-f")
        .arg(&path)
        .args(args)
        .output()
        .unwrap()
}

fn decode(b64: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn dockerconfigjson_renders_as_yaml() {
    let out = render(
        DOCKER_ES,
        &[
            "--data",
            "registry=r.example.com",
            "--data",
            "user=bob",
            "--data",
            "pass=a=b",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let secret: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(secret["apiVersion"], "v1");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(secret["metadata"]["name"], "registry");
    assert_eq!(secret["metadata"]["namespace"], "app");
    let config: serde_json::Value = serde_json::from_str(&decode(
        secret["data"][".dockerconfigjson"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        decode(config["auths"]["r.example.com"]["auth"].as_str().unwrap()),
        "bob:a=b"
    );
}

#[test]
fn json_output_without_template_keeps_the_data() {
    let es = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: plain, namespace: app, labels: {team: a}}\nspec:\n  target: {name: out}\n  data:\n    - {secretKey: k, remoteRef: {key: x}}\n";
    let out = render(es, &["--data", "k=v1", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(secret["metadata"]["name"], "out");
    assert_eq!(secret["metadata"]["labels"]["team"], "a");
    assert_eq!(decode(secret["data"]["k"].as_str().unwrap()), "v1");
}

#[test]
fn template_error_exits_non_zero_with_message() {
    let out = render(DOCKER_ES, &["--data", "registry=r.example.com"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("could not apply template"), "{stderr}");
    assert!(stderr.contains("user"), "{stderr}");
}

#[test]
fn non_breaking_space_is_reported_with_its_position() {
    let es = DOCKER_ES.replacen("metadata: {name", "metadata:\u{a0}{name", 1);
    let out = render(&es, &["--data", "registry=r"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("non-breaking space"), "{stderr}");
    assert!(stderr.contains(":3:10"), "{stderr}");
}

#[test]
fn merge_policy_needs_and_keeps_the_existing_secret() {
    let es = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: m, namespace: app}\nspec:\n  target: {name: existing, creationPolicy: Merge}\n";
    let out = render(es, &["--data", "new=1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from-secret"));

    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.yaml");
    std::fs::write(
        &secret,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: existing, namespace: app}\ndata: {old: b2xk}\n",
    )
    .unwrap();
    let out = render(
        es,
        &[
            "--data",
            "new=1",
            "-o",
            "json",
            "--from-secret",
            secret.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decode(rendered["data"]["old"].as_str().unwrap()), "old");
    assert_eq!(decode(rendered["data"]["new"].as_str().unwrap()), "1");
}
