//! Sprig's date functions with Go's layout-based formatting ("2006-01-02").
//! "Local" is UTC (the controller runs in a container without a local zone);
//! named zones come from the time zone database compiled into the binary, so
//! no file is read while rendering.

use std::sync::Arc;

use super::{Registry, Ty, s};
use crate::value::{TimeValue, Value};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Civil date from days since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    yday: u32,
    wday: usize,
    hour: u32,
    min: u32,
    sec: u32,
    nanos: u32,
}

fn parts(t: &TimeValue) -> Parts {
    let local = t.unix_nanos + t.offset_secs as i128 * 1_000_000_000;
    let secs = local.div_euclid(1_000_000_000) as i64;
    let nanos = local.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil(days);
    let yday = (days - days_from_civil(year, 1, 1) + 1) as u32;
    Parts {
        year,
        month,
        day,
        yday,
        wday: (days + 4).rem_euclid(7) as usize,
        hour: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        nanos,
    }
}

fn zone_offset(
    out: &mut String,
    off: i32,
    colon: bool,
    with_secs: bool,
    hours_only: bool,
    z: bool,
) {
    if z && off == 0 {
        out.push('Z');
        return;
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    out.push(sign);
    out.push_str(&format!("{:02}", a / 3600));
    if hours_only {
        return;
    }
    if colon {
        out.push(':');
    }
    out.push_str(&format!("{:02}", a / 60 % 60));
    if with_secs {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", a % 60));
    }
}

/// time.Time.Format.
pub fn format(t: &TimeValue, layout: &str) -> String {
    let p = parts(t);
    let mut out = String::with_capacity(layout.len() + 8);
    let b = layout.as_bytes();
    let mut i = 0;
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    while i < b.len() {
        // Longest standard chunks first, as Go's nextStdChunk does.
        let rest = &layout[i..];
        macro_rules! emit {
            ($len:expr, $s:expr) => {{
                out.push_str(AsRef::<str>::as_ref(&$s));
                i += $len;
                continue;
            }};
        }
        match b[i] {
            b'J' if starts(i, "January") => emit!(7, MONTHS[p.month as usize - 1]),
            b'J' if starts(i, "Jan") => emit!(3, MONTHS[p.month as usize - 1][..3]),
            b'M' if starts(i, "Monday") => emit!(6, DAYS[p.wday]),
            b'M' if starts(i, "Mon") => emit!(3, DAYS[p.wday][..3]),
            b'M' if starts(i, "MST") => emit!(3, t.zone.clone()),
            b'0' if starts(i, "01") => emit!(2, format!("{:02}", p.month)),
            b'0' if starts(i, "02") => emit!(2, format!("{:02}", p.day)),
            b'0' if starts(i, "03") => emit!(
                2,
                format!(
                    "{:02}",
                    if p.hour.is_multiple_of(12) {
                        12
                    } else {
                        p.hour % 12
                    }
                )
            ),
            b'0' if starts(i, "04") => emit!(2, format!("{:02}", p.min)),
            b'0' if starts(i, "05") => emit!(2, format!("{:02}", p.sec)),
            b'0' if starts(i, "06") => emit!(2, format!("{:02}", p.year.rem_euclid(100))),
            b'0' if starts(i, "002") => emit!(3, format!("{:03}", p.yday)),
            b'1' if starts(i, "15") => emit!(2, format!("{:02}", p.hour)),
            b'1' => emit!(1, p.month.to_string()),
            b'2' if starts(i, "2006") => emit!(
                4,
                if (0..10000).contains(&p.year) {
                    format!("{:04}", p.year)
                } else {
                    p.year.to_string()
                }
            ),
            b'2' => emit!(1, p.day.to_string()),
            b'_' if starts(i, "_2") && !starts(i, "_2006") => emit!(2, format!("{:>2}", p.day)),
            b'_' if starts(i, "__2") => emit!(3, format!("{:>3}", p.yday)),
            b'3' => emit!(
                1,
                (if p.hour.is_multiple_of(12) {
                    12
                } else {
                    p.hour % 12
                })
                .to_string()
            ),
            b'4' => emit!(1, p.min.to_string()),
            b'5' => emit!(1, p.sec.to_string()),
            b'P' if starts(i, "PM") => emit!(
                2,
                if p.hour >= 12 {
                    "PM".to_string()
                } else {
                    "AM".to_string()
                }
            ),
            b'p' if starts(i, "pm") => emit!(
                2,
                if p.hour >= 12 {
                    "pm".to_string()
                } else {
                    "am".to_string()
                }
            ),
            b'Z' | b'-' => {
                let table: [(&str, bool, bool, bool); 5] = [
                    ("07:00:00", true, true, false),
                    ("070000", false, true, false),
                    ("07:00", true, false, false),
                    ("0700", false, false, false),
                    ("07", false, false, true),
                ];
                let mut hit = None;
                for (pat, colon, secs, hours) in table {
                    if rest[1..].starts_with(pat) {
                        hit = Some((pat.len() + 1, colon, secs, hours));
                        break;
                    }
                }
                if let Some((len, colon, secs, hours)) = hit {
                    let mut z = String::new();
                    zone_offset(&mut z, t.offset_secs, colon, secs, hours, b[i] == b'Z');
                    emit!(len, z);
                }
                out.push(b[i] as char);
                i += 1;
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let digit = b[i + 1];
                let n = b[i + 1..].iter().take_while(|c| **c == digit).count();
                // Only a fractional second when not followed by another digit.
                if b.get(i + 1 + n).is_some_and(u8::is_ascii_digit) {
                    out.push(b[i] as char);
                    i += 1;
                    continue;
                }
                let frac = format!("{:09}", p.nanos);
                let digits = &frac[..n.min(9)];
                if digit == b'0' {
                    out.push(b[i] as char);
                    out.push_str(digits);
                } else {
                    let trimmed = digits.trim_end_matches('0');
                    if !trimmed.is_empty() {
                        out.push(b[i] as char);
                        out.push_str(trimmed);
                    }
                }
                i += 1 + n;
            }
            _ => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// time.Time.String, without the monotonic clock reading.
pub fn time_string(t: &TimeValue) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

pub fn rfc3339_nano(t: &TimeValue) -> String {
    format(t, "2006-01-02T15:04:05.999999999Z07:00")
}

fn in_zone(unix_nanos: i128, zone: &str) -> TimeValue {
    let utc = TimeValue {
        unix_nanos,
        offset_secs: 0,
        zone: "UTC".into(),
    };
    if matches!(zone, "" | "UTC" | "Local") {
        return utc;
    }
    let db = jiff::tz::TimeZoneDatabase::bundled();
    let Ok(tz) = db.get(zone) else { return utc };
    let Ok(ts) = jiff::Timestamp::from_nanosecond(unix_nanos) else {
        return utc;
    };
    let info = tz.to_offset_info(ts);
    TimeValue {
        unix_nanos,
        offset_secs: info.offset().seconds(),
        zone: info.abbreviation().to_string(),
    }
}

fn now_nanos() -> i128 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn instant_of(v: &Value) -> i128 {
    match v {
        Value::Time(t) => t.unix_nanos,
        Value::Int(
            i,
            crate::value::IntKind::Int
            | crate::value::IntKind::Int64
            | crate::value::IntKind::Int32,
        ) => *i as i128 * 1_000_000_000,
        _ => now_nanos(),
    }
}

fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    format(&in_zone(instant_of(date), zone), layout)
}

/// time.ParseDuration.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|c| !c.is_ascii_digit() && *c != b'.')
            .count();
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * unit;
    }
    if total > 9.223372036854775e18 {
        return None;
    }
    let v = total.round() as i64;
    Some(if neg { -v } else { v })
}

fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    let hour = 3_600_000_000_000u64;
    let steps = [
        (hour * 24 * 365, "y"),
        (hour * 24 * 30, "mo"),
        (hour * 24, "d"),
        (hour, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
    ];
    for (unit, suffix) in steps {
        if u > unit {
            return format!("{}{suffix}", u / unit);
        }
    }
    "0s".into()
}

fn time_value(t: TimeValue) -> Value {
    Value::Time(Arc::new(t))
}

pub fn register(r: &mut Registry) {
    use Ty::*;
    r.add("now", &[], None, |_| {
        Ok(time_value(in_zone(now_nanos(), "Local")))
    });
    r.add("date", &[Str, Any], None, |a| {
        Ok(Value::str(date_in_zone(s(a, 0), &a[1], "Local")))
    });
    let diz: super::FuncImpl = |a| Ok(Value::str(date_in_zone(s(a, 0), &a[1], s(a, 2))));
    r.add("dateInZone", &[Str, Any, Str], None, diz);
    r.add("date_in_zone", &[Str, Any, Str], None, diz);
    r.add("htmlDate", &[Any], None, |a| {
        Ok(Value::str(date_in_zone("2006-01-02", &a[0], "Local")))
    });
    r.add("htmlDateInZone", &[Any, Str], None, |a| {
        Ok(Value::str(date_in_zone("2006-01-02", &a[0], s(a, 1))))
    });
    r.add("unixEpoch", &[Time], None, |a| {
        let n = instant_of(&a[0]);
        Ok(Value::str(n.div_euclid(1_000_000_000).to_string()))
    });
    let modify: super::FuncImpl = |a| {
        let Value::Time(t) = &a[1] else {
            return Ok(a[1].clone());
        };
        Ok(match parse_duration(s(a, 0)) {
            Some(d) => time_value(TimeValue {
                unix_nanos: t.unix_nanos + d as i128,
                ..(**t).clone()
            }),
            None => a[1].clone(),
        })
    };
    r.add("dateModify", &[Str, Time], None, modify);
    r.add("date_modify", &[Str, Time], None, modify);
    let must_modify: super::FuncImpl = |a| {
        let Value::Time(t) = &a[1] else {
            return Ok(a[1].clone());
        };
        let d = parse_duration(s(a, 0)).ok_or_else(|| {
            // Go quotes the input here; it may be a secret, so esox does not.
            "time: invalid duration".to_string()
        })?;
        Ok(time_value(TimeValue {
            unix_nanos: t.unix_nanos + d as i128,
            ..(**t).clone()
        }))
    };
    r.add("mustDateModify", &[Str, Time], None, must_modify);
    r.add("must_date_modify", &[Str, Time], None, must_modify);
    r.add("duration", &[Any], None, |a| {
        let n = match &a[0] {
            Value::Str(st) => st.parse::<i64>().unwrap_or(0),
            Value::Int(i, crate::value::IntKind::Int64) => *i,
            _ => 0,
        };
        Ok(Value::str(crate::printf::format_duration(
            n.wrapping_mul(1_000_000_000),
        )))
    });
    r.add("durationRound", &[Any], None, |a| {
        let d = match &a[0] {
            Value::Str(st) => parse_duration(st).unwrap_or(0),
            Value::Int(i, crate::value::IntKind::Int64) => *i,
            Value::Duration(d) => *d,
            Value::Time(t) => (now_nanos() - t.unix_nanos) as i64,
            _ => 0,
        };
        Ok(Value::str(duration_round(d)))
    });
    r.add("ago", &[Any], None, |a| {
        let since = now_nanos() - instant_of(&a[0]);
        let rounded = ((since + since.signum() * 500_000_000) / 1_000_000_000) * 1_000_000_000;
        Ok(Value::str(crate::printf::format_duration(rounded as i64)))
    });
    r.add("toDate", &[Str, Str], None, |a| {
        Ok(time_value(parse(s(a, 0), s(a, 1)).unwrap_or(TimeValue {
            unix_nanos: ZERO_TIME,
            offset_secs: 0,
            zone: "UTC".into(),
        })))
    });
    r.add("mustToDate", &[Str, Str], None, |a| {
        parse(s(a, 0), s(a, 1)).map(time_value)
    });
}

/// Go's zero time.Time (January 1, year 1, UTC) in Unix nanoseconds.
const ZERO_TIME: i128 = -62_135_596_800 * 1_000_000_000;

fn take_num(v: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let n = v.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((v[..n].parse().ok()?, &v[n..]))
}

/// time.ParseInLocation with Local = UTC, for the common layout elements.
fn parse(layout: &str, value: &str) -> Result<TimeValue, String> {
    let err = || {
        // Go quotes the value and the layout; either may be a secret.
        "parsing time: the value does not match the layout".to_string()
    };
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i64, 1u32, 1u32, 0u32, 0u32, 0u32, 0u32);
    let mut offset: Option<i32> = None;
    let mut pm: Option<bool> = None;
    let mut v = value;
    let mut l = layout;
    while !l.is_empty() {
        let chunks: [(&str, u8); 24] = [
            ("January", b'M'),
            ("Jan", b'm'),
            ("Monday", b'W'),
            ("Mon", b'w'),
            ("2006", b'Y'),
            ("Z07:00", b'z'),
            ("-07:00", b'o'),
            ("Z0700", b'x'),
            ("-0700", b'p'),
            ("MST", b'T'),
            ("01", b'n'),
            ("02", b'd'),
            ("03", b'i'),
            ("04", b'u'),
            ("05", b's'),
            ("06", b'y'),
            ("15", b'H'),
            ("_2", b'e'),
            ("PM", b'A'),
            ("pm", b'a'),
            ("1", b'N'),
            ("2", b'D'),
            ("3", b'I'),
            ("4", b'U'),
        ];
        let hit = chunks.iter().find(|(c, _)| l.starts_with(c));
        if let Some((c, kind)) = hit {
            l = &l[c.len()..];
            match kind {
                b'M' | b'm' => {
                    let names: Vec<&str> = MONTHS
                        .iter()
                        .map(|m| if *kind == b'M' { *m } else { &m[..3] })
                        .collect();
                    let idx = names
                        .iter()
                        .position(|n| {
                            v.as_bytes()
                                .get(..n.len())
                                .is_some_and(|p| p.eq_ignore_ascii_case(n.as_bytes()))
                        })
                        .ok_or_else(err)?;
                    v = &v[names[idx].len()..];
                    month = idx as u32 + 1;
                }
                b'W' | b'w' => {
                    let names: Vec<&str> = DAYS
                        .iter()
                        .map(|d| if *kind == b'W' { *d } else { &d[..3] })
                        .collect();
                    let idx = names
                        .iter()
                        .position(|n| {
                            v.as_bytes()
                                .get(..n.len())
                                .is_some_and(|p| p.eq_ignore_ascii_case(n.as_bytes()))
                        })
                        .ok_or_else(err)?;
                    v = &v[names[idx].len()..];
                }
                b'Y' => (year, v) = take_num(v, 4, 4).ok_or_else(err)?,
                b'y' => {
                    let (y, r) = take_num(v, 2, 2).ok_or_else(err)?;
                    year = if y >= 69 { 1900 + y } else { 2000 + y };
                    v = r;
                }
                b'n' | b'N' => {
                    let (m, r) =
                        take_num(v, if *kind == b'n' { 2 } else { 1 }, 2).ok_or_else(err)?;
                    month = m as u32;
                    v = r;
                }
                b'd' | b'D' | b'e' => {
                    let vv = if *kind == b'e' {
                        v.strip_prefix(' ').unwrap_or(v)
                    } else {
                        v
                    };
                    let (d, r) =
                        take_num(vv, if *kind == b'd' { 2 } else { 1 }, 2).ok_or_else(err)?;
                    day = d as u32;
                    v = r;
                }
                b'H' => {
                    let (h, r) = take_num(v, 2, 2).ok_or_else(err)?;
                    hour = h as u32;
                    v = r;
                }
                b'i' | b'I' => {
                    let (h, r) =
                        take_num(v, if *kind == b'i' { 2 } else { 1 }, 2).ok_or_else(err)?;
                    hour = h as u32;
                    v = r;
                }
                b'u' | b'U' => {
                    let (m, r) =
                        take_num(v, if *kind == b'u' { 2 } else { 1 }, 2).ok_or_else(err)?;
                    min = m as u32;
                    v = r;
                }
                b's' => {
                    let (x, r) = take_num(v, 2, 2).ok_or_else(err)?;
                    sec = x as u32;
                    v = r;
                    // Go accepts fractional seconds after a seconds field.
                    if (r.starts_with('.') || r.starts_with(','))
                        && !l.starts_with('.')
                        && !l.starts_with(',')
                    {
                        let n = r[1..].bytes().take_while(u8::is_ascii_digit).count();
                        if n > 0 {
                            let digits = format!("{:0<9}", &r[1..1 + n.min(9)]);
                            nanos = digits.parse().unwrap_or(0);
                            v = &r[1 + n..];
                        }
                    }
                }
                b'A' | b'a' => {
                    let up = v.get(..2).map(|x| x.to_ascii_uppercase());
                    pm = match up.as_deref() {
                        Some("PM") => Some(true),
                        Some("AM") => Some(false),
                        _ => return Err(err()),
                    };
                    v = &v[2..];
                }
                b'z' | b'x' if v.starts_with('Z') => {
                    offset = Some(0);
                    v = &v[1..];
                }
                b'z' | b'o' | b'x' | b'p' => {
                    let colon = matches!(kind, b'z' | b'o');
                    let sign = match v.as_bytes().first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(err()),
                    };
                    let (h, r) = take_num(&v[1..], 2, 2).ok_or_else(err)?;
                    let r = if colon {
                        r.strip_prefix(':').ok_or_else(err)?
                    } else {
                        r
                    };
                    let (m, r) = take_num(r, 2, 2).ok_or_else(err)?;
                    offset = Some(sign * (h as i32 * 3600 + m as i32 * 60));
                    v = r;
                }
                b'T' => {
                    let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                    if n < 3 {
                        return Err(err());
                    }
                    if &v[..n] == "UTC" {
                        offset = Some(0);
                    }
                    v = &v[n..];
                }
                _ => return Err(err()),
            }
            continue;
        }
        if l.starts_with(".0") || l.starts_with(".9") || l.starts_with(",0") || l.starts_with(",9")
        {
            let n = 1 + l[1..]
                .bytes()
                .take_while(|c| *c == b'0' || *c == b'9')
                .count();
            l = &l[n..];
            if let Some(r) = v.strip_prefix('.').or_else(|| v.strip_prefix(',')) {
                let k = r.bytes().take_while(u8::is_ascii_digit).count();
                let digits = format!("{:0<9}", &r[..k.min(9)]);
                nanos = digits.parse().unwrap_or(0);
                v = &r[k..];
            }
            continue;
        }
        let c = l.chars().next().unwrap_or(' ');
        if !v.starts_with(c) {
            return Err(err());
        }
        l = &l[c.len_utf8()..];
        v = &v[c.len_utf8()..];
    }
    if !v.is_empty() {
        return Err("parsing time: extra text after the value".to_string());
    }
    if let Some(p) = pm {
        if hour > 12 {
            return Err(err());
        }
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > mdays[month as usize - 1]
        || hour > 23
        || min > 59
        || sec > 59
    {
        return Err("parsing time: value out of range".to_string());
    }
    let days = days_from_civil(year, month, day);
    let off = offset.unwrap_or(0);
    let secs =
        days as i128 * 86_400 + hour as i128 * 3600 + min as i128 * 60 + sec as i128 - off as i128;
    let zone = if off == 0 {
        "UTC".to_string()
    } else {
        String::new()
    };
    Ok(TimeValue {
        unix_nanos: secs * 1_000_000_000 + nanos as i128,
        offset_secs: off,
        zone,
    })
}
