//! The Go-duration pattern the CRDs put on duration fields accepts exactly what the controller's
//! parser accepts (esox-core's, itself compared with Go's `time.ParseDuration` by the oracle
//! tests), so admission refuses no duration that would work and lets through none that would not.

use esox_api::meta::GO_DURATION;

/// Whether the parser accepts the text; out-of-range values count as accepted, since a pattern
/// checks the form and not the size.
fn accepted(text: &str) -> bool {
    match esox_core::duration::parse(text) {
        Ok(_) | Err(esox_core::duration::DurationError::Overflow(_)) => true,
        Err(_) => false,
    }
}

fn pattern() -> regex::Regex {
    regex::Regex::new(GO_DURATION).expect("the pattern compiles")
}

#[test]
fn hand_picked_durations_agree_with_the_parser() {
    let re = pattern();
    let cases = [
        "0",
        "1h",
        "15m",
        "30s",
        "1h30m",
        "0.5s",
        ".5s",
        "5.s",
        "1.5h",
        "300ms",
        "2us",
        "2µs",
        "2μs",
        "10ns",
        "-1s",
        "+1s",
        "1h2m3s4ms5us6ns",
        "",
        "banana",
        "1d",
        "1",
        "s",
        ".s",
        "1hh",
        " 1h",
        "1h ",
        "1H",
        "1.2.3s",
        "00",
        "-0",
        "+0",
        "1e3s",
        "0x10s",
        "1h-1m",
        "01s",
        "1.m",
    ];
    for case in cases {
        let parsed = accepted(case);
        assert_eq!(re.is_match(case), parsed, "{case:?}: pattern vs parser");
    }
}

#[test]
fn generated_durations_agree_with_the_parser() {
    let re = pattern();
    let atoms = [
        "0", "1", "25", ".", "5.", ".5", "h", "m", "s", "ms", "us", "µs", "ns", "-", "+", "x", " ",
    ];
    // Every string of up to 4 atoms: 17^4 + ... ≈ 89,000 cases, a few tens of milliseconds.
    // (A bound on characters instead of atoms made it millions of cases and 90 s in a debug build.)
    let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
    let mut checked = 0;
    while let Some((s, atoms_in)) = stack.pop() {
        let parsed = accepted(&s);
        assert_eq!(re.is_match(&s), parsed, "{s:?}: pattern vs parser");
        checked += 1;
        if atoms_in < 4 {
            for a in atoms {
                stack.push((format!("{s}{a}"), atoms_in + 1));
            }
        }
    }
    assert_eq!(checked, 1 + 17 + 17 * 17 + 17 * 17 * 17 + 17 * 17 * 17 * 17);
}
