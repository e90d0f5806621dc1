//! `spec.syncWindows` of an ExternalSecret: ESO's `isPeriodicRefreshAllowedByWindows` and
//! `isWithinSyncWindow`, over a faithful port of the robfig/cron v3 parser ESO uses
//! (5 fields: minute hour day-of-month month day-of-week, plus `@daily`-style
//! descriptors and `@every <duration>`), evaluated in UTC.
//!
//! A schedule that does not parse is ignored (treated as inactive), as in ESO.
//! `TZ=`/`CRON_TZ=` prefixes are accepted only for UTC; any other zone makes the schedule
//! unparsable here (ESO would evaluate it in that zone).

use std::time::{Duration, SystemTime};

use crate::duration;

const STAR_BIT: u64 = 1 << 63;
const NANOS_PER_SEC: i128 = 1_000_000_000;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// A schedule that could not be parsed; the text says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sync window schedule {schedule:?}: {reason}")]
pub struct CronError {
    /// The schedule as written.
    pub schedule: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Field-based schedule (bit sets as in robfig/cron).
    Spec {
        /// Minutes 0-59.
        minute: u64,
        /// Hours 0-23.
        hour: u64,
        /// Days of month 1-31 (bit 63 marks `*`).
        dom: u64,
        /// Months 1-12.
        month: u64,
        /// Days of week 0-6, Sunday = 0 (bit 63 marks `*`).
        dow: u64,
    },
    /// `@every <duration>`: whole seconds, at least one.
    Every(u64),
}

/// Parses a schedule like robfig/cron's `Minute|Hour|Dom|Month|Dow|Descriptor` parser.
pub fn parse(schedule: &str) -> Result<Schedule, CronError> {
    let err = |reason: String| CronError {
        schedule: schedule.to_owned(),
        reason,
    };
    if schedule.is_empty() {
        return Err(err("empty spec string".into()));
    }
    let mut spec = schedule;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let (Some(space), Some(eq)) = (spec.find(' '), spec.find('=')) else {
            return Err(err(
                "a time zone prefix must be followed by a schedule".into()
            ));
        };
        let zone = &spec[eq + 1..space];
        if !matches!(zone, "UTC" | "Etc/UTC" | "") {
            return Err(err(format!("time zone {zone:?} is not supported; use UTC")));
        }
        spec = spec[space..].trim();
    }
    if spec.starts_with('@') {
        return parse_descriptor(spec).map_err(err);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        )));
    }
    Ok(Schedule::Spec {
        minute: get_field(fields[0], &MINUTES).map_err(err)?,
        hour: get_field(fields[1], &HOURS).map_err(err)?,
        dom: get_field(fields[2], &DOM).map_err(err)?,
        month: get_field(fields[3], &MONTHS).map_err(err)?,
        dow: get_field(fields[4], &DOW).map_err(err)?,
    })
}

fn all(b: &Bounds) -> u64 {
    get_bits(b.min, b.max, 1) | STAR_BIT
}

fn parse_descriptor(spec: &str) -> Result<Schedule, String> {
    let fixed = |month: u64, dom: u64, dow: u64, hour: u64| Schedule::Spec {
        minute: 1,
        hour,
        dom,
        month,
        dow,
    };
    Ok(match spec {
        "@yearly" | "@annually" => fixed(1 << MONTHS.min, 1 << DOM.min, all(&DOW), 1),
        "@monthly" => fixed(all(&MONTHS), 1 << DOM.min, all(&DOW), 1),
        "@weekly" => fixed(all(&MONTHS), all(&DOM), 1 << DOW.min, 1),
        "@daily" | "@midnight" => fixed(all(&MONTHS), all(&DOM), all(&DOW), 1),
        "@hourly" => fixed(all(&MONTHS), all(&DOM), all(&DOW), all(&HOURS)),
        _ => {
            let Some(text) = spec.strip_prefix("@every ") else {
                return Err(format!("unrecognized descriptor: {spec}"));
            };
            let nanos = duration::parse(text)
                .map_err(|e| format!("failed to parse duration {spec}: {e}"))?;
            let nanos = nanos.max(duration::SECOND);
            Schedule::Every((nanos / duration::SECOND) as u64)
        }
    })
}

fn get_field(field: &str, b: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        bits |= get_range(expr, b)?;
    }
    Ok(bits)
}

fn get_range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        // Anything after "*-" is ignored, as in robfig/cron.
        start = b.min;
        end = b.max;
        extra = STAR_BIT;
    } else {
        start = int_or_name(low_and_high[0], b)?;
        end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        extra = 0;
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(get_bits(start, end, step) | extra)
}

fn int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    parse_int(expr)
}

/// Go's `strconv.Atoi` then a sign check.
fn parse_int(expr: &str) -> Result<u32, String> {
    let num: i64 = expr
        .parse()
        .map_err(|_| format!("failed to parse int from {expr}"))?;
    if num < 0 {
        return Err(format!("negative number ({num}) not allowed: {expr}"));
    }
    // Values this large fail the range checks anyway.
    Ok(u32::try_from(num).unwrap_or(u32::MAX))
}

