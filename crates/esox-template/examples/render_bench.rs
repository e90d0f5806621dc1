//! Rendering benchmark: parses and executes 10,000 templates of typical size
//! (ESO parses every template on every reconcile, so parsing is included).
//! Run with `cargo run --release -p esox-template --example render_bench`.

use std::collections::BTreeMap;
use std::time::Instant;

use esox_template::{Value, render};

const TEMPLATES: &[&str] = &[
    r#"{"auths":{"{{ .registry }}":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}"#,
    "postgres://{{ .username }}:{{ .password | urlquery }}@{{ .host }}:{{ index . \"port\" | default \"5432\" }}/{{ .database }}?sslmode=require",
    "{{ .config | fromJson | toYaml }}",
    "{{- range $k, $v := . }}\n{{ $k | upper | replace \"-\" \"_\" }}={{ $v | quote }}\n{{- end }}",
    "{{ if hasPrefix \"-----BEGIN\" .tls_crt }}{{ .tls_crt | filterPEM \"CERTIFICATE\" }}{{ else }}{{ .tls_crt | b64dec }}{{ end }}",
    "{{ $d := dict \"user\" .username \"pass\" .password }}{{ $_ := set $d \"host\" .host }}{{ toJson $d }}",
];

fn main() {
    let mut data = BTreeMap::new();
    for (k, v) in [
        ("registry", "registry.example.com"),
        ("username", "robot$deployer"),
        ("password", "c0rrect-h0rse-battery-staple/+="),
        ("host", "db.internal.example.com"),
        ("database", "orders"),
        (
            "config",
            r#"{"log":{"level":"info","json":true},"replicas":3,"features":["a","b"]}"#,
        ),
        (
            "tls_crt",
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0FGRQ==\n-----END CERTIFICATE-----\n",
        ),
        ("api-key", "k-0123456789abcdef"),
    ] {
        data.insert(k.to_string(), v.to_string());
    }
    let value = Value::from(data);
    let n = 10_000;
    // Warm up and check that every template renders.
    for t in TEMPLATES {
        if let Err(e) = render("bench", t, &value, None) {
            eprintln!("benchmark template failed: {e}");
            std::process::exit(1);
        }
    }
    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..n {
        let out = render("bench", TEMPLATES[i % TEMPLATES.len()], &value, None);
        bytes += out.map(|s| s.len()).unwrap_or(0);
    }
    let el = start.elapsed();
    println!(
        "rendered {n} templates (parse + execute, {} distinct, {bytes} output bytes) in {:.1} ms: {:.1} µs per template",
        TEMPLATES.len(),
        el.as_secs_f64() * 1e3,
        el.as_secs_f64() * 1e6 / n as f64
    );
}
