//! esox's Go `time.ParseDuration`: no panic on any text, and whatever it accepts prints (Go's
//! `Duration.String()`) to text that parses back to the same duration.
#![no_main]

use esox_core::duration::{format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if let Ok(nanos) = parse(&text) {
        let printed = format(nanos);
        assert_eq!(parse(&printed), Ok(nanos), "{printed}");
    }
});
