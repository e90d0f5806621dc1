//! Public API behaviour: sandboxing, error format, secret hygiene.

use std::collections::BTreeMap;

use esox_template::{Template, TemplateError, Value, render, render_bytes};

fn data(pairs: &[(&str, &str)]) -> Value {
    let m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Value::from(m)
}

#[test]
fn environment_network_and_cluster_functions_are_undefined() {
    // ESO removed env/expandenv/getHostByName after CVEs; getSecretKey read other namespaces.
    for f in [
        "env \"HOME\"",
        "expandenv \"$HOME\"",
        "getHostByName \"example.com\"",
        "getSecretKey \"ns\" \"name\" \"key\"",
        "readFile \"/etc/passwd\"",
    ] {
        let err = Template::parse("t", &format!("{{{{ {f} }}}}"), None).expect_err(f);
        let msg = err.to_string();
        assert!(matches!(err, TemplateError::Parse { .. }), "{f}: {msg}");
        assert!(msg.contains("not defined"), "{f}: {msg}");
    }
}

#[test]
fn no_function_in_the_map_reaches_outside_facilities() {
    // The complete function list is closed: anything that could read the
    // environment, files, DNS or the network would have to appear here.
    let names = esox_template::funcs::library_function_names();
    for forbidden in [
        "env",
        "expandenv",
        "getHostByName",
        "getSecretKey",
        "readFile",
        "lookup",
        "include",
        "tpl",
        "exec",
    ] {
        assert!(
            !names.contains(&forbidden),
            "{forbidden} must not be defined"
        );
    }
    assert!(
        names.len() > 150,
        "the function map has only {} functions",
        names.len()
    );
}

#[test]
fn missing_key_error_names_template_line_column_and_expression() {
    let err = render(
        "my-secret",
        "line1\nline2\n{{ .user }} and {{ .foo }}",
        &data(&[("user", "hunter2")]),
        None,
    )
    .expect_err("missing key");
    assert_eq!(
        err.to_string(),
        "template: my-secret:3:19: executing \"my-secret\" at <.foo>: map has no entry for key \"foo\""
    );
}

#[test]
fn errors_do_not_contain_secret_values() {
    let secret = "s3cr3t-value-do-not-leak";
    let d = data(&[("password", secret)]);
    let cases = [
        "{{ .password | upper | fail }}",
        "{{ index .password 99 }}",
        "{{ .password.field }}",
        "{{ range .password }}{{ end }}",
        "{{ .password | trunc (add 1 2) }}",
        "{{ lt .password 1 }}",
    ];
    for c in cases {
        let err = render("t", c, &d, None).expect_err(c).to_string();
        if c.contains("fail") {
            // `fail` shows its own argument by design (as in Go); it is the template author's choice.
            continue;
        }
        assert!(!err.contains(secret), "{c}: {err}");
    }
}

#[test]
fn debug_output_redacts_values() {
    let d = data(&[("password", "hunter2")]);
    let dbg = format!("{d:?}");
    assert!(!dbg.contains("hunter2"), "{dbg}");
    assert!(format!("{:?}", Value::str("hunter2")).contains("redacted"));
}

