//! Date functions. Not implemented yet: see `esox_template::UNSUPPORTED`.

use super::Registry;
use crate::value::TimeValue;

pub fn register(_r: &mut Registry) {}

pub fn time_string(t: &TimeValue) -> String {
    format!("{}s since the epoch", t.unix_nanos / 1_000_000_000)
}

pub fn rfc3339_nano(t: &TimeValue) -> String {
    time_string(t)
}
