//! Go `time.Duration` text: `time.ParseDuration` (what `metav1.Duration` accepts in
//! `refreshInterval`) and `Duration.String()` (what ESO and kubectl print, e.g. `1h0m0s`).
//!
//! Durations are signed nanoseconds (`i64`), as in Go.

/// One second in nanoseconds.
pub const SECOND: i64 = 1_000_000_000;
/// One hour in nanoseconds.
pub const HOUR: i64 = 3600 * SECOND;

/// A duration string Go would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` (or `0`).
    #[error("time: invalid duration {0:?}: use a Go duration such as 1h, 30m, 1h30m0s or 90s")]
    Invalid(String),
    /// A number without a unit.
    #[error("time: missing unit in duration {0:?}: add one of ns, us, ms, s, m, h")]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit {unit:?} in duration {input:?}: use one of ns, us, ms, s, m, h")]
    UnknownUnit {
        /// The unit found.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// More than about 292 years.
    #[error("time: invalid duration {0:?}: out of range")]
    Overflow(String),
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        _ => return None,
    })
}

const LIMIT: u64 = 1 << 63;

/// Go's `time.ParseDuration`.
pub fn parse(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    let overflow = || DurationError::Overflow(input.to_owned());
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part; overflow here is an error, as in Go's leadingInt.
        let mut v: u64 = 0;
        let int_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
        for &c in &s[..int_len] {
            if v > LIMIT / 10 {
                return Err(overflow());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(overflow());
            }
        }
        s = &s[int_len..];
        let pre = int_len > 0;
        // Fraction; digits past the representable precision are consumed and ignored.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let frac_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
            post = frac_len > 0;
            let mut overflowed = false;
            for &c in &s[..frac_len] {
                if overflowed {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflowed = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflowed = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            s = &s[frac_len..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .take_while(|b| !(**b == b'.' || b.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        let unit_text = String::from_utf8_lossy(&s[..unit_len]).into_owned();
        s = &s[unit_len..];
        let unit = unit_nanos(&unit_text).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit_text.clone(),
            input: input.to_owned(),
        })?;
        if v > LIMIT / unit {
            return Err(overflow());
        }
        v *= unit;
        if frac > 0 {
            // Same float arithmetic as Go, so rounding of e.g. 1.1s matches.
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(overflow());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(overflow());
        }
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(overflow());
    }
    Ok(total as i64)
}

/// Go's `Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `300ms`, `1µs`, `0s`.
pub fn format(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < SECOND as u64 {
        if u == 0 {
            return "0s".to_owned();
        }
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "\u{b5}s")
        } else {
            (6, "ms")
        };
        let (int, frac) = split_frac(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (secs, frac) = split_frac(u, 9);
        u = secs;
        let s = u % 60;
        u /= 60;
        if u > 0 {
            let m = u % 60;
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{frac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` and Go's fraction text (`.5`, trailing zeros dropped).
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let pow = 10u64.pow(prec);
    let mut frac = v % pow;
    if frac == 0 {
        return (v / pow, String::new());
    }
    let mut digits = prec as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    (v / pow, format!(".{frac:0digits$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse("1h"), Ok(HOUR));
        assert_eq!(parse("1h0m0s"), Ok(HOUR));
        assert_eq!(parse("90s"), Ok(90 * SECOND));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("-0"), Ok(0));
        assert_eq!(parse("0s"), Ok(0));
        assert_eq!(parse("1.5h"), Ok(HOUR + HOUR / 2));
        assert_eq!(parse("300ms"), Ok(300_000_000));
        assert_eq!(parse(".5s"), Ok(SECOND / 2));
        assert_eq!(parse("5.s"), Ok(5 * SECOND));
        assert_eq!(parse("1µs"), Ok(1_000));
        assert_eq!(parse("1us"), Ok(1_000));
        assert_eq!(parse("-1m30s"), Ok(-90 * SECOND));
        assert_eq!(parse("+2m"), Ok(120 * SECOND));
        assert_eq!(parse("1.1s"), Ok(1_100_000_000));
        assert_eq!(parse("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(parse("-2562047h47m16.854775808s"), Ok(i64::MIN));
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert!(matches!(parse(""), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("1"), Err(DurationError::MissingUnit(_))));
        assert!(matches!(
            parse("1d"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse("1hm"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(parse(".s"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("h"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse(" 1h"), Err(DurationError::Invalid(_))));
        assert!(matches!(
            parse("2562047h47m16.854775808s"),
            Err(DurationError::Overflow(_))
        ));
        assert!(matches!(
            parse("9999999999h"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(HOUR), "1h0m0s");
        assert_eq!(format(90 * SECOND), "1m30s");
        assert_eq!(format(SECOND + SECOND / 2), "1.5s");
        assert_eq!(format(300_000_000), "300ms");
        assert_eq!(format(1_500_000), "1.5ms");
        assert_eq!(format(1_000), "1\u{b5}s");
        assert_eq!(format(7), "7ns");
        assert_eq!(format(-90 * SECOND), "-1m30s");
        assert_eq!(format(HOUR + 500_000_000), "1h0m0.5s");
        assert_eq!(format(26 * HOUR), "26h0m0s");
        assert_eq!(format(i64::MIN), "-2562047h47m16.854775808s");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for d in [1, 999, 1_001, 59 * SECOND, HOUR - 1, 3 * HOUR + 7, i64::MAX] {
            assert_eq!(parse(&format(d)), Ok(d), "{d}");
        }
    }
}
