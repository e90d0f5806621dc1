//! Differential tests: esox-template against Go's text/template + Sprig.

mod oracle;

use oracle::{compare, parse_corpus, same_error_texts};

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
