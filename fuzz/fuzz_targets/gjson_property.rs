//! `remoteRef.property` over a Secret value: the gjson path evaluation and the key lookups of
//! the kubernetes provider. First line: the property; the rest: the value (JSON or not). No
//! panic, and a failed lookup's error names the property and the Secret, never the value.
#![no_main]

use std::collections::BTreeMap;

use esox_core::property::{SecretView, get_secret_map, get_secret_value, gjson_get_string};
use libfuzzer_sys::fuzz_target;

/// Marks every value the Secret holds besides the fuzzed one; no error text contains it.
const CANARY: &str = "zqCANARY81";

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (property, value) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = gjson_get_string(value, property);
    let data = BTreeMap::from([
        ("k".to_string(), value.as_bytes().to_vec()),
        (property.to_string(), value.as_bytes().to_vec()),
        (
            "c".to_string(),
            format!(r#"{{"a":"{CANARY}","b":[1,"{CANARY}"]}}"#).into_bytes(),
        ),
    ]);
    let labels = BTreeMap::from([("app".to_string(), CANARY.to_string())]);
    let view = SecretView {
        name: "s",
        data: &data,
        labels: &labels,
        annotations: &BTreeMap::new(),
    };
    // Errors may name the property; no value (the canary, or a fuzzed value carrying it) may
    // show otherwise.
    let named = property.contains(CANARY);
    for fetch_metadata in [false, true] {
        if let Err(e) = get_secret_value(view, Some(property), fetch_metadata) {
            assert!(named || !e.to_string().contains(CANARY), "{e}");
        }
        if let Err(e) = get_secret_map(view, Some(property), fetch_metadata) {
            assert!(named || !e.to_string().contains(CANARY), "{e}");
        }
    }
});