fn get_bits(min: u32, max: u32, step: u32) -> u64 {
    let mut bits = 0u64;
    let mut i = min;
    while i <= max {
        bits |= 1 << i;
        // A step beyond the range (up to u32::MAX, see parse_int) ends the walk, as in Go, whose
        // 64-bit arithmetic does not wrap at these sizes.
        let Some(next) = i.checked_add(step) else {
            break;
        };
        i = next;
    }
    bits
}

/// Calendar fields of a UTC instant (whole seconds since the Unix epoch).
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: u32,
}

fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn first_of_next_month(c: &Civil) -> i64 {
    let (y, m) = if c.month == 12 {
        (c.year + 1, 1)
    } else {
        (c.year, c.month + 1)
    };
    days_from_civil(y, m, 1) * 86_400
}

fn day_matches(dom: u64, dow: u64, c: &Civil) -> bool {
    let dom_match = (1u64 << c.day) & dom > 0;
    let dow_match = (1u64 << c.weekday) & dow > 0;
    if dom & STAR_BIT > 0 || dow & STAR_BIT > 0 {
        dom_match && dow_match
    } else {
        dom_match || dow_match
    }
}

fn to_nanos(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn from_nanos(n: i128) -> SystemTime {
    let magnitude = Duration::new(
        (n.unsigned_abs() / NANOS_PER_SEC as u128) as u64,
        (n.unsigned_abs() % NANOS_PER_SEC as u128) as u32,
    );
    if n >= 0 {
        SystemTime::UNIX_EPOCH + magnitude
    } else {
        SystemTime::UNIX_EPOCH - magnitude
    }
}

impl Schedule {
    /// robfig/cron `Next`: the first activation strictly after `t`, or `None` when the
    /// schedule has none within five years (Go's zero time).
    pub fn next_after(&self, t: SystemTime) -> Option<SystemTime> {
        let nanos = to_nanos(t);
        let secs = nanos.div_euclid(NANOS_PER_SEC) as i64;
        match *self {
            Schedule::Every(delay) => Some(from_nanos(
                i128::from(secs) * NANOS_PER_SEC + i128::from(delay) * NANOS_PER_SEC,
            )),
            Schedule::Spec {
                minute,
                hour,
                dom,
                month,
                dow,
            } => next_spec(secs + 1, [minute, hour, dom, month, dow])
                .map(|s| from_nanos(i128::from(s) * NANOS_PER_SEC)),
        }
    }
}

fn next_spec(mut t: i64, [minute, hour, dom, month, dow]: [u64; 5]) -> Option<i64> {
    // The seconds field is fixed at 0 by this parser.
    let second: u64 = 1;
    let mut added = false;
    let year_limit = civil(t).year + 5;
    'wrap: loop {
        if civil(t).year > year_limit {
            return None;
        }
        while (1u64 << civil(t).month) & month == 0 {
            let c = civil(t);
            if !added {
                added = true;
                t = days_from_civil(c.year, c.month, 1) * 86_400;
            }
            let c = civil(t);
            t = first_of_next_month(&c);
            if civil(t).month == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(dom, dow, &civil(t)) {
            if !added {
                added = true;
                t = t.div_euclid(86_400) * 86_400;
            }
            t += 86_400;
            if civil(t).day == 1 {
                continue 'wrap;
            }
        }
        while (1u64 << civil(t).hour) & hour == 0 {
            if !added {
                added = true;
                t = t.div_euclid(3600) * 3600;
            }
            t += 3600;
            if civil(t).hour == 0 {
                continue 'wrap;
            }
        }
        while (1u64 << civil(t).minute) & minute == 0 {
            if !added {
                added = true;
                t = t.div_euclid(60) * 60;
            }
            t += 60;
            if civil(t).minute == 0 {
                continue 'wrap;
            }
        }
        while (1u64 << civil(t).second) & second == 0 {
            added = true;
            t += 1;
            if civil(t).second == 0 {
                continue 'wrap;
            }
        }
        return Some(t);
    }
}

/// ESO's `isWithinSyncWindow`: whether `at` lies in a window that opened at the latest
/// activation of `schedule` and lasts `duration_nanos`.
pub fn is_within_window(schedule: &Schedule, duration_nanos: i64, at: SystemTime) -> bool {
    let at_n = to_nanos(at);
    let start = from_nanos(at_n - i128::from(duration_nanos) - NANOS_PER_SEC);
    let Some(prev) = schedule.next_after(start) else {
        return false;
    };
    let prev_n = to_nanos(prev);
    prev_n <= at_n && at_n <= prev_n + i128::from(duration_nanos)
}

/// `syncWindows.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncWindowKind {
    /// Periodic refreshes only while a window is active.
    Allow,
    /// No periodic refresh while a window is active.
    Deny,
}

impl SyncWindowKind {
    /// Parses `syncWindows.kind`; an unknown value gives `None`, which allows refreshes
    /// like ESO's switch that matches neither case.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// One `syncWindows.windows[]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncWindow<'a> {
    /// `schedule`.
    pub schedule: &'a str,
    /// `duration` in nanoseconds.
    pub duration: i64,
}

