//! A manifest through the paths esox reads them by: the YAML stream `esox render` splits and
//! types (`esox_api::manifest`), and the JSON the API server sends to the controller (serde_json
//! into the typed kinds). Any input must end in objects or an error, never a panic, an abort or
//! a stack overflow (deep nesting is bounded by the YAML budget and serde_json's limit).
#![no_main]

use esox_api::manifest::{parse_documents, to_typed};
use esox_api::v1::{ClusterSecretStore, ExternalSecret, SecretStore};
use esox_api::v1alpha1::PushSecret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if let Ok(docs) = parse_documents("fuzz.yaml", &text) {
        for doc in &docs {
            let _ = match doc.kind() {
                "ExternalSecret" => to_typed::<ExternalSecret>("fuzz.yaml", doc).map(drop),
                "PushSecret" => to_typed::<PushSecret>("fuzz.yaml", doc).map(drop),
                "ClusterSecretStore" => to_typed::<ClusterSecretStore>("fuzz.yaml", doc).map(drop),
                _ => to_typed::<SecretStore>("fuzz.yaml", doc).map(drop),
            };
        }
    }
    let _ = serde_json::from_slice::<ExternalSecret>(input);
    let _ = serde_json::from_slice::<PushSecret>(input);
    let _ = serde_json::from_slice::<SecretStore>(input);
});
