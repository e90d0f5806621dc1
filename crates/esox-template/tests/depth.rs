//! Deeply nested input, in template text or in data a template decodes, fails with an error
//! naming the nesting limit instead of overflowing the stack (issue 15: the parser recursed
//! once per parenthesis and per nested control, and aborted the process on 100,000 levels).

use std::collections::BTreeMap;

use esox_template::{Value, parse_yaml_map, render};

const DEEP: usize = 100_000;

/// Runs `f` on a thread with a fixed stack, so that unbounded recursion shows as an abort of the
/// test binary. 2 MiB is tokio's default for the blocking threads renders run on (esox gives them
/// 8 MiB); an unoptimised build uses about five times the stack per level.
fn on_render_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let stack = if cfg!(debug_assertions) {
        16 << 20
    } else {
        2 << 20
    };
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}

fn render_text(tpl: String) -> Result<String, String> {
    on_render_stack(move || {
        let data = Value::from(BTreeMap::from([("v".to_string(), "x".to_string())]));
        render("t", &tpl, &data, None).map_err(|e| e.to_string())
    })
}

fn render_with(tpl: &'static str, input: String) -> Result<String, String> {
    on_render_stack(move || {
        let data = Value::from(BTreeMap::from([("v".to_string(), input)]));
        render("t", tpl, &data, None).map_err(|e| e.to_string())
    })
}

fn parens(depth: usize) -> String {
    format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth))
}

fn nested_ifs(depth: usize) -> String {
    format!(
        "{}x{}",
        "{{ if true }}".repeat(depth),
        "{{ end }}".repeat(depth)
    )
}

fn nested_ranges(depth: usize) -> String {
    format!(
        "{}x{}",
        "{{ range until 1 }}".repeat(depth),
        "{{ end }}".repeat(depth)
    )
}

/// `depth` controls: an `if` and `depth - 1` chained `else if`s, then a plain `else`.
fn else_if_chain(depth: usize) -> String {
    format!(
        "{{{{ if false }}}}{}{{{{ else }}}}x{{{{ end }}}}",
        "{{ else if false }}".repeat(depth - 1)
    )
}

fn nested_blocks(depth: usize) -> String {
    let open: String = (0..depth)
        .map(|i| format!("{{{{ block \"b{i}\" . }}}}"))
        .collect();
    format!("{open}x{}", "{{ end }}".repeat(depth))
}

#[test]
fn deeply_nested_template_text_is_refused_naming_the_limit() {
    for (what, tpl) in [
        ("parentheses", parens(DEEP)),
        ("if", nested_ifs(DEEP)),
        ("range", nested_ranges(DEEP)),
        ("else if", else_if_chain(DEEP)),
        ("block", nested_blocks(DEEP)),
    ] {
        let err = render_text(tpl).expect_err(what);
        assert!(
            err.contains("max expression depth exceeded") && err.contains("1000"),
            "{what}: {err}"
        );
    }
    // Within the parser's limit per template, but template calls stack them: a template of 999
    // nested ifs calling itself recursed 200 x 999 times.
    let recursive = format!(
        "{{{{ define \"a\" }}}}{}{{{{ template \"a\" . }}}}{}{{{{ end }}}}{{{{ template \"a\" . }}}}",
        "{{ if true }}".repeat(999),
        "{{ end }}".repeat(999)
    );
    let err = render_text(recursive).expect_err("recursive");
    assert!(
        err.contains("exceeded maximum nesting depth (1200 levels"),
        "{err}"
    );
}

#[test]
fn nesting_up_to_the_limit_parses_and_renders() {
    let ok = |tpl: String| render_text(tpl).expect("within the limit");
    assert_eq!(ok(parens(999)), "1");
    assert_eq!(ok(nested_ifs(1000)), "x");
    assert_eq!(ok(nested_ranges(1000)), "x");
    assert_eq!(ok(else_if_chain(1000)), "x");
    // A block is also a template call: those stop at 200.
    assert_eq!(ok(nested_blocks(200)), "x");
    // One more than the limit fails.
    assert!(render_text(nested_ifs(1001)).is_err());
    assert!(render_text(parens(1001)).is_err());
}

#[test]
fn deeply_nested_json_and_yaml_input_is_refused_naming_the_limit() {
    let arrays = format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP));
    let objects = format!("{}1{}", "{\"a\":".repeat(DEEP), "}".repeat(DEEP));
    let yaml_block: String = (0..DEEP / 100)
        .map(|i| format!("{}a:\n", " ".repeat(i)))
        .collect();
    for (what, tpl, input) in [
        ("arrays", "{{ mustFromJson .v }}", arrays.clone()),
        ("objects", "{{ mustFromJson .v }}", objects.clone()),
    ] {
        let err = render_with(tpl, input).expect_err(what);
        assert!(err.contains("nests more than 128 levels"), "{what}: {err}");
        assert!(
            !err.contains("[[[") && !err.contains("{\"a\""),
            "{what}: {err}"
        );
    }
    // fromYaml never fails (Go's sprig puts the error under "Error").
    for (what, input) in [
        ("flow arrays", arrays.clone()),
        (
            "flow maps",
            format!("{}1{}", "{a: ".repeat(DEEP), "}".repeat(DEEP)),
        ),
        (
            "flow, within the parser's limit",
            format!("{}{}", "[".repeat(200), "]".repeat(200)),
        ),
        ("block maps", yaml_block.clone()),
    ] {
        let out = render_with("{{ (fromYaml .v).Error }}", input).expect(what);
        assert!(out.contains("nest at most 64 levels"), "{what}: {out}");
    }
    // Within the limits, input decodes.
    let ok_json = format!("{}{}", "[".repeat(127), "]".repeat(127));
    render_with("{{ mustFromJson .v | toJson }}", ok_json).expect("127 levels of JSON");
    let ok_yaml: String = (0..60).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
    let out = render_with("{{ hasKey (fromYaml .v) \"Error\" }}", ok_yaml).expect("YAML");
    assert_eq!(out, "false", "60 levels of YAML decode");
    for (what, input) in [("flow", arrays), ("block", yaml_block)] {
        let err = on_render_stack(move || parse_yaml_map(&input).map(|_| ()))
            .expect_err(what)
            .to_string();
        assert!(err.contains("nests more than 64 levels"), "{what}: {err}");
    }
}
