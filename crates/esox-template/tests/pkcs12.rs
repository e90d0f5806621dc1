//! PKCS#12 decoding against fixtures produced by OpenSSL: the expected
//! outputs are the certificates and keys that went into the files.

use std::collections::BTreeMap;

use esox_template::{Value, render};

fn data(p12: &[u8]) -> Value {
    let mut m = BTreeMap::new();
    m.insert("p12".to_string(), p12.to_vec());
    Value::from(m)
}

const LEAF_INT: &str = include_str!("fixtures/leaf-int.pem");
const LEAF: &str = include_str!("fixtures/leaf.pem");
const LEAF_KEY: &str = include_str!("fixtures/leaf.pkcs8.pem");
const ROOT: &str = include_str!("fixtures/root.pem");
const ROOT_KEY: &str = include_str!("fixtures/root.pkcs8.pem");

#[test]
fn modern_pbes2_aes256_sha256_mac() {
    let d = data(include_bytes!("fixtures/modern.p12"));
    assert_eq!(
        render("t", "{{ .p12 | pkcs12certPass \"s3cret\" }}", &d, None).expect("cert"),
        LEAF_INT
    );
    assert_eq!(
        render("t", "{{ .p12 | pkcs12keyPass \"s3cret\" }}", &d, None).expect("key"),
        LEAF_KEY
    );
}

#[test]
fn legacy_rc2_3des_sha1_mac() {
    let d = data(include_bytes!("fixtures/legacy.p12"));
    assert_eq!(
        render("t", "{{ pkcs12certPass \"s3cret\" .p12 }}", &d, None).expect("cert"),
        LEAF_INT
    );
    assert_eq!(
        render("t", "{{ pkcs12keyPass \"s3cret\" .p12 }}", &d, None).expect("key"),
        LEAF_KEY
    );
}

#[test]
fn empty_password_and_rsa_key() {
    let d = data(include_bytes!("fixtures/nopass.p12"));
    assert_eq!(
        render("t", "{{ pkcs12cert .p12 }}", &d, None).expect("cert"),
        LEAF
    );
    assert_eq!(
        render("t", "{{ pkcs12key .p12 }}", &d, None).expect("key"),
        LEAF_KEY
    );
    let d = data(include_bytes!("fixtures/rsa128.p12"));
    assert_eq!(
        render("t", "{{ pkcs12certPass \"x\" .p12 }}", &d, None).expect("cert"),
        ROOT
    );
    assert_eq!(
        render("t", "{{ pkcs12keyPass \"x\" .p12 }}", &d, None).expect("key"),
        ROOT_KEY
    );
}

#[test]
fn base64_input_as_eso_users_write_it() {
    use base64::Engine;
    let b64 =
        base64::engine::general_purpose::STANDARD.encode(include_bytes!("fixtures/modern.p12"));
    let mut m = BTreeMap::new();
    m.insert("keystore".to_string(), b64);
    let d = Value::from(m);
    let out = render(
        "t",
        "{{ .keystore | b64dec | pkcs12certPass \"s3cret\" | filterCertChain \"leaf\" }}",
        &d,
        None,
    )
    .expect("leaf");
    assert_eq!(out, LEAF);
}

#[test]
fn wrong_password_and_garbage_fail_without_leaking_input() {
    let mut m = BTreeMap::new();
    m.insert(
        "p12".to_string(),
        include_bytes!("fixtures/modern.p12").to_vec(),
    );
    m.insert("pw".to_string(), b"not-the-secret-42".to_vec());
    let d = Value::from(m);
    let err = render("t", "{{ pkcs12certPass .pw .p12 }}", &d, None)
        .expect_err("wrong password")
        .to_string();
    assert!(err.contains("password incorrect"), "{err}");
    assert!(!err.contains("not-the-secret-42"), "{err}");
    let d = data(b"not a pkcs12 file");
    assert!(render("t", "{{ pkcs12cert .p12 }}", &d, None).is_err());
    let d = data(&[]);
    assert!(render("t", "{{ pkcs12key .p12 }}", &d, None).is_err());
}

#[test]
fn pem_to_pkcs12_round_trips() {
    let mut m = BTreeMap::new();
    m.insert("crt".to_string(), LEAF_INT.to_string());
    m.insert("key".to_string(), LEAF_KEY.to_string());
    m.insert("rootcrt".to_string(), ROOT.to_string());
    m.insert("rootkey".to_string(), ROOT_KEY.to_string());
    let d = Value::from(m);
    // Leaf only, empty password.
    let out = render(
        "t",
        "{{ pemToPkcs12 .crt .key | b64dec | pkcs12cert }}",
        &d,
        None,
    )
    .expect("leaf");
    assert_eq!(out, LEAF);
    let out = render(
        "t",
        "{{ pemToPkcs12 .crt .key | b64dec | pkcs12key }}",
        &d,
        None,
    )
    .expect("key");
    assert_eq!(out, LEAF_KEY);
    // Full chain with a password; the wrong password fails.
    let out = render(
        "t",
        "{{ fullPemToPkcs12Pass .crt .key \"pw\" | b64dec | pkcs12certPass \"pw\" }}",
        &d,
        None,
    )
    .expect("chain");
    assert_eq!(out, LEAF_INT);
    assert!(
        render(
            "t",
            "{{ fullPemToPkcs12Pass .crt .key \"pw\" | b64dec | pkcs12certPass \"nope\" }}",
            &d,
            None
        )
        .is_err()
    );
    // RSA key.
    let out = render(
        "t",
        "{{ pemToPkcs12Pass .rootcrt .rootkey \"x\" | b64dec | pkcs12keyPass \"x\" }}",
        &d,
        None,
    )
    .expect("rsa");
    assert_eq!(out, ROOT_KEY);
    // Two encodings differ (random salts and IVs) but decode to the same content.
    let a = render("t", "{{ pemToPkcs12 .crt .key }}", &d, None).expect("a");
    let b = render("t", "{{ pemToPkcs12 .crt .key }}", &d, None).expect("b");
    assert_ne!(a, b);
    // A bad key fails with a clear message.
    let err = render("t", "{{ pemToPkcs12 .crt .crt }}", &d, None)
        .expect_err("cert as key")
        .to_string();
    assert!(err.contains("private key"), "{err}");
}

#[test]
fn truststore_contains_every_certificate() {
    use base64::Engine;
    let mut m = BTreeMap::new();
    m.insert("ca".to_string(), format!("{LEAF_INT}{ROOT}"));
    let d = Value::from(m);
    let b64 = render(
        "t",
        "{{ pemTruststoreToPKCS12Pass .ca \"changeit\" }}",
        &d,
        None,
    )
    .expect("truststore");
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let (key, certs) =
        esox_template::funcs::pkcs12::decode_for_tests(&der, "changeit").expect("decode");
    assert!(key.is_none());
    assert_eq!(certs.len(), 3);
    assert!(esox_template::funcs::pkcs12::decode_for_tests(&der, "wrong").is_err());
}

#[test]
fn kdf_iteration_counts_are_bounded() {
    // Issue 15: the iteration count comes from the input; 2,000,000 is refused before any
    // hashing, naming the limit (a crafted file could ask for 2^63).
    let d = data(include_bytes!("fixtures/huge-iter.p12"));
    let started = std::time::Instant::now();
    let err = render("t", "{{ .p12 | pkcs12keyPass \"x\" }}", &d, None)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("iteration count exceeds the limit of 1000000"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
