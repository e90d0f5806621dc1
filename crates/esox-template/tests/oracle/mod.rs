//! Runs the Go text/template + Sprig oracle (tools/template-oracle) in batch.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::Engine;

pub struct Case {
    pub name: String,
    pub tpl: String,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub delims: Option<(String, String)>,
}

pub enum Outcome {
    Ok(Vec<u8>),
    Err(String),
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the oracle once per test binary; panics with the reason if Go is missing or the
/// build fails (the differential tests never skip).
pub fn oracle_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("ESOX_TEMPLATE_ORACLE") {
            return PathBuf::from(p);
        }
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("template-oracle");
        let script = repo_root().join("tools/template-oracle/build.sh");
        let res = Command::new("sh").arg(&script).arg(&out).output();
        match res {
            Ok(o) if o.status.success() => out,
            Ok(o) => panic!(
                "building the Go template oracle failed ({}): {}\nIt needs Go 1.26 or newer and, \
                 the first time, the Go module proxy",
                script.display(),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run {}: {e}", script.display()),
        }
    })
}

pub fn run_oracle(cases: &[Case]) -> Vec<Outcome> {
    let mut child = Command::new(oracle_binary())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("TZ", "UTC")
        .spawn()
        .expect("start template oracle");
    let mut stdin = child.stdin.take().expect("oracle stdin");
    let reqs: Vec<String> = cases
        .iter()
        .map(|c| {
            let mut o = serde_json::json!({"name": c.name, "tpl": c.tpl, "data": c.data});
            if let Some((l, r)) = &c.delims {
                o["ldelim"] = l.clone().into();
                o["rdelim"] = r.clone().into();
            }
            o.to_string()
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for r in reqs {
            stdin.write_all(r.as_bytes()).expect("write oracle");
            stdin.write_all(b"\n").expect("write oracle");
        }
    });
    let stdout = BufReader::new(child.stdout.take().expect("oracle stdout"));
    let mut out = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("read oracle");
        let v: serde_json::Value = serde_json::from_str(&line).expect("oracle json");
        if v["ok"].as_bool() == Some(true) {
            let b = base64::engine::general_purpose::STANDARD
                .decode(v["out_b64"].as_str().unwrap_or(""))
                .expect("oracle base64");
            out.push(Outcome::Ok(b));
        } else {
            out.push(Outcome::Err(v["err"].as_str().unwrap_or("").to_string()));
        }
        if out.len() == cases.len() {
            break;
        }
    }
    writer.join().expect("writer thread");
    let _ = child.wait();
    assert_eq!(
        out.len(),
        cases.len(),
        "oracle answered fewer cases than asked"
    );
    out
}

pub fn render_esox(c: &Case) -> Result<Vec<u8>, String> {
    let data: std::collections::BTreeMap<String, String> = c
        .data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let delims = c.delims.as_ref().map(|(l, r)| (l.as_str(), r.as_str()));
    esox_template::render_bytes(&c.name, &c.tpl, &esox_template::Value::from(data), delims)
        .map_err(|e| e.to_string())
}

/// Compares esox with the oracle; returns the mismatch descriptions and the
/// number of cases skipped as Go-version differences.
pub fn compare(cases: &[Case]) -> Vec<String> {
    compare_counting(cases).0
}

/// How many of the cases that fail in both engines fail with the same text.
pub fn same_error_texts(cases: &[Case]) -> (usize, usize) {
    let want = run_oracle(cases);
    let (mut both, mut same) = (0, 0);
    for (c, w) in cases.iter().zip(want) {
        if let (Err(g), Outcome::Err(e)) = (render_esox(c), &w) {
            both += 1;
            if &g == e {
                same += 1;
            }
        }
    }
    (same, both)
}

pub fn compare_counting(cases: &[Case]) -> (Vec<String>, usize) {
    let want = run_oracle(cases);
    let mut bad = Vec::new();
    let mut skipped = 0;
    for (c, w) in cases.iter().zip(want) {
        let got = render_esox(c);
        // esox bounds output and sequence sizes (Go does not): a template that
        // hits the bound is a deliberate difference, counted as skipped.
        if let (Err(e), Outcome::Ok(_)) = (&got, &w)
            && (e.contains("exceeds the output limit")
                || e.contains("exceeds the limit of")
                || e.contains("sequence longer than"))
        {
            skipped += 1;
            continue;
        }
        match (&got, &w) {
            (Ok(g), Outcome::Ok(wb)) if g == wb => {}
            (Err(_), Outcome::Err(_)) => {}
            _ => {
                let ws = match &w {
                    Outcome::Ok(b) => format!("ok {:?}", String::from_utf8_lossy(b)),
                    Outcome::Err(e) => format!("err {e}"),
                };
                let gs = match &got {
                    Ok(s) => format!("ok {:?}", String::from_utf8_lossy(s)),
                    Err(e) => format!("err {e}"),
                };
                bad.push(format!(
                    "case {}: template {:?}\n   go:   {ws}\n   esox: {gs}",
                    c.name, c.tpl
                ));
            }
        }
    }
    (bad, skipped)
}

/// Parses the corpus format: "=== name" header, optional "data: {json}" and
/// "delims: L R" lines, a "---" line, then the template up to the next header.
pub fn parse_corpus(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut blocks = text.split("\n=== ");
    let first = blocks.next().unwrap_or("");
    let first = first.strip_prefix("=== ").map(|s| s.to_string());
    let all: Vec<String> = first
        .into_iter()
        .chain(blocks.map(|s| s.to_string()))
        .collect();
    for b in all {
        let (header, body) = b
            .split_once("\n---\n")
            .unwrap_or_else(|| panic!("corpus block without ---: {b}"));
        let mut lines = header.lines();
        let name = lines.next().unwrap_or("").trim().to_string();
        let mut data = serde_json::Map::new();
        let mut delims = None;
        for l in lines {
            if let Some(j) = l.strip_prefix("data: ") {
                data =
                    serde_json::from_str(j).unwrap_or_else(|e| panic!("bad data in {name}: {e}"));
            } else if let Some(d) = l.strip_prefix("delims: ") {
                let (a, b) = d.split_once(' ').expect("delims: L R");
                delims = Some((a.to_string(), b.to_string()));
            }
        }
        let tpl = body.strip_suffix('\n').unwrap_or(body).to_string();
        cases.push(Case {
            name,
            tpl,
            data,
            delims,
        });
    }
    cases
}
