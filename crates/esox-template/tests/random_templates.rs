//! Property test: seeded random templates must render identically (or fail
//! together) in esox and in Go's text/template + Sprig.

mod oracle;

use oracle::{Case, compare_counting};

/// xorshift64*: deterministic, so a failing case can be reproduced from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

const KEYS: &[&str] = &[
    "user", "password", "host", "num", "flt", "json", "csv", "empty", "uni", "b64",
];
const STRS: &[&str] = &[
    "",
    "a",
    "abc",
    "Hello World",
    "x,y,,z",
    "  pad  ",
    "héllo",
    "42",
    "-7",
    "3.5",
    "0x1F",
    "true",
    "a\\tb",
    "<&>",
    "aGk=",
    "{\"k\":[1,2]}",
    "snake_case-word",
];
const INTS: &[&str] = &["0", "1", "2", "3", "-1", "10", "255", "-42", "1000000"];
const FLOATS: &[&str] = &[
    "0.5",
    "1.0",
    "2.5",
    "-3.25",
    "1e3",
    "1e-7",
    "123456.789",
    "0.1",
];

/// (name, argument kinds): s=string i=int f=float a=any l=list m=map v=variadic any.
const FUNCS: &[(&str, &str)] = &[
    ("upper", "s"),
    ("lower", "s"),
    ("title", "s"),
    ("untitle", "s"),
    ("trim", "s"),
    ("trimAll", "ss"),
    ("trimPrefix", "ss"),
    ("trimSuffix", "ss"),
    ("nospace", "s"),
    ("initials", "s"),
    ("swapcase", "s"),
    ("camelcase", "s"),
    ("abbrev", "is"),
    ("abbrevboth", "iis"),
    ("trunc", "is"),
    ("substr", "iis"),
    ("repeat", "is"),
    ("wrap", "is"),
    ("wrapWith", "iss"),
    ("contains", "ss"),
    ("hasPrefix", "ss"),
    ("hasSuffix", "ss"),
    ("quote", "v"),
    ("squote", "v"),
    ("cat", "v"),
    ("indent", "is"),
    ("nindent", "is"),
    ("replace", "sss"),
    ("plural", "ssi"),
    ("sha1sum", "s"),
    ("sha256sum", "s"),
    ("adler32sum", "s"),
    ("toString", "a"),
    ("atoi", "s"),
    ("int64", "a"),
    ("int", "a"),
    ("float64", "a"),
    ("seq", "ii"),
    ("toDecimal", "a"),
    ("split", "ss"),
    ("splitList", "ss"),
    ("splitn", "sis"),
    ("toStrings", "a"),
    ("until", "i"),
    ("untilStep", "iii"),
    ("add1", "a"),
    ("add", "v"),
    ("sub", "aa"),
    ("div", "aa"),
    ("mod", "aa"),
    ("mul", "av"),
    ("add1f", "a"),
    ("addf", "v"),
    ("subf", "av"),
    ("mulf", "av"),
    ("divf", "av"),
    ("max", "av"),
    ("min", "av"),
    ("maxf", "av"),
    ("minf", "av"),
    ("ceil", "a"),
    ("floor", "a"),
    ("round", "ai"),
    ("join", "sa"),
    ("sortAlpha", "a"),
    ("default", "aa"),
    ("empty", "a"),
    ("coalesce", "v"),
    ("all", "v"),
    ("any", "v"),
    ("compact", "l"),
    ("ternary", "aab"),
    ("list", "v"),
    ("dict", "v"),
    ("get", "ms"),
    ("hasKey", "ms"),
    ("pick", "ms"),
    ("omit", "ms"),
    ("append", "la"),
    ("prepend", "la"),
    ("first", "l"),
    ("rest", "l"),
    ("last", "l"),
    ("initial", "l"),
    ("reverse", "l"),
    ("uniq", "l"),
    ("without", "la"),
    ("has", "al"),
    ("slice", "lii"),
    ("concat", "ll"),
    ("chunk", "il"),
    ("toJson", "a"),
    ("toPrettyJson", "a"),
    ("toRawJson", "a"),
    ("fromJson", "s"),
    ("typeOf", "a"),
    ("kindOf", "a"),
    ("typeIs", "sa"),
    ("deepEqual", "aa"),
    ("base", "s"),
    ("dir", "s"),
    ("clean", "s"),
    ("ext", "s"),
    ("isAbs", "s"),
    ("b64enc", "s"),
    ("b64dec", "s"),
    ("b32enc", "s"),
    ("b32dec", "s"),
    ("regexMatch", "ss"),
    ("regexFind", "ss"),
    ("regexFindAll", "ssi"),
    ("regexReplaceAll", "sss"),
    ("regexSplit", "ssi"),
    ("regexQuoteMeta", "s"),
    ("len", "a"),
    ("index", "aa"),
    ("not", "a"),
    ("and", "aa"),
    ("or", "aa"),
    ("eq", "aa"),
    ("ne", "aa"),
    ("lt", "aa"),
    ("le", "aa"),
    ("gt", "aa"),
    ("ge", "aa"),
    ("print", "v"),
    ("println", "v"),
    ("html", "v"),
    ("js", "v"),
    ("urlquery", "v"),
    ("toYaml", "a"),
    ("date", "si"),
    ("htmlDate", "i"),
    ("dateInZone", "sis"),
    ("duration", "a"),
    ("durationRound", "s"),
    ("urlParse", "s"),
    ("semver", "s"),
    ("semverCompare", "ss"),
    ("filterPEM", "ss"),
    ("mustToPrettyJson", "a"),
];

