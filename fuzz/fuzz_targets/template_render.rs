//! Parse and render arbitrary template text with the engine's default limits on: any input
//! must end in output or an error, never a panic, an abort, a hang or an overrun of the limits.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // First line: the data value; the rest: the template.
    let text = String::from_utf8_lossy(input);
    let (value, tpl) = text.split_once('\n').unwrap_or(("", &text));
    let data = esox_template::Value::from(BTreeMap::from([
        ("v".to_string(), value.to_string()),
        ("password".to_string(), "s3cr3t".to_string()),
    ]));
    let limits = esox_template::Limits {
        // Short deadline so that one slow input does not stall the run; the step budget is
        // what a slow template hits first in practice.
        deadline: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    if let Ok(t) = esox_template::Template::parse("fuzz", tpl, None) {
        if let Ok(out) = t.execute_bytes_with(&data, limits) {
            assert!(out.len() <= limits.max_output);
        }
    }
});
