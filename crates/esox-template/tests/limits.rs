//! Templates that ask for more memory than a render may use fail with an error naming the
//! function and the limit, instead of aborting the process (issue 15: `randAlpha 100000000000`
//! aborted `esox render` with exit 134).

use std::collections::BTreeMap;

use esox_template::{Value, render};

fn fails_naming(tpl: &str, func: &str, limit: &str) {
    let data = Value::from(BTreeMap::from([("s".to_string(), "a\nb\nc".to_string())]));
    let err = render("t", tpl, &data, None).expect_err(tpl).to_string();
    assert!(err.contains(func), "{tpl}: {err} does not name {func}");
    assert!(
        err.contains(limit),
        "{tpl}: {err} does not name the limit {limit}"
    );
}

#[test]
fn oversized_results_are_refused_before_they_are_built() {
    let limit = esox_template::MAX_OUTPUT.to_string();
    for f in ["randAlpha", "randAlphaNum", "randAscii", "randNumeric"] {
        fails_naming(&format!("{{{{ {f} 100000000000 }}}}"), f, &limit);
        fails_naming(&format!("{{{{ {f} 9223372036854775807 }}}}"), f, &limit);
    }
    fails_naming("{{ indent 100000000000 .s }}", "indent", &limit);
    fails_naming("{{ nindent 9000000 .s }}", "nindent", &limit);
    // 2^22 bytes with an empty `old`: one copy of `new` per character and one more.
    fails_naming(
        "{{ $big := repeat 4194304 \"x\" }}{{ replace \"\" \"yyyyy\" $big }}",
        "replace",
        &limit,
    );
    fails_naming(
        "{{ $big := repeat 4194304 \"x\" }}{{ replace \"x\" \"yyyyy\" $big }}",
        "replace",
        &limit,
    );
}

#[test]
fn within_the_limit_still_renders() {
    let data = Value::from(BTreeMap::<String, String>::new());
    let out = render(
        "t",
        "{{ randAlpha 1000 | len }}|{{ indent 3 \"a\" }}",
        &data,
        None,
    )
    .expect("small results render");
    assert_eq!(out, "1000|   a");
}

#[test]
fn printf_widths_and_precisions_follow_gos_bounds() {
    // Go's fmt refuses `*` widths and precisions beyond 1e6 and stops reading a literal once it
    // passes 1e6 (the differential corpus checks the same cases against Go).
    let data = Value::from(BTreeMap::<String, String>::new());
    let r = |t: &str| render("t", t, &data, None).expect(t);
    assert_eq!(r("{{ printf \"%*d\" 100000000000 1 }}"), "%!(BADWIDTH)1");
    assert_eq!(
        r("{{ printf \"%.*f\" 100000000000 1.5 }}"),
        "%!(BADPREC)1.500000"
    );
    assert_eq!(
        r("{{ printf \"%99999999999999999999d|x\" 1 }}"),
        "%!(NOVERB)%!(EXTRA int=1)"
    );
    assert_eq!(
        r("{{ printf \"%.99999999999d\" 1 }}"),
        "%!(NOVERB)%!(EXTRA int=1)"
    );
}

#[test]
fn many_rejected_pem_blocks_do_not_exhaust_the_stack() {
    // Each "-----BEGIN X-----" line without an END is a rejected block; Go's decoder (and esox's
    // before) recursed once per block.
    let junk = "-----BEGIN X-----\n".repeat(100_000);
    let data = Value::from(BTreeMap::from([("p".to_string(), junk)]));
    let out = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || render("t", "{{ filterPEM \"CERTIFICATE\" .p | len }}", &data, None))
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    let err = out.expect_err("only junk").to_string();
    assert!(err.contains("found junk"), "{err}");
}

