//! Differential tests against Go itself: a small Go program (`tools/core-oracle`) prints
//! what Go's fmt, sha3, encoding/json, encoding/base64, regexp, time and tidwall/gjson
//! produce, and every case is compared with esox-core.
//!
//! The oracle is a Go module (`tools/core-oracle/go.mod`) pinned at the gjson and cron versions
//! ESO v2.9.0 builds with, built with the Go toolchain on PATH (or `ESOX_GO`) from the module
//! proxy; Go keeps its module and build caches outside the checkout. Without Go, or when the
//! build fails, the test is skipped with a notice, unless `ESOX_REQUIRE_GO_ORACLE=1` is set (as in
//! CI), where it fails the run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use esox_core::decoding::{self, DecodingStrategy};
use esox_core::keys::{self, ConversionStrategy};
use esox_core::{duration, go_json, go_regex, hash, property, rewrite, sync_window};

fn find_go() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ESOX_GO") {
        return Some(PathBuf::from(p));
    }
    let on_path = Command::new("go").arg("version").output().ok()?;
    on_path.status.success().then(|| PathBuf::from("go"))
}

fn required() -> bool {
    std::env::var("ESOX_REQUIRE_GO_ORACLE").as_deref() == Ok("1")
}

fn build_oracle() -> Option<PathBuf> {
    let Some(go) = find_go() else {
        assert!(
            !required(),
            "ESOX_REQUIRE_GO_ORACLE=1 but no Go toolchain found (Go 1.26 or newer on PATH, or ESOX_GO)"
        );
        eprintln!("SKIPPED: no Go toolchain; Go differential tests did not run");
        return None;
    };
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let bin = tmp.join("core-oracle");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/core-oracle");
    // Module mode with the checked-in go.sum; GOTOOLCHAIN=local so an old Go fails with its
    // own message instead of downloading a toolchain. Go's default module and build caches
    // (outside the checkout) make the second build instant.
    let out = Command::new(&go)
        .args(["build", "-mod=readonly", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GO111MODULE", "on")
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local")
        .output();
    let failure = match out {
        Ok(o) if o.status.success() => return Some(bin),
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => format!("cannot run {}: {e}", go.display()),
    };
    assert!(
        !required(),
        "building tools/core-oracle failed (needs Go 1.26+ and the Go module proxy or a filled module cache):\n{failure}"
    );
    eprintln!(
        "SKIPPED: building tools/core-oracle failed; Go differential tests did not run:\n{failure}"
    );
    None
}

/// Sends all requests at once and returns the answers in order.
fn ask(bin: &Path, requests: &[Value]) -> Vec<Value> {
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start oracle");
    let mut input = String::new();
    for r in requests {
        input.push_str(&r.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).expect("write"));
    let answers: Vec<Value> = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json answer"))
        .collect();
    writer.join().expect("writer");
    assert!(child.wait().expect("wait").success(), "oracle failed");
    assert_eq!(answers.len(), requests.len(), "one answer per request");
    answers
}

/// Small deterministic generator so the corpus is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn string(&mut self, alphabet: &[&str], max: usize) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| *self.pick(alphabet)).collect()
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const KEY_CHARS: &[&str] = &[
    "a", "Z", "0", "9", "-", ".", "_", "/", " ", ":", "é", "ß", "中", "ǅ", "ʰ", "٣", "Ⅻ", "²",
    "\u{301}", "\u{345}", "€", "©", "😀", "\u{a0}", "!", "$", "[", "]", "=", "\t", "ﬁ",
];

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// Compares one Go answer with esox-core's result.
type Expectation = Box<dyn Fn(&Value) -> Result<(), String>>;

struct Check {
    name: &'static str,
    requests: Vec<Value>,
    expected: Vec<Expectation>,
}

impl Check {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            requests: Vec::new(),
            expected: Vec::new(),
        }
    }
    fn case(&mut self, req: Value, f: impl Fn(&Value) -> Result<(), String> + 'static) {
        self.requests.push(req);
        self.expected.push(Box::new(f));
    }
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, ours: T, go: T) -> Result<(), String> {
    if ours == go {
        Ok(())
    } else {
        Err(format!("{what}: esox {ours:?} != go {go:?}"))
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

fn hashes(rng: &mut Rng) -> Check {
    let mut c = Check::new("hash");
    let mut maps: Vec<Option<BTreeMap<String, Vec<u8>>>> = vec![None, Some(BTreeMap::new())];
    maps.push(Some(BTreeMap::from([("foo".to_owned(), b"bar".to_vec())])));
    maps.push(Some(BTreeMap::from([("e".to_owned(), Vec::new())])));
    for _ in 0..200 {
        let n = rng.below(5);
        maps.push(Some(
            (0..n)
                .map(|_| (rng.string(KEY_CHARS, 6), rng.bytes(8)))
                .collect(),
        ));
    }
    for m in maps {
        let data: Value = match &m {
            None => Value::Null,
            Some(m) => m.iter().map(|(k, v)| (k.clone(), json!(b64(v)))).collect(),
        };
        let ours = m.unwrap_or_default();
        c.case(json!({"op": "data_hash", "data": data}), move |go| {
            eq("text", hash::go_format_bytes_map(&ours), s(go, "text"))?;
            eq("hash", hash::data_hash(&ours), s(go, "out"))
        });
    }
    for i in 0..200 {
        let strmap = |rng: &mut Rng| -> BTreeMap<String, String> {
            (0..rng.below(4))
                .map(|_| (rng.string(KEY_CHARS, 5), rng.string(KEY_CHARS, 5)))
                .collect()
        };
        let labels = strmap(rng);
        let annotations = strmap(rng);
        let generation = (i as i64) * 7 - 3;
        let lj = if labels.is_empty() && i % 2 == 0 {
            Value::Null
        } else {
            json!(labels)
        };
        c.case(
            json!({"op": "meta_hash", "generation": generation, "labels": lj, "annotations": annotations}),
            move |go| {
                eq("text", hash::go_format_meta(&labels, &annotations), s(go, "text"))?;
                eq("version", hash::synced_resource_version(generation, &labels, &annotations), s(go, "out"))
            },
        );
    }
    let mut docs: Vec<String> = [
        "null", "{}", "[]", r#"{"spec":{"replicas":3,"ratio":0.5,"big":1e6,"huge":12345678901234567890,"negf":-0.0,"tiny":0.00001,"t":true,"n":null,"l":[1,"a",{"b":2.50}],"s":"x y:z"}}"#,
        r#"{"a":1.0,"b":100000,"c":123456.7,"d":1234567.0,"e":0.0001,"f":1e21,"g":1e-7,"h":-2.5e-300,"i":9007199254740993}"#,
    ]
    .iter()
    .map(|d| (*d).to_owned())
    .collect();
    for _ in 0..100 {
        let f = f64::from_bits(rng.next() >> 2);
        let i = rng.next() as i64 >> rng.below(60);
        docs.push(format!(
            r#"{{"f":{f:e},"g":{f},"i":{i},"k":"{}"}}"#,
            rng.string(&["a", " ", ":", "é"], 4)
        ));
    }
    for doc in docs {
        let v: Value = serde_json::from_str(&doc).expect("valid doc");
        c.case(
            json!({"op": "unstructured", "in": b64(doc.as_bytes())}),
            move |go| {
                eq("text", hash::go_format_unstructured(&v), s(go, "text"))?;
                let value = if v.is_null() { None } else { Some(&v) };
                eq("hash", hash::unstructured_hash(value), s(go, "out"))
            },
        );
    }
    for len in [0usize, 1, 26, 27, 28, 40, 63, 100] {
        let name = "n".repeat(len);
        let n2 = name.clone();
        c.case(json!({"op": "fqdn", "name": name}), move |go| {
            eq("fqdn", hash::field_manager_name(&n2), s(go, "out"))
        });
        let ns = format!("ns{len}");
        let n3 = name.clone();
        c.case(
            json!({"op": "created_by", "namespace": ns, "name": name}),
            move |go| eq("created-by", hash::created_by_hash(&ns, &n3), s(go, "out")),
        );
    }
    c
}

fn conversions(rng: &mut Rng) -> Check {
    let mut c = Check::new("convert");
    let quote_chars = [
        "a",
        "\"",
        "\\",
        "\n",
        "\u{7}",
        "\u{1b}",
        "\u{7f}",
        "\u{a0}",
        "\u{200b}",
        "\u{ad}",
        "é",
        "😀",
        "\u{10ffff}",
        "\u{e000}",
        " ",
        "\u{3000}",
        "\u{2028}",
    ];
    for _ in 0..300 {
        let text = rng.string(&quote_chars, 6);
        let t2 = text.clone();
        c.case(json!({"op": "quote", "s": text}), move |go| {
            eq("quoted", keys::go_quote(&t2), s(go, "out"))
        });
    }
    for i in 0..600 {
        let key = rng.string(KEY_CHARS, 8);
        let (strategy, name) = if i % 2 == 0 {
            (ConversionStrategy::Default, "Default")
        } else {
            (ConversionStrategy::Unicode, "Unicode")
        };
        let k2 = key.clone();
        c.case(
            json!({"op": "convert", "strategy": name, "s": key}),
            move |go| {
                eq(
                    "key",
                    keys::convert_key(strategy, &k2).map_err(|e| e.to_string())?,
                    s(go, "out"),
                )
            },
        );
    }
    c
}

fn decodings(rng: &mut Rng) -> Check {
    let mut c = Check::new("decode");
    let url = base64::engine::general_purpose::URL_SAFE;
    let mut inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"YQ".to_vec(),
        b"YQ=".to_vec(),
        b"YQ==".to_vec(),
        b"YR==".to_vec(),
        b"YQ=\n=".to_vec(),
        b"Ym Fy".to_vec(),
        b"\r\nYmFy\r\n".to_vec(),
        b"-_8=".to_vec(),
        b"+/8=".to_vec(),
        b"YQ==YQ==".to_vec(),
        b"=".to_vec(),
        b"====".to_vec(),
        b"YmFy\t".to_vec(),
    ];
    for _ in 0..300 {
        let raw = rng.bytes(10);
        let mut enc = if rng.below(2) == 0 {
            b64(&raw)
        } else {
            url.encode(&raw)
        }
        .into_bytes();
        match rng.below(5) {
            0 => {
                let at = rng.below(enc.len() + 1);
                enc.insert(at, *rng.pick(b"\n\r =*"));
            }
            1 => {
                while enc.last() == Some(&b'=') {
                    enc.pop();
                }
            }
            2 => enc = rng.bytes(6),
            _ => {}
        }
        inputs.push(enc);
    }
    for input in inputs {
        for (strategy, name) in [
            (DecodingStrategy::Base64, "Base64"),
            (DecodingStrategy::Base64Url, "Base64URL"),
            (DecodingStrategy::Auto, "Auto"),
        ] {
            let i2 = input.clone();
            c.case(
                json!({"op": "decode", "strategy": name, "in": b64(&input)}),
                move |go| {
                    let ours = decoding::decode(strategy, &i2);
                    let go_err = go["err"].as_bool().unwrap_or(false);
                    eq("error", ours.is_err(), go_err)?;
                    if let Ok(out) = ours {
                        let go_out = STANDARD.decode(s(go, "out_b")).map_err(|e| e.to_string())?;
                        eq("bytes", out, go_out)?;
                    }
                    Ok(())
                },
            );
        }
    }
    c
}

fn durations(rng: &mut Rng) -> Check {
    let mut c = Check::new("duration");
    let mut texts: Vec<String> = [
        "1h",
        "1h0m0s",
        "90s",
        "0",
        "-0",
        "+0",
        "0s",
        "1.5h",
        "300ms",
        ".5s",
        "5.s",
        ".s",
        "1µs",
        "1μs",
        "1us",
        "1ns",
        "",
        "1",
        "1d",
        "-",
        "+",
        "1h-1m",
        "2562047h47m16.854775807s",
        "2562047h47m16.854775808s",
        "-2562047h47m16.854775808s",
        "0.000000001s",
        "1.0000000001s",
        "9223372036854775807ns",
        "9223372036854775808ns",
        "1.1s",
        "3.0000001m",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let alphabet = [
        "0", "1", "5", "9", ".", "h", "m", "s", "ms", "us", "ns", "-", "+", "µ",
    ];
    for _ in 0..400 {
        texts.push(rng.string(&alphabet, 7));
    }
    for t in texts {
        let t2 = t.clone();
        c.case(json!({"op": "duration_parse", "s": t}), move |go| {
            let ours = duration::parse(&t2);
            eq("error", ours.is_err(), go["err"].as_bool().unwrap_or(false))?;
            if let Ok(n) = ours {
                eq("nanos", n, go["nanos"].as_i64().unwrap_or(0))?;
            }
            Ok(())
        });
    }
    let mut values = vec![
        0i64,
        1,
        999,
        1000,
        1001,
        999_999,
        1_000_000,
        1_500_000,
        i64::MAX,
        i64::MIN,
        -1,
    ];
    for _ in 0..300 {
        let v = rng.next() as i64;
        values.push(v >> rng.below(63));
    }
    for v in values {
        c.case(json!({"op": "duration_format", "nanos": v}), move |go| {
            eq("text", duration::format(v), s(go, "out"))
        });
    }
    c
}

const DOCS: &[&str] = &[
    r#"{"a":"x","b":{"c":"y","d":[1,2,{"e":"f"}]},"n":1.50,"i":-3,"big":12345678901234567890,"exp":1e3,"neg0":-0,"t":true,"f":false,"z":null}"#,
    r#"{"name":{"first":"Tom","last":"Anderson"},"age":37,"children":["Sara","Alex","Jack"],"fav.movie":"Deer Hunter","friends":[{"first":"Dale","last":"Murphy","age":44,"nets":["ig","fb","tw"]},{"first":"Roger","last":"Craig","age":68,"nets":["fb","tw"]},{"first":"Jane","last":"Murphy","age":47,"nets":["ig","tw"]}]}"#,
    r#"{"esc":"a\"b\\c\nd\u00e9\u2028<&>","uni":"日本","emptyo":{},"emptya":[],"nested":{"x":{"y":{"z":"deep"}}}}"#,
    r#"[1,"two",{"three":3}]"#,
    r#""just a string""#,
    r#"{"dup":1,"dup":2}"#,
    r#"{"num":0.1,"small":1e-7,"huge":1e21,"frac":2.50e+2}"#,
    "not json at all",
    r#"{"a":1"#,
    r#"{"k":"\b\f"}"#,
    r#"{"a":-,"b":1.5x,"c":tru,"d":nope,"e":nul}"#,
    "-",
    "  {\"a\" : [ 1 , 2 ] }  ",
];

/// Cases where the gjson crate and Go gjson disagree, pinned so that a fix upstream is
/// noticed. All but one are on documents that are not JSON; the other is `@reverse`
/// keeping insignificant whitespace. The two `@pretty` ones appeared with gjson 1.18 and
/// tidwall/pretty 1.2.1 (ESO v2.9's versions), which pretty-print invalid input differently.
const KNOWN_GJSON_DIVERGENCES: &[(&str, &str)] = &[
    ("not json at all", "@reverse"),
    ("not json at all", "..0"),
    ("not json at all", "@ugly"),
    ("not json at all", "@this"),
    ("not json at all", "@flatten"),
    ("not json at all", "@join"),
    ("not json at all", "@pretty"),
    (r#"{"a":1"#, "..0"),
    (r#"{"a":-,"b":1.5x,"c":tru,"d":nope,"e":nul}"#, "b"),
    (r#"{"a":-,"b":1.5x,"c":tru,"d":nope,"e":nul}"#, "@reverse"),
    (r#"{"a":-,"b":1.5x,"c":tru,"d":nope,"e":nul}"#, "@pretty"),
    ("  {\"a\" : [ 1 , 2 ] }  ", "@reverse"),
];

/// Modifiers Go gjson has and the gjson crate lacks: with them a property is reported as
/// missing instead of returning a different value.
const UNSUPPORTED_GJSON_MODIFIERS: &[&str] = &["@keys", "@values", "@tostr", "@fromstr"];

const PATHS: &[&str] = &[
    "a",
    "b",
    "b.c",
    "b.d",
    "b.d.0",
    "b.d.2.e",
    "b.d.#",
    "n",
    "i",
    "big",
    "exp",
    "neg0",
    "t",
    "f",
    "z",
    "missing",
    "name.last",
    "age",
    "children",
    "children.#",
    "children.1",
    "child*",
    "c?ildren",
    "fav\\.movie",
    "friends.#.first",
    "friends.#(last==\"Murphy\").first",
    "friends.#(last==\"Murphy\")#.first",
    "friends.#(age>45)#.last",
    "friends.1.nets.0",
    "esc",
    "uni",
    "emptyo",
    "emptya",
    "nested.x.y.z",
    "nested.x",
    "0",
    "1",
    "2.three",
    "#",
    "dup",
    "num",
    "small",
    "huge",
    "frac",
    "k",
    "@reverse",
    "children|@reverse",
    "name.first|@this",
    "..0",
    "a.",
    "",
    "@pretty",
    "@ugly",
    "@this",
    "@valid",
    "@flatten",
    "@join",
    "@keys",
    "@values",
    "@tostr",
    "@fromstr",
    "children.@reverse",
    "friends.#.nets|@flatten",
    "friends.0.@ugly",
    "[name.first,age]",
    "{name.first,age}",
    "friends.#(nets.#(==\"fb\"))#.first",
    "friends.#(first%\"D*\").last",
    "friends.#(first!%\"D*\").last",
];

fn gjsons() -> Check {
    let mut c = Check::new("gjson");
    for doc in DOCS {
        for path in PATHS {
            let (d, p) = (*doc, *path);
            if UNSUPPORTED_GJSON_MODIFIERS.iter().any(|m| p.contains(m)) {
                c.case(
                    json!({"op": "gjson", "json": doc, "path": path}),
                    move |go| {
                        let ours = property::gjson_get_string(d, p);
                        if ours.is_none() || !go["exists"].as_bool().unwrap_or(false) {
                            Ok(())
                        } else {
                            Err(format!("unsupported modifier now answers {ours:?}"))
                        }
                    },
                );
                continue;
            }
            if KNOWN_GJSON_DIVERGENCES.contains(&(d, p)) {
                c.case(
                    json!({"op": "gjson", "json": doc, "path": path}),
                    move |go| {
                        // Pinned so that a fix upstream is noticed and the entry removed.
                        let ours = property::gjson_get_string(d, p);
                        let same = ours.is_some() == go["exists"].as_bool().unwrap_or(false)
                            && ours.unwrap_or_default() == s(go, "out");
                        if same {
                            Err("known divergence no longer diverges".to_owned())
                        } else {
                            Ok(())
                        }
                    },
                );
                continue;
            }
            c.case(
                json!({"op": "gjson", "json": doc, "path": path}),
                move |go| {
                    let ours = property::gjson_get_string(d, p);
                    let go_exists = go["exists"].as_bool().unwrap_or(false);
                    eq("exists", ours.is_some(), go_exists)?;
                    if let Some(v) = ours {
                        eq("value", v, s(go, "out"))?;
                    }
                    Ok(())
                },
            );
        }
    }
    c
}

fn regexes(rng: &mut Rng) -> Check {
    let mut c = Check::new("regexp");
    let patterns = [
        "a",
        "a*",
        "",
        "^",
        "$",
        "(a)(b)?",
        "(?P<first>[a-z]+)-(?P<second>\\d+)",
        "\\d+",
        "\\w+",
        "\\s",
        "\\bé",
        "[\\d.]+",
        "[^\\w]",
        "(?i)É",
        ".",
        "(a|ab)(c|bcd)",
        "x*",
        "\\W",
        "[[:alpha:]]+",
        "\\Qa.b\\E",
        "a{,2}",
        "a{2}",
        "(?U)a+",
        "(?s).",
        "[^\\d\\s]",
        "\\pL+",
        "\\p{Greek}",
        "[[:^alpha:]]",
        "\\Q$1\\E(b)",
        "^$",
        "(?m)^",
        "a|",
        "[]a]",
        "[^]a]",
        "é|e",
    ];
    let templates = [
        "X",
        "$1",
        "${1}x",
        "$1x",
        "$$",
        "$",
        "${1",
        "$01",
        "$first_$second",
        "${first}_${second}",
        "[$0]",
        "$9",
        "${second}$first",
        "$-",
        "a$",
        "$é",
        "${}",
    ];
    let srcs = [
        "",
        "ab",
        "baaac",
        "abc-123",
        "foo-42 bar-7",
        "é e É",
        "a\tb c",
        "x٣y",
        "aab",
        "abcd",
    ];
    for p in patterns {
        for src in srcs {
            for _ in 0..2 {
                let t = *rng.pick(&templates);
                c.case(
                    json!({"op": "replace", "pattern": p, "src": src, "template": t}),
                    move |go| {
                        let re = go_regex::compile(p).map_err(|e| e.to_string())?;
                        eq("replaced", rewrite::replace_all(&re, src, t), s(go, "out"))
                    },
                );
            }
            c.case(
                json!({"op": "match", "pattern": p, "src": src}),
                move |go| {
                    let re = go_regex::compile(p).map_err(|e| e.to_string())?;
                    eq(
                        "match",
                        re.is_match(src),
                        go["exists"].as_bool().unwrap_or(false),
                    )
                },
            );
        }
    }
    c
}

fn jsons(rng: &mut Rng) -> Check {
    let mut c = Check::new("json");
    for doc in DOCS {
        let d = (*doc).to_owned();
        c.case(
            json!({"op": "json_any", "in": b64(doc.as_bytes())}),
            move |go| {
                let parsed = go_json::parse(d.as_bytes());
                eq(
                    "error",
                    parsed.is_err(),
                    go["err"].as_bool().unwrap_or(false),
                )?;
                if let Ok(v) = parsed {
                    eq(
                        "plain",
                        go_json::value(&v, go_json::HtmlEscape::Off),
                        s(go, "out"),
                    )?;
                    eq(
                        "html",
                        go_json::value(&v, go_json::HtmlEscape::On),
                        s(go, "html"),
                    )?;
                }
                Ok(())
            },
        );
    }
    let mut objects: Vec<String> = DOCS.iter().map(|d| (*d).to_owned()).collect();
    for _ in 0..150 {
        let f = f64::from_bits(rng.next() >> 2);
        let n = rng.next() as i64 >> rng.below(63);
        objects.push(format!(
            r#"{{"f":{f:e},"n":{n},"s":"{}","o":{{"z":[{f},"<&>",null,false],"a":{{}}}},"t":true,"x":null}}"#,
            rng.string(&["a", "<", "é", "\\n", "\\u2028", " "], 5)
        ));
    }
    for doc in objects {
        c.case(
            json!({"op": "object_values", "in": b64(doc.as_bytes())}),
            move |go| {
                let parsed = go_json::parse(doc.as_bytes());
                let fields = match parsed {
                    Ok(Value::Object(fields)) => Some(fields),
                    Ok(Value::Null) => Some(serde_json::Map::new()),
                    _ => None,
                };
                eq(
                    "error",
                    fields.is_none(),
                    go["err"].as_bool().unwrap_or(false),
                )?;
                let Some(fields) = fields else { return Ok(()) };
                let go_bytes: BTreeMap<String, String> =
                    serde_json::from_str(&s(go, "out")).map_err(|e| e.to_string())?;
                let go_json_values: BTreeMap<String, String> =
                    serde_json::from_str(&s(go, "html")).map_err(|e| e.to_string())?;
                let ours_bytes: BTreeMap<String, String> = fields
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            String::from_utf8_lossy(&rewrite::value_bytes(v)).into_owned(),
                        )
                    })
                    .collect();
                let ours_json: BTreeMap<String, String> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), go_json::value(v, go_json::HtmlEscape::Off)))
                    .collect();
                eq("GetByteValue", ours_bytes, go_bytes)?;
                eq("JSONMarshal", ours_json, go_json_values)
            },
        );
    }
    let value_chars = [
        "a", "<", ">", "&", "\"", "\\", "\n", "\u{1}", "\u{1f}", "\u{7f}", "\u{2028}", "\u{2029}",
        "é", "😀", "\u{b}",
    ];
    for _ in 0..300 {
        let mut m = BTreeMap::new();
        for _ in 0..rng.below(4) {
            let mut v = rng.string(&value_chars, 6).into_bytes();
            if rng.below(3) == 0 {
                v.push(*rng.pick(&[0xff, 0xc3, 0xe2, 0x80]));
            }
            m.insert(rng.string(KEY_CHARS, 4), v);
        }
        let data: Value = m.iter().map(|(k, v)| (k.clone(), json!(b64(v)))).collect();
        c.case(json!({"op": "json_strmap", "data": data}), move |go| {
            eq(
                "json",
                go_json::bytes_map_as_strings(&m, go_json::HtmlEscape::Off),
                s(go, "out"),
            )
        });
    }
    let mut floats: Vec<String> = [
        "0",
        "-0",
        "1",
        "1.5",
        "0.1",
        "1e21",
        "1e-7",
        "123456789012345678901234567890",
        "5e-324",
        "1.7976931348623157e308",
        "0.000001",
        "100",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for _ in 0..200 {
        floats.push(format!("{:e}", f64::from_bits(rng.next() >> 2)));
    }
    for f in floats {
        let f2 = f.clone();
        c.case(json!({"op": "format_float", "s": f}), move |go| {
            let v: f64 = f2.parse().map_err(|_| "rust parse".to_owned())?;
            eq("float", go_json::format_float_f(v), s(go, "out"))
        });
    }
    c
}

fn crons(rng: &mut Rng) -> Check {
    let mut c = Check::new("cron");
    let mut specs: Vec<String> = [
        "* * * * *",
        "0 * * * *",
        "0 9 * * *",
        "*/15 9-17 * * mon-fri",
        "0 0 1 * *",
        "0 0 1 * sun",
        "0 0 29 2 *",
        "0 0 30 2 *",
        "30 23 31 * *",
        "5/10 * * * *",
        "0 0 * * 0",
        "0 0 * * 7",
        "@daily",
        "@hourly",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@midnight",
        "@every 90s",
        "@every 1h30m",
        "@every 100ms",
        "@every 1.5s",
        "@every",
        "@often",
        "",
        "* * * *",
        "0 0 ? * *",
        "0 0 * JAN,Feb,mar ?",
        "1-5/2 * * * *",
        "*-5 * * * *",
        "0 0 L * *",
        "TZ=UTC 0 12 * * *",
        "60 * * * *",
        "+5 * * * *",
        "-5 * * * *",
        "1,,2 * * * *",
        "0 0 */2 * 1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let parts = [
        "*", "*/2", "*/7", "1", "5", "0-3", "10-20/5", "?", "mon", "sun-wed", "jun", "1,15", "31",
        "23", "0",
    ];
    for _ in 0..150 {
        specs.push(
            (0..5)
                .map(|_| *rng.pick(&parts))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    for spec in specs {
        for _ in 0..4 {
            // Instants between 2020 and 2030, with sub-second parts.
            let at: i64 = 1_577_836_800_000_000_000 + (rng.next() % 315_360_000_000_000_000) as i64;
            let dur: i64 = *rng.pick(&[0i64, 1, 59, 60, 3600, 7200, 86_400]) * duration::SECOND;
            let sp = spec.clone();
            c.case(
                json!({"op": "cron", "s": spec, "at": at, "nanos": dur}),
                move |go| {
                    let parsed = sync_window::parse(&sp);
                    eq(
                        "error",
                        parsed.is_err(),
                        go["err"].as_bool().unwrap_or(false),
                    )?;
                    let Ok(schedule) = parsed else { return Ok(()) };
                    let at_t = std::time::SystemTime::UNIX_EPOCH
                        + std::time::Duration::from_nanos(at as u64);
                    let ours = match schedule.next_after(at_t) {
                        None => "zero".to_owned(),
                        Some(n) => n
                            .duration_since(std::time::SystemTime::UNIX_EPOCH)
                            .map(|d| d.as_nanos().to_string())
                            .unwrap_or_default(),
                    };
                    eq("next", ours, s(go, "out"))?;
                    eq(
                        "within",
                        sync_window::is_within_window(&schedule, dur, at_t),
                        go["exists"].as_bool().unwrap_or(false),
                    )
                },
            );
        }
    }
    c
}

fn properties(rng: &mut Rng) -> Check {
    let mut c = Check::new("property");
    let values = [
        r#"{"a":"x","b":{"c":"<y>","n":1.50},"l":[1,"two"],"t":true,"z":null}"#,
        r#"{"dev":"seb","num":12345678901234567890,"e":1e-7}"#,
        r#"{"k":"v"}"#,
        "null",
        "[1,2]",
        "plain text",
        "",
        r#"{"a":{"b":{"c":"deep"}},"a.b":"dotted"}"#,
        "\u{1}\u{2}",
    ];
    let keys = ["cfg", "x.y", "x", "file.png", "a", "dev"];
    let props = [
        "cfg",
        "x.y",
        "x",
        "cfg.a",
        "cfg.b.c",
        "cfg.b",
        "cfg.l.1",
        "cfg.l.#",
        "x.y.k",
        "file.png",
        "a.b",
        "a.b.c",
        "a",
        "dev",
        "cfg.",
        ".cfg",
        "missing",
        "cfg.missing",
        "x\\.y",
        "cfg.z",
        "cfg.t",
    ];
    for _ in 0..200 {
        let mut data = BTreeMap::new();
        for _ in 0..1 + rng.below(3) {
            data.insert(
                (*rng.pick(&keys)).to_owned(),
                rng.pick(&values).as_bytes().to_vec(),
            );
        }
        let prop = *rng.pick(&props);
        let wire: Value = data
            .iter()
            .map(|(k, v)| (k.clone(), json!(b64(v))))
            .collect();
        let d1 = data.clone();
        c.case(
            json!({"op": "get_value", "data": wire.clone(), "path": prop}),
            move |go| {
                let empty = BTreeMap::new();
                let view = property::SecretView {
                    name: "s",
                    data: &d1,
                    labels: &empty,
                    annotations: &empty,
                };
                let ours = property::get_secret_value(view, Some(prop), false).ok();
                eq(
                    "found",
                    ours.is_some(),
                    go["exists"].as_bool().unwrap_or(false),
                )?;
                if let Some(v) = ours {
                    let go_v = STANDARD.decode(s(go, "out_b")).map_err(|e| e.to_string())?;
                    eq("value", v, go_v)?;
                }
                Ok(())
            },
        );
        c.case(
            json!({"op": "extract_property", "data": wire, "path": prop}),
            move |go| {
                let empty = BTreeMap::new();
                let view = property::SecretView {
                    name: "s",
                    data: &data,
                    labels: &empty,
                    annotations: &empty,
                };
                let ours = property::get_secret_map(view, Some(prop), false);
                let go_err = go["err"].as_bool().unwrap_or(false);
                let go_found = go["exists"].as_bool().unwrap_or(false);
                match ours {
                    Ok(map) => {
                        eq("found", true, go_found && !go_err)?;
                        let go_map: BTreeMap<String, String> =
                            serde_json::from_str(&s(go, "out")).map_err(|e| e.to_string())?;
                        let ours: BTreeMap<String, String> = map
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                            .collect();
                        eq("fields", ours, go_map)
                    }
                    Err(property::PropertyError::NotInKey { .. }) => eq("found", false, go_found),
                    Err(_) => eq("error", true, go_err),
                }
            },
        );
    }
    c
}

#[test]
fn esox_core_matches_go() {
    let Some(bin) = build_oracle() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let checks = [
        hashes(&mut rng),
        conversions(&mut rng),
        decodings(&mut rng),
        durations(&mut rng),
        gjsons(),
        regexes(&mut rng),
        jsons(&mut rng),
        crons(&mut rng),
        properties(&mut rng),
    ];
    let mut failures = Vec::new();
    let mut total = 0;
    for check in &checks {
        let answers = ask(&bin, &check.requests);
        let mut failed = 0;
        for ((req, expect), go) in check.requests.iter().zip(&check.expected).zip(&answers) {
            if let Err(e) = expect(go) {
                failed += 1;
                failures.push(format!("[{}] {req}: {e}", check.name));
            }
        }
        total += check.requests.len();
        println!(
            "go oracle: {} cases for {}, {} mismatches",
            check.requests.len(),
            check.name,
            failed
        );
    }
    println!("go oracle: {total} cases in total");
    assert!(
        failures.is_empty(),
        "{} mismatches with Go:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