const VERBS: &[&str] = &[
    "v", "s", "d", "q", "x", "X", "f", "g", "e", "t", "c", "o", "b", "T", "U", "G", "E",
];
const FLAGS: &[&str] = &[
    "", "", "", "-", "+", "#", " ", "0", "05", "8", "-6", ".2", "8.3", ".0", "+.1", "#x",
];
const REGEXES: &[&str] = &[
    "[a-z]+",
    "\\\\d+",
    "^a",
    "b$",
    "(x|y)",
    "[[:alpha:]]+",
    "\\\\s",
    ",",
    "l+",
    ".",
    "(a)(b)?",
];

struct Gen {
    rng: Rng,
    vars: Vec<String>,
    depth: usize,
}

impl Gen {
    fn lit(&mut self, kind: char) -> String {
        match kind {
            's' => format!("\"{}\"", self.rng.pick(STRS)),
            'i' => self.rng.pick(INTS).to_string(),
            'f' => self.rng.pick(FLOATS).to_string(),
            'b' => self.rng.pick(&["true", "false"]).to_string(),
            _ => match self.rng.below(6) {
                0 => self.lit('s'),
                1 => self.lit('i'),
                2 => self.lit('f'),
                3 => self.lit('b'),
                4 => "nil".to_string(),
                _ => self.lit('s'),
            },
        }
    }

    fn operand(&mut self, kind: char) -> String {
        self.depth += 1;
        // Mostly well-typed operands, so that most templates render and the
        // comparison covers output, not only failures.
        let r = if self.depth > 3 {
            self.lit(kind)
        } else {
            match (kind, self.rng.below(10)) {
                ('i' | 'f' | 'b', 0..=7) => self.lit(kind),
                ('i', _) => format!("(len {})", self.operand('s')),
                ('l', 0..=3) => format!("(list {} {})", self.lit('a'), self.lit('s')),
                ('l', 4..=5) => format!("(splitList \",\" {})", self.operand('s')),
                ('m', 0..=6) => format!("(dict \"a\" {} \"b\" {})", self.lit('a'), self.lit('i')),
                (_, 0..=2) => self.lit(kind),
                (_, 3 | 4) => {
                    let k = self.rng.pick(KEYS);
                    if self.rng.chance(5) {
                        ".missing".to_string()
                    } else {
                        format!(".{k}")
                    }
                }
                (_, 5) if !self.vars.is_empty() => self.rng.pick(&self.vars.clone()).clone(),
                (_, 5) => ".".to_string(),
                ('s', 6) => format!(
                    "(regexFind \"{}\" {})",
                    self.rng.pick(REGEXES),
                    self.operand('s')
                ),
                _ => format!("({})", self.call()),
            }
        };
        self.depth -= 1;
        r
    }