#[test]
fn a_render_ends_within_its_step_budget_and_deadline() {
    // Issue 15: `range until 2000000` nested twice ran for hours (4e12 iterations).
    let data = Value::from(BTreeMap::<String, String>::new());
    let tpl = "{{ range until 2000000 }}{{ range until 2000000 }}{{ end }}{{ end }}";
    let started = std::time::Instant::now();
    let err = render("t", tpl, &data, None)
        .expect_err("stopped")
        .to_string();
    assert!(err.contains("10000000 evaluation steps"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    let t = esox_template::Template::parse("t", tpl, None).expect("parses");
    let limits = esox_template::Limits {
        max_steps: u64::MAX,
        deadline: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let err = t
        .execute_with(&data, limits)
        .expect_err("deadline")
        .to_string();
    assert!(err.contains("time limit of 200ms"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let small = esox_template::Limits {
        max_output: 10,
        ..Default::default()
    };
    let err = esox_template::Template::parse("t", "{{ repeat 20 \"x\" }}", None)
        .expect("parses")
        .execute_with(&data, small)
        .expect_err("output")
        .to_string();
    assert!(err.contains("limit of 10 bytes"), "{err}");
    // A typical template is far below the budget.
    let ok = esox_template::Template::parse("t", "{{ range until 1000 }}{{ . }}{{ end }}", None)
        .expect("parses")
        .execute(&data)
        .expect("renders");
    assert!(ok.ends_with("999"));
}

/// Renders on a thread with a small stack, so that unbounded recursion shows as an abort.
fn render_small_stack(tpl: &str) -> Result<String, String> {
    let tpl = tpl.to_string();
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let data = Value::from(BTreeMap::<String, String>::new());
            render("t", &tpl, &data, None).map_err(|e| e.to_string())
        })
        .expect("spawn")
        .join()
        .expect("no panic")
}

#[test]
fn self_referencing_dicts_are_refused() {
    // Go lets `set` put a dict into itself and then overflows its stack printing it; esox
    // aborted the same way.
    for tpl in [
        "{{ $d := dict }}{{ $_ := set $d \"a\" $d }}{{ $d }}",
        "{{ $d := dict }}{{ $_ := set $d \"a\" (list 1 (dict \"b\" $d)) }}{{ $d }}",
        "{{ $d := dict }}{{ $e := dict \"x\" $d }}{{ $_ := merge $d $e }}{{ toJson $d }}",
        "{{ $d := dict \"x\" dict }}{{ $e := dict \"x\" (dict \"y\" $d) }}{{ $_ := mergeOverwrite $d $e }}{{ $d }}",
    ] {
        let err = render_small_stack(tpl).expect_err(tpl);
        assert!(err.contains("cannot contain itself"), "{tpl}: {err}");
    }
    // Sharing without a cycle is fine.
    assert_eq!(
        render_small_stack("{{ $d := dict \"k\" 1 }}{{ $e := dict \"a\" $d \"b\" $d }}{{ $e }}")
            .expect("a DAG prints"),
        "map[a:map[k:1] b:map[k:1]]"
    );
}

#[test]
fn deep_and_exponentially_shared_values_are_refused_before_walking() {
    // 5,000 levels of nesting: printing, copying, encoding and freeing recursed once per level
    // (a stack overflow); nesting now stops at 1,000 levels, whichever function nests.
    for build in [
        "dict \"a\" $d",
        "list $d",
        "append (list 1) $d",
        "set (dict) \"k\" $d",
    ] {
        let tpl = format!(
            "{{{{ $d := dict }}}}{{{{ range until 5000 }}}}{{{{ $d = {build} }}}}{{{{ end }}}}{{{{ $d }}}}"
        );
        let err = render_small_stack(&tpl).expect_err(build);
        assert!(err.contains("nest at most 1000 levels"), "{build}: {err}");
    }
    // 40 levels that each hold the level below twice: 2^40 leaves once expanded.
    let wide =
        "{{ $d := dict }}{{ range until 40 }}{{ $d = dict \"a\" $d \"b\" $d }}{{ end }}{{ $d }}";
    let started = std::time::Instant::now();
    let err = render_small_stack(wide).expect_err("wide");
    assert!(
        err.contains("elements once shared parts are expanded"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn fuzz_regression_month_name_before_a_multibyte_character() {
    // Found by scripts/fuzz: matching "Nov" against "No\u{fffd}..." sliced inside the
    // three-byte character and panicked.
    let data = Value::from(BTreeMap::<String, String>::new());
    for tpl in [
        "{{ toDate \"02 Jan 06 15:04 MST\" \"14 No\u{fffd}\t23 22:13 UTC\" }}",
        "{{ toDate \"Mon Jan 2 2006\" \"Mo\u{e9} Jan 2 2006\" }}",
        "{{ toDate \"02 January 2006\" \"02 Janu\u{e9}ry 2006\" }}",
    ] {
        let out = render("t", tpl, &data, None);
        assert!(
            out.is_ok(),
            "{tpl}: toDate gives the zero time on a parse error"
        );
    }
}

#[test]
fn fuzz_regression_float_precisions_beyond_rusts_formatter() {
    // Found by scripts/fuzz: Go reads precisions up to about 1e7, Rust's formatter panics past
    // 65,535 ("Formatting argument out of range").
    let data = Value::from(BTreeMap::<String, String>::new());
    let out = |tpl: &str| render("t", tpl, &data, None).expect(tpl);
    assert_eq!(out("{{ printf \"%.1000009d\" 1. }}"), "%!d(float64=1)");
    assert_eq!(out("{{ printf \"%.100000f\" 1.5 | len }}"), "100002");
    assert_eq!(
        out("{{ printf \"%.70000f\" 0.1 | trunc 12 }}"),
        "0.1000000000"
    );
    assert_eq!(out("{{ printf \"%.70000e\" 2.5 | len }}"), "70006");
    assert_eq!(out("{{ printf \"%.70000g\" 0.1 | len }}"), "57");
}
