//! Secret values never reach an error message (issue 15): known canary values are fed through
//! every function of the template engine, in every argument position, and through the engine's
//! own error paths; no error may contain them. Errors go to a Ready condition, an Event and the
//! log, where a secret must not appear.

use std::collections::BTreeMap;

use esox_template::{Value, render};

/// Values shaped to trip parsers (URLs, dates, JSON, YAML, PEM, regexes, numbers, base64,
/// semver) so that each function reaches its error path with the canary inside the input.
const CANARIES: &[&str] = &[
    "zqCANARY81",
    "zq%zzCANARY81(",
    "\"zqCANARY81 -",
    "9.zqCANARY81",
    "-----BEGIN zqCANARY81-----\nzqCANARY81\n-----END X-----\n",
    "{\"a\":zqCANARY81",
    "a: [zqCANARY81\n  - :",
    "http://u:zqCANARY81@[::1",
    "2024-13-45 zqCANARY81",
    "v1.zqCANARY81",
    "[zqCANARY81",
];

/// Functions whose successful call generates RSA keys (seconds each): their error paths are
/// covered with non-integer arguments only.
fn slow(f: &str) -> bool {
    matches!(
        f,
        "genCA" | "genSelfSignedCert" | "genSignedCert" | "bcrypt" | "htpasswd"
    )
}

fn templates() -> Vec<String> {
    let mut out = Vec::new();
    for f in esox_template::funcs::names() {
        for arity in 1..=6usize {
            out.push(format!("{{{{ {f}{} }}}}", " .c".repeat(arity)));
            out.push(format!("{{{{ .c | {f}{} }}}}", " .c".repeat(arity - 1)));
            if slow(f) {
                continue;
            }
            for pos in 0..arity {
                for filler in [
                    "1",
                    "\"x\"",
                    "(list .c)",
                    "(dict .c .c)",
                    "(toDate \"2006\" \"2024\")",
                ] {
                    let args: Vec<&str> = (0..arity)
                        .map(|i| if i == pos { ".c" } else { filler })
                        .collect();
                    out.push(format!("{{{{ {f} {} }}}}", args.join(" ")));
                }
            }
        }
    }
    // The engine's own paths: field and map access, index, printf, range, comparison, calls.
    for t in [
        "{{ .c.x }}",
        "{{ index .c 99 }}",
        "{{ index (dict .c 1) .c .c }}",
        "{{ range .c }}{{ end }}",
        "{{ range $k, $v := .c }}{{ end }}",
        "{{ lt .c 1 }}",
        "{{ eq .c (list 1) }}",
        "{{ call .c }}",
        "{{ template .c }}",
        "{{ .c 1 }}",
        "{{ (dict \"k\" .c).k.x }}",
        "{{ len 1 | printf .c }}",
        "{{ slice .c 1 99 }}",
        "{{ include .c }}",
    ] {
        out.push(t.to_string());
    }
    out
}

#[test]
fn no_error_message_carries_a_canary() {
    let templates = templates();
    let mut leaks = Vec::new();
    let mut errors = 0usize;
    for canary in CANARIES {
        let data = Value::from(BTreeMap::from([("c".to_string(), canary.to_string())]));
        for t in &templates {
            if let Err(e) = render("t", t, &data, None) {
                errors += 1;
                let msg = e.to_string();
                // `fail` writes the template author's own message, by design.
                let by_author = msg.contains("error calling fail:");
                if msg.contains("CANARY") && !by_author {
                    leaks.push(format!("{t} with {canary:?}: {msg}"));
                }
            }
        }
    }
    println!(
        "canary: {} templates x {} canaries, {errors} errors checked, {} leaks",
        templates.len(),
        CANARIES.len(),
        leaks.len()
    );
    leaks.sort();
    leaks.dedup();
    assert!(
        leaks.is_empty(),
        "{} error messages carry a secret value:\n{}",
        leaks.len(),
        leaks
            .iter()
            .take(400)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn yaml_map_errors_carry_no_value() {
    // Issue 15: a templateFrom literal `{{ .password }}` rendering `*SuperSecretValue123` failed
    // with a YAML error quoting the value. parse_yaml_map reports position and kind only.
    for rendered in [
        "*SuperSecretValue123",
        "key: *SuperSecretValue123",
        "a: [SuperSecretValue123",
        "- SuperSecretValue123",
        "SuperSecretValue123",
        "k: v\n  bad: SuperSecretValue123\n",
    ] {
        let err = esox_template::parse_yaml_map(rendered).expect_err(rendered);
        let msg = err.to_string();
        assert!(!msg.contains("SuperSecret"), "{rendered:?}: {msg}");
        assert!(msg.contains("YAML"), "{rendered:?}: {msg}");
    }
    let ok = esox_template::parse_yaml_map("a: b\nc: 1\n").expect("a map");
    assert_eq!(ok.len(), 2);
}