/// ESO's `isPeriodicRefreshAllowedByWindows`. Unparsable schedules are skipped (logged at
/// debug level); `kind: None` (unknown) allows, like ESO's switch without a match.
pub fn periodic_refresh_allowed(
    kind: Option<SyncWindowKind>,
    windows: &[SyncWindow<'_>],
    at: SystemTime,
) -> bool {
    if windows.is_empty() {
        return true;
    }
    let any_active = windows.iter().any(|w| match parse(w.schedule) {
        Ok(s) => is_within_window(&s, w.duration, at),
        Err(e) => {
            tracing::debug!(error = %e, "ignoring unparseable sync window schedule");
            false
        }
    });
    match kind {
        Some(SyncWindowKind::Deny) => !any_active,
        Some(SyncWindowKind::Allow) => any_active,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_regression_a_huge_step_selects_only_the_start() {
        // Found by scripts/fuzz: the step was clamped to u32::MAX and `start + step` overflowed
        // (a panic with overflow checks, a wrapped walk that set day 0 without).
        let s = parse("0 0 1/0000000000000000000000000000000000200044556755 * sun").expect("valid");
        let Schedule::Spec { dom, .. } = s else {
            panic!("a field schedule")
        };
        assert_eq!(dom, 1 << 1, "only the 1st of the month");
        assert!(s.next_after(t(FRI)).is_some());
    }

    /// 2024-03-15 10:30:00 UTC, a Friday.
    const FRI: u64 = 1_710_498_600;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn next(spec: &str, at: u64) -> Option<u64> {
        parse(spec).expect("valid").next_after(t(at)).map(|n| {
            n.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after epoch")
                .as_secs()
        })
    }

    #[test]
    fn civil_round_trip() {
        let c = civil(FRI as i64);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.weekday),
            (2024, 3, 15, 10, 30, 5)
        );
        assert_eq!(
            days_from_civil(2024, 3, 15) * 86_400 + 10 * 3600 + 1800,
            FRI as i64
        );
        assert_eq!(civil(0).weekday, 4);
    }

    #[test]
    fn next_activation() {
        assert_eq!(next("* * * * *", FRI), Some(FRI + 60));
        assert_eq!(next("0 * * * *", FRI), Some(FRI + 1800));
        assert_eq!(next("@daily", FRI), Some(FRI - 10 * 3600 - 1800 + 86_400));
        // Next Monday 09:00: Fri 10:30 → Mon 09:00 is 2 days 22.5 hours later.
        assert_eq!(
            next("0 9 * * mon", FRI),
            Some(FRI + 2 * 86_400 + 22 * 3600 + 1800)
        );
        // Day-of-month OR day-of-week when neither is '*': the 1st or any Sunday.
        assert_eq!(
            next("0 0 1 * sun", FRI),
            Some(FRI + 86_400 + 13 * 3600 + 1800)
        );
        assert_eq!(next("@every 90s", FRI), Some(FRI + 90));
        assert_eq!(next("@every 100ms", FRI), Some(FRI + 1));
        // February 30th never happens.
        assert_eq!(next("0 0 30 2 *", FRI), None);
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* * * * 7",
            "5-1 * * * *",
            "*/0 * * * *",
            "@often",
            "1-2-3 * * * *",
            "TZ=Europe/Paris 0 * * * *",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("TZ=UTC 0 * * * *").is_ok());
        assert!(parse("0 0 * JAN,feb ?").is_ok());
    }

    #[test]
    fn windows() {
        let daily_nine = [SyncWindow {
            schedule: "0 9 * * *",
            duration: 2 * duration::HOUR,
        }];
        let nine_thirty = t(FRI - 3600); // 09:30
        let noon = t(FRI + 5400); // 12:00
        assert!(!periodic_refresh_allowed(
            Some(SyncWindowKind::Deny),
            &daily_nine,
            nine_thirty
        ));
        assert!(periodic_refresh_allowed(
            Some(SyncWindowKind::Deny),
            &daily_nine,
            noon
        ));
        assert!(periodic_refresh_allowed(
            Some(SyncWindowKind::Allow),
            &daily_nine,
            nine_thirty
        ));
        assert!(!periodic_refresh_allowed(
            Some(SyncWindowKind::Allow),
            &daily_nine,
            noon
        ));
        // Exactly at the end of the window it is still active (inclusive).
        let nine = parse("0 9 * * *").expect("valid");
        assert!(is_within_window(&nine, 2 * duration::HOUR, t(FRI + 1800)));
        assert!(!is_within_window(&nine, 2 * duration::HOUR, t(FRI + 1801)));
        let broken = [SyncWindow {
            schedule: "not a cron",
            duration: duration::HOUR,
        }];
        assert!(!periodic_refresh_allowed(
            Some(SyncWindowKind::Allow),
            &broken,
            noon
        ));
        assert!(periodic_refresh_allowed(
            Some(SyncWindowKind::Deny),
            &broken,
            noon
        ));
        assert!(periodic_refresh_allowed(
            Some(SyncWindowKind::Allow),
            &[],
            noon
        ));
    }
}