#[test]
fn parse_errors_carry_the_line() {
    let err = Template::parse("t", "a\n{{ if .x }}\nb", None).expect_err("unclosed if");
    match err {
        TemplateError::Parse { name, line, .. } => {
            assert_eq!(name, "t");
            assert!(line >= 2, "line {line}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn custom_delimiters_and_default_when_empty() {
    let d = data(&[("a", "x")]);
    assert_eq!(
        render("t", "<% .a %>{{ .a }}", &d, Some(("<%", "%>"))).expect("render"),
        "x{{ .a }}"
    );
    assert_eq!(
        render("t", "{{ .a }}", &d, Some(("", ""))).expect("render"),
        "x"
    );
}

#[test]
fn binary_secret_data_round_trips_through_bytes_api() {
    let mut m = BTreeMap::new();
    m.insert("ks".to_string(), vec![0u8, 0xff, 0xfe, b'a', 0x80]);
    let v = Value::from(m);
    let out = render_bytes("t", "{{ .ks }}", &v, None).expect("render");
    assert_eq!(out, vec![0u8, 0xff, 0xfe, b'a', 0x80]);
    assert_eq!(
        render("t", "{{ .ks | b64enc }}", &v, None).expect("render"),
        "AP/+YYA="
    );
    // The String API refuses output that is not UTF-8 instead of mangling it.
    assert!(render("t", "{{ .ks }}", &v, None).is_err());
}

#[test]
fn value_scope_rewrite_binding() {
    // ESO binds the key being rewritten as .value.
    let d = data(&[("value", "db-password")]);
    assert_eq!(
        render(
            "rewrite",
            "{{ .value | replace \"-\" \"_\" | upper }}",
            &d,
            None
        )
        .expect("render"),
        "DB_PASSWORD"
    );
}

#[test]
fn non_deterministic_functions_have_the_right_shape() {
    let d = data(&[]);
    let a = render("t", "{{ randAlphaNum 32 }}", &d, None).expect("rand");
    let b = render("t", "{{ randAlphaNum 32 }}", &d, None).expect("rand");
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b, "two random strings should differ");
    let n = render("t", "{{ randNumeric 16 }}", &d, None).expect("rand");
    assert!(n.len() == 16 && n.chars().all(|c| c.is_ascii_digit()));
    let s = render("t", "{{ randAlpha 10 }}|{{ randAscii 10 }}", &d, None).expect("rand");
    let (x, y) = s.split_once('|').expect("sep");
    assert!(
        x.chars().all(|c| c.is_ascii_alphabetic()) && y.chars().all(|c| (' '..='~').contains(&c))
    );
    let sh = render("t", "{{ shuffle \"abcdefghij\" }}", &d, None).expect("shuffle");
    let mut chars: Vec<char> = sh.chars().collect();
    chars.sort_unstable();
    assert_eq!(chars.into_iter().collect::<String>(), "abcdefghij");
    for _ in 0..50 {
        let r: i64 = render("t", "{{ randInt 5 9 }}", &d, None)
            .expect("randInt")
            .parse()
            .expect("int");
        assert!((5..9).contains(&r));
    }
}

#[test]
fn template_is_reusable_and_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    let t = Template::parse("t", "{{ .a }}", None).expect("parse");
    assert_eq!(t.execute(&data(&[("a", "1")])).expect("first"), "1");
    assert_eq!(t.execute(&data(&[("a", "2")])).expect("second"), "2");
}

#[test]
fn runaway_output_is_bounded() {
    let err = render(
        "t",
        "{{ range until 100000 }}{{ repeat 1000 \"x\" }}{{ end }}",
        &data(&[]),
        None,
    )
    .expect_err("too big");
    assert!(err.to_string().contains("output exceeds"), "{err}");
}

/// Every function of ESO's list (eso-behaviour.md 8.4).
const ESO_FUNCTIONS: &[&str] = &[
    "pkcs12key",
    "pkcs12keyPass",
    "pkcs12cert",
    "pkcs12certPass",
    "pemToPkcs12",
    "pemToPkcs12Pass",
    "fullPemToPkcs12",
    "fullPemToPkcs12Pass",
    "pemTruststoreToPKCS12",
    "pemTruststoreToPKCS12Pass",
    "filterPEM",
    "filterCertChain",
    "certSANs",
    "jwkPublicKeyPem",
    "jwkPrivateKeyPem",
    "toYaml",
    "fromYaml",
    "rsaDecrypt",
    "ago",
    "date",
    "date_in_zone",
    "date_modify",
    "dateInZone",
    "dateModify",
    "duration",
    "durationRound",
    "htmlDate",
    "htmlDateInZone",
    "must_date_modify",
    "mustDateModify",
    "mustToDate",
    "now",
    "toDate",
    "unixEpoch",
    "abbrev",
    "abbrevboth",
    "trunc",
    "trim",
    "upper",
    "lower",
    "title",
    "untitle",
    "substr",
    "repeat",
    "trimall",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "nospace",
    "initials",
    "randAlphaNum",
    "randAlpha",
    "randAscii",
    "randNumeric",
    "swapcase",
    "shuffle",
    "snakecase",
    "camelcase",
    "kebabcase",
    "wrap",
    "wrapWith",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "quote",
    "squote",
    "cat",
    "indent",
    "nindent",
    "replace",
    "plural",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "adler32sum",
    "toString",
    "atoi",
    "int64",
    "int",
    "float64",
    "seq",
    "toDecimal",
    "split",
    "splitList",
    "splitn",
    "toStrings",
    "until",
    "untilStep",
    "add1",
    "add",
    "sub",
    "div",
    "mod",
    "mul",
    "randInt",
    "add1f",
    "addf",
    "subf",
    "divf",
    "mulf",
    "biggest",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "join",
    "sortAlpha",
    "default",
    "empty",
    "coalesce",
    "all",
    "any",
    "compact",
    "mustCompact",
    "ternary",
    "deepCopy",
    "mustDeepCopy",
    "tuple",
    "list",
    "dict",
    "get",
    "set",
    "unset",
    "hasKey",
    "pluck",
    "keys",
    "pick",
    "omit",
    "merge",
    "mergeOverwrite",
    "mustMerge",
    "mustMergeOverwrite",
    "values",
    "append",
    "push",
    "mustAppend",
    "mustPush",
    "prepend",
    "mustPrepend",
    "first",
    "mustFirst",
    "rest",
    "mustRest",
    "last",
    "mustLast",
    "initial",
    "mustInitial",
    "reverse",
    "mustReverse",
    "uniq",
    "mustUniq",
    "without",
    "mustWithout",
    "has",
    "mustHas",
    "slice",
    "mustSlice",
    "concat",
    "dig",
    "chunk",
    "mustChunk",
    "fromJson",
    "toJson",
    "toPrettyJson",
    "toRawJson",
    "mustFromJson",
    "mustToJson",
    "mustToPrettyJson",
    "mustToRawJson",
    "typeOf",
    "typeIs",
    "typeIsLike",
    "kindOf",
    "kindIs",
    "deepEqual",
    "base",
    "dir",
    "clean",
    "ext",
    "isAbs",
    "osBase",
    "osClean",
    "osDir",
    "osExt",
    "osIsAbs",
    "b64enc",
    "b64dec",
    "b32enc",
    "b32dec",
    "hexdec",
    "bcrypt",
    "htpasswd",
    "genPrivateKey",
    "derivePassword",
    "buildCustomCert",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "encryptAES",
    "decryptAES",
    "randBytes",
    "uuidv4",
    "semver",
    "semverCompare",
    "fail",
    "hello",
    "regexMatch",
    "mustRegexMatch",
    "regexFindAll",
    "mustRegexFindAll",
    "regexFind",
    "mustRegexFind",
    "regexReplaceAll",
    "mustRegexReplaceAll",
    "regexReplaceAllLiteral",
    "mustRegexReplaceAllLiteral",
    "regexSplit",
    "mustRegexSplit",
    "regexQuoteMeta",
    "urlParse",
    "urlJoin",
];

#[test]
fn every_eso_function_is_implemented_or_listed_as_unsupported() {
    let defined = esox_template::funcs::library_function_names();
    let mut implemented = 0;
    for f in ESO_FUNCTIONS {
        assert!(
            defined.contains(f),
            "{f} is neither implemented nor listed as unsupported"
        );
        if esox_template::UNSUPPORTED.iter().all(|(n, _)| n != f) {
            implemented += 1;
        }
    }
    for (name, reason) in esox_template::UNSUPPORTED {
        assert!(
            ESO_FUNCTIONS.contains(name),
            "{name} is listed as unsupported but is not an ESO function"
        );
        assert!(!reason.is_empty());
        // Calling one fails with a message naming the function and the reason.
        let err = render("t", &format!("{{{{ {name} }}}}"), &data(&[]), None)
            .expect_err(name)
            .to_string();
        assert!(
            err.contains(name) && err.contains("not supported by esox yet"),
            "{err}"
        );
    }
    println!(
        "ESO function list: {} functions, {implemented} implemented, {} not supported yet",
        ESO_FUNCTIONS.len(),
        esox_template::UNSUPPORTED.len()
    );
}

#[test]
fn bcrypt_and_htpasswd_verify() {
    let d = data(&[("pw", "correct horse")]);
    let h = render("t", "{{ bcrypt .pw }}", &d, None).expect("bcrypt");
    assert!(h.starts_with("$2a$10$") && h.len() == 60, "{h}");
    let line = render("t", "{{ htpasswd \"admin\" .pw \"bcrypt\" }}", &d, None).expect("htpasswd");
    let (user, hash) = line.split_once(':').expect("user:hash");
    assert_eq!(user, "admin");
    assert!(hash.starts_with("$2a$10$"));
    let uuid = render("t", "{{ uuidv4 }}", &d, None).expect("uuid");
    assert_eq!(uuid.len(), 36);
    let rb = render("t", "{{ randBytes 24 | len }}", &d, None).expect("randBytes");
    assert_eq!(rb, "32", "24 random bytes are 32 base64 characters");
    let now = render("t", "{{ now | date \"2006\" }}", &d, None).expect("now");
    assert!(now.parse::<u32>().is_ok_and(|y| y >= 2025), "{now}");
}

#[test]
fn ago_and_now_are_relative_to_the_clock() {
    let d = data(&[]);
    assert_eq!(
        render("t", "{{ ago now }}", &d, None).expect("ago now"),
        "0s"
    );
    let old = render("t", "{{ ago 0 }}", &d, None).expect("ago epoch");
    assert!(old.ends_with('s') && old.contains('h'), "{old}");
    let hours: u64 = old
        .split('h')
        .next()
        .and_then(|h| h.parse().ok())
        .expect("hours");
    assert!(
        hours > 24 * 365 * 50,
        "more than 50 years since the epoch: {old}"
    );
}
