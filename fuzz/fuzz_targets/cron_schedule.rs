//! Sync-window schedules (robfig/cron syntax): any text parses or fails without a panic, and a
//! parsed schedule answers "next run" and "inside the window" promptly, whatever its fields
//! (impossible dates such as 30 February included).
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use esox_core::sync_window::{is_within_window, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if let Ok(schedule) = parse(&text) {
        // 2024-02-29T12:34:56Z: a leap day, mid-hour.
        let at = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        if let Some(next) = schedule.next_after(at) {
            assert!(next > at);
        }
        let _ = is_within_window(&schedule, 3_600_000_000_000, at);
        let _ = is_within_window(&schedule, i64::MAX, SystemTime::now());
    }
});