    fn call(&mut self) -> String {
        if self.rng.chance(12) {
            return self.printf();
        }
        let (name, kinds) = *self.rng.pick(FUNCS);
        let mut parts = vec![name.to_string()];
        for k in kinds.chars() {
            if k == 'v' {
                for _ in 0..self.rng.below(4) {
                    parts.push(self.operand('a'));
                }
            } else if k == 's' && name.starts_with("regex") && parts.len() == 1 {
                parts.push(format!("\"{}\"", self.rng.pick(REGEXES)));
            } else {
                parts.push(self.operand(k));
            }
        }
        // Sometimes feed the last argument through a pipe instead.
        if parts.len() > 1 && self.rng.chance(25) {
            let last = parts.pop().unwrap_or_default();
            return format!("{last} | {}", parts.join(" "));
        }
        parts.join(" ")
    }

    fn printf(&mut self) -> String {
        let n = 1 + self.rng.below(3);
        let mut fmt = String::new();
        let mut args = Vec::new();
        for i in 0..n {
            if i > 0 || self.rng.chance(50) {
                fmt.push_str(self.rng.pick(&["", "-", " [", "|", "x="]).as_ref());
            }
            fmt.push('%');
            fmt.push_str(self.rng.pick(FLAGS).as_ref());
            fmt.push_str(self.rng.pick(VERBS).as_ref());
            args.push(self.operand('a'));
        }
        if self.rng.chance(10) {
            args.push(self.operand('a'));
        }
        format!("printf \"{fmt}\" {}", args.join(" "))
    }

    fn action(&mut self) -> String {
        let (l, r) = (
            if self.rng.chance(15) { "{{- " } else { "{{ " },
            if self.rng.chance(15) { " -}}" } else { " }}" },
        );
        match self.rng.below(12) {
            0 => {
                let v = format!("$v{}", self.vars.len());
                let s = format!("{l}{v} := {}{r}", self.call());
                self.vars.push(v);
                s
            }
            1 if self.depth < 2 => {
                self.depth += 1;
                let body = self.body(2);
                let els = if self.rng.chance(40) {
                    format!("{{{{ else }}}}{}", self.body(1))
                } else {
                    String::new()
                };
                self.depth -= 1;
                format!("{l}if {}{r}{body}{els}{{{{ end }}}}", self.operand('a'))
            }
            2 if self.depth < 2 => {
                self.depth += 1;
                let body = self.body(2);
                self.depth -= 1;
                format!("{l}with {}{r}{body}{{{{ end }}}}", self.operand('a'))
            }
            3 if self.depth < 2 => {
                self.depth += 1;
                let saved = self.vars.len();
                let decl = if self.rng.chance(50) {
                    self.vars.push(format!("$k{saved}"));
                    self.vars.push(format!("$e{saved}"));
                    format!("$k{saved}, $e{saved} := ")
                } else {
                    String::new()
                };
                let body = self.body(2);
                self.vars.truncate(saved);
                self.depth -= 1;
                format!(
                    "{l}range {decl}{}{r}[{body}]{{{{ end }}}}",
                    self.operand('l')
                )
            }
            _ => format!("{l}{}{r}", self.call()),
        }
    }

    fn body(&mut self, max: usize) -> String {
        let mut s = String::new();
        let saved = self.vars.len();
        for _ in 0..=self.rng.below(max) {
            if self.rng.chance(40) {
                s.push_str(
                    self.rng
                        .pick(&[
                            " ", "
", "text", " - ", "
  ",
                        ])
                        .as_ref(),
                );
            }
            s.push_str(&self.action());
        }
        self.vars.truncate(saved);
        s
    }
}

fn data(rng: &mut Rng) -> serde_json::Map<String, serde_json::Value> {
    let vals: &[(&str, &[&str])] = &[
        ("user", &["bob", "Alice Smith", ""]),
        ("password", &["s3cr3t!", "p@ss w0rd", "<&>\"'"]),
        ("host", &["db.example.com", "10.0.0.1"]),
        ("num", &["42", "-7", "0", "3.0", "x"]),
        ("flt", &["2.5", "1e3", "-0.125"]),
        (
            "json",
            &["{\"a\":1,\"b\":[true,null,\"s\"]}", "[1,2]", "bad{"],
        ),
        ("csv", &["a,b,,c", ""]),
        ("empty", &[""]),
        ("uni", &["héllo wörld", "日本語"]),
        ("b64", &["aGVsbG8=", "!!"]),
    ];
    let mut m = serde_json::Map::new();
    for (k, vs) in vals {
        if rng.chance(90) {
            m.insert(
                k.to_string(),
                serde_json::Value::String(rng.pick(vs).to_string()),
            );
        }
    }
    m
}

