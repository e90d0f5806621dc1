//! Differential tests: esox-template against Go's text/template + Sprig.

mod oracle;

use oracle::{Case, compare, parse_corpus, same_error_texts};

#[test]
fn corpus_matches_go() {
    let cases = parse_corpus(include_str!("corpus/constructs.tmpl"));
    let n = cases.len();
    let bad = compare(&cases);
    let (same, both) = same_error_texts(&cases);
    println!(
        "differential corpus: {n} cases, {} identical, {} mismatches; {both} fail in both engines, {same} of them with Go's exact error text",
        n - bad.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {n} corpus cases differ from Go:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn eso_functions_match_go_reference() {
    // ESO's own functions against the oracle's reference versions (written
    // with Go's standard library and sigs.k8s.io/yaml, see tools/template-oracle/eso.go).
    let cases = parse_corpus(include_str!("corpus/eso.tmpl"));
    let n = cases.len();
    let bad = compare(&cases);
    println!(
        "differential ESO-function corpus: {n} cases, {} identical, {} mismatches",
        n - bad.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {n} ESO-function cases differ from Go:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Small deterministic generator so the word-case corpus is reproducible.
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
}

#[test]
fn word_cases_match_go() {
    // snakecase, kebabcase and camelcase (xstrings 1.5.0 word splitting) on hand-picked and
    // random strings mixing cases, digits, connectors, punctuation, symbols, other scripts,
    // CJK (which xstrings does not treat as letters) and, through b64dec, invalid UTF-8.
    const PIECES: &[&str] = &[
        "a", "b", "z", "A", "B", "Z", "HTTP", "Server", "id", "ID", "0", "1", "2", "9", "42", "_",
        "-", " ", "  ", "\t", "\n", ".", ",", "!", "?", "$", "+", "=", "^", "~", "/", ":", "é",
        "É", "ß", "Σ", "σ", "ς", "ǅ", "ǆ", "Ǆ", "Ⅻ", "ⅻ", "²", "٣", "中", "文", "㐀", "😀", "İ",
        "ı", "\u{a0}", "\u{2028}", "\u{3000}", "¿", "«", "»", "ﬁ", "ｱ", "Ａ", "ａ", "１",
        "\u{301}", "\u{fffd}", "Ω", "ω", "Ж", "ж", "ᾳ", "ʰ", "ª",
    ];
    let mut strings: Vec<String> = [
        "",
        "FirstName",
        "HTTPServer",
        "NoHTTPS",
        "GO_PATH",
        "GO PATH",
        "GO-PATH",
        "http2xx",
        "HTTP20xOK",
        "Duration2m3s",
        "Bld4Floor3rd",
        "some_words",
        "_complex__case_",
        "GOLANG_IS_GREAT",
        "-",
        "_",
        " ",
        "a",
        "A",
        "1",
        "--a--",
        "a1b2C3",
        "ÉtéÉté",
        "ΣΑΣ σας",
        "中文Name",
        "Name中文",
        "x.Y.z",
        "k8s_Secret-NAME",
        "API_KEY_2",
        "aGk=",
        "0x1F",
        "日本語",
        "hello world  again",
        "ǅemal",
        "Ⅻth",
        "a²b",
        "٣abc",
        "😀Smile😀",
        "İstanbul",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    let mut rng = Rng(0x5eed_c0de);
    for _ in 0..1500 {
        let n = 1 + rng.below(8);
        strings.push((0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect());
    }
    let mut cases: Vec<Case> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| Case {
            name: format!("w{i}"),
            tpl: "{{ snakecase .s }}|{{ kebabcase .s }}|{{ camelcase .s }}|{{ swapcase .s }}|{{ upper .s }}|{{ lower .s }}".into(),
            data: [("s".to_string(), serde_json::Value::from(s.as_str()))]
                .into_iter()
                .collect(),
            delims: None,
        })
        .collect();
    let mut raw = Vec::new();
    for i in 0..500 {
        let mut bytes = Vec::new();
        for _ in 0..1 + rng.below(6) {
            match rng.below(4) {
                0 => bytes.push(0x80 + rng.below(0x80) as u8),
                1 => bytes.extend_from_slice(&[0xe4, 0xb8][..1 + rng.below(2)]),
                _ => bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes()),
            }
        }
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(&bytes);
        raw.push(Case {
            name: format!("b{i}"),
            tpl: "{{ $s := b64dec .b }}{{ snakecase $s | b64enc }}|{{ kebabcase $s | b64enc }}|{{ camelcase $s | b64enc }}|{{ swapcase $s | b64enc }}".into(),
            data: [("b".to_string(), serde_json::Value::from(b))]
                .into_iter()
                .collect(),
            delims: None,
        });
    }
    cases.extend(raw);
    let n = cases.len();
    let bad = compare(&cases);
    println!(
        "differential word case: {n} cases (snakecase, kebabcase, camelcase, swapcase, upper, lower), {} identical, {} mismatches",
        n - bad.len(),
        bad.len()
    );
    let shown: Vec<&String> = bad.iter().take(20).collect();
    assert!(
        bad.is_empty(),
        "{} of {n} word-case cases differ from Go:\n{}",
        bad.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
