//! The CRDs checked in under `deploy/crds/` must be exactly what `esox crds` prints.
//! Regenerate them with `ESOX_UPDATE_CRDS=1 cargo test -p esox-api --test crds_drift`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails

use std::path::PathBuf;

use esox_api::crd::{CrdOptions, all, to_yaml};

fn bundle_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds/bundle.yaml")
}

#[test]
fn checked_in_crds_match_the_rust_types() {
    let generated = to_yaml(&all(&CrdOptions::default())).expect("CRDs serialise");
    let path = bundle_path();
    if std::env::var_os("ESOX_UPDATE_CRDS").is_some() {
        std::fs::write(&path, &generated).expect("write bundle");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || checked_in.lines().count().min(generated.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{} differs from the generated CRDs from line {line} on: run `ESOX_UPDATE_CRDS=1 cargo test -p esox-api --test crds_drift` and commit the result",
            path.display()
        );
    }
}

#[test]
fn selectable_fields_only_on_request() {
    let plain = all(&CrdOptions::default());
    assert!(
        plain
            .iter()
            .flat_map(|c| &c.spec.versions)
            .all(|v| v.selectable_fields.is_none())
    );
    let with = all(&CrdOptions {
        selectable_fields: true,
    });
    let es = with
        .iter()
        .find(|c| c.spec.names.kind == "ExternalSecret")
        .expect("ES CRD");
    let fields: Vec<&str> = es.spec.versions[0]
        .selectable_fields
        .as_ref()
        .expect("selectable fields")
        .iter()
        .map(|f| f.json_path.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            ".spec.secretStoreRef.name",
            ".spec.secretStoreRef.kind",
            ".spec.target.name",
            ".spec.refreshInterval"
        ]
    );
}