#[test]
fn random_templates_match_go() {
    let n: usize = std::env::var("ESOX_RANDOM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let seed: u64 = std::env::var("ESOX_RANDOM_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_e50c);
    let mut cases = Vec::with_capacity(n);
    for i in 0..n {
        // splitmix64 of (seed, i): independent streams per case and per seed.
        let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut g = Gen {
            rng: Rng((z ^ (z >> 31)) | 1),
            vars: Vec::new(),
            depth: 0,
        };
        let tpl = g.body(2);
        let d = data(&mut g.rng);
        cases.push(Case {
            name: format!("r{i}"),
            tpl,
            data: d,
            delims: None,
        });
    }
    let (bad, skipped) = compare_counting(&cases);
    let errs = cases
        .iter()
        .filter(|c| oracle::render_esox(c).is_err())
        .count();
    let rendered = n - errs - skipped;
    println!(
        "differential random: {n} cases (seed {seed:#x}): {} identical, {} mismatches, {skipped} skipped (esox's output/sequence size bounds); \
         about {rendered} render output, {errs} fail in esox (and in Go unless listed as a mismatch)",
        n - bad.len() - skipped,
        bad.len()
    );
    let shown: Vec<&String> = bad.iter().take(25).collect();
    assert!(
        bad.is_empty(),
        "{} of {n} random cases differ from Go:\n{}",
        bad.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Token soup: random sequences of template syntax pieces, to exercise the
/// lexer and parser (most are invalid; both engines must agree on which).
#[test]
fn random_token_soup_matches_go() {
    let n: usize = std::env::var("ESOX_SOUP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    const PIECES: &[&str] = &[
        "{{", "}}", "{{-", "-}}", " ", "\n", "if", "else", "end", "range", "with", "define",
        "template", "block", "break", "continue", ".", ".user", ".a.b", "$", "$x", ":=", "=", ",",
        "|", "(", ")", "\"s\"", "`r`", "'c'", "1", "-2", "0x1f", "1.5", "1e3", "true", "nil",
        "printf", "upper", "len", "index", "and", "not", "/*", "*/", "text", "\"t\"", "$y",
        "else if", "{{end}}", "{{else}}", "eq", ".missing", "-", "+", "x", "_", "#", "\t",
    ];
    let mut cases = Vec::with_capacity(n);
    for i in 0..n {
        let mut rng = Rng((0x50u64 ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            | 1);
        let len = 1 + rng.below(14);
        let mut tpl = String::new();
        for _ in 0..len {
            tpl.push_str(rng.pick(PIECES).as_ref());
        }
        if rng.chance(60) {
            // Mostly inside one action, where the grammar is richest.
            tpl = format!("{{{{ {tpl} }}}}");
        }
        let mut d = serde_json::Map::new();
        d.insert("user".into(), serde_json::Value::String("bob".into()));
        // One case in ten with custom delimiters, as ESO's flags allow.
        let delims = if rng.chance(10) {
            tpl = tpl.replace("{{", "<%").replace("}}", "%>");
            Some(("<%".to_string(), "%>".to_string()))
        } else {
            None
        };
        cases.push(Case {
            name: format!("s{i}"),
            tpl,
            data: d,
            delims,
        });
    }
    let (bad, skipped) = compare_counting(&cases);
    let ok = cases
        .iter()
        .filter(|c| oracle::render_esox(c).is_ok())
        .count();
    println!(
        "differential token soup: {n} cases, {} identical, {} mismatches, {skipped} skipped; {ok} render in esox",
        n - bad.len() - skipped,
        bad.len()
    );
    let shown: Vec<&String> = bad.iter().take(25).collect();
    assert!(
        bad.is_empty(),
        "{} of {n} token-soup cases differ from Go:\n{}",
        bad.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
