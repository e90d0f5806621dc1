//! Prints how long the fixture CRD takes to check and compile, and how many ExternalSecret
//! objects per second `admit` (prune + default + validate with CEL) handles.
//! Run: `cargo run -p esox-schema --example measure --release`.

use std::time::Instant;

use esox_schema::{CompiledSchema, validate_crd};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/externalsecret-crd.yaml"
    ))?;
    let crd: Value = serde_saphyr::from_str(&text)?;
    let schema_json = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();

    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        if let Err(errors) = validate_crd(&crd) {
            return Err(format!("fixture refused: {}", esox_schema::format_errors(&errors)).into());
        }
    }
    println!(
        "validate_crd: {:.1} us per CRD",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    );

    let start = Instant::now();
    for _ in 0..rounds {
        CompiledSchema::compile(&schema_json)?;
    }
    println!(
        "CompiledSchema::compile: {:.1} us per schema",
        start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    );

    let schema = CompiledSchema::compile(&schema_json)?;
    let data: Vec<Value> = (0..10)
        .map(|i| json!({"secretKey": format!("key{i}"), "remoteRef": {"key": format!("path/{i}"), "property": "p"}}))
        .collect();
    let object = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"secretStoreRef": {"name": "vault"}, "target": {"name": "db"}, "data": data}});
    let n = 5_000;
    let start = Instant::now();
    for _ in 0..n {
        let mut obj = object.clone();
        if let Err(errors) = schema.admit(&mut obj, Some(&object)) {
            return Err(format!("object refused: {}", esox_schema::format_errors(&errors)).into());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "admit (10 data entries, update with oldSelf): {:.1} us per object, {:.0} objects/s",
        secs * 1e6 / f64::from(n),
        f64::from(n) / secs
    );
    Ok(())
}
