//! The SSHKey generator: a key pair as ESO writes it with Go's `x/crypto/ssh`: the private key
//! in OpenSSH format (PEM with 64-column lines, unencrypted), the public key as an
//! `authorized_keys` line ending in a newline, the comment in both.

use base64::Engine as _;
use esox_api::generators::{SshKeySpec, SshKeyType};
use esox_core::SecretData;
use rand::rngs::OsRng;
use ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData, RsaKeypair};
use ssh_key::{EcdsaCurve, PrivateKey};

use crate::GeneratorError;

const DEFAULT_RSA_BITS: i64 = 2048;

/// Runs the SSHKey generator: keys `privateKey` and `publicKey`.
pub fn ssh_key(spec: &SshKeySpec) -> Result<SecretData, GeneratorError> {
    let fail = |e: ssh_key::Error| GeneratorError::SshKey(e.to_string());
    let keypair: KeypairData = match spec.key_type {
        SshKeyType::Rsa => {
            let bits = spec.key_size.unwrap_or(DEFAULT_RSA_BITS);
            let bits = usize::try_from(bits).map_err(|_| {
                GeneratorError::Invalid(format!(
                    "spec.keySize is {bits}: give a number of bits such as 2048, 3072 or 4096"
                ))
            })?;
            RsaKeypair::random(&mut OsRng, bits)
                .map_err(|e| {
                    GeneratorError::SshKey(format!(
                        "RSA key of {bits} bits: {e} (use 2048, 3072 or 4096)"
                    ))
                })?
                .into()
        }
        // ESO falls back to P-256 for any size other than 384 and 521.
        SshKeyType::Ecdsa => {
            let curve = match spec.key_size {
                Some(384) => EcdsaCurve::NistP384,
                Some(521) => EcdsaCurve::NistP521,
                _ => EcdsaCurve::NistP256,
            };
            EcdsaKeypair::random(&mut OsRng, curve)
                .map_err(fail)?
                .into()
        }
        SshKeyType::Ed25519 => Ed25519Keypair::random(&mut OsRng).into(),
    };
    let private = PrivateKey::new(keypair, spec.comment.as_str()).map_err(fail)?;
    let mut public = private.public_key().to_openssh().map_err(fail)?;
    public.push('\n');
    let der = private.to_bytes().map_err(fail)?;
    let private_pem = pem_64("OPENSSH PRIVATE KEY", &der);
    Ok(SecretData::from([
        ("privateKey".to_owned(), private_pem.into_bytes()),
        ("publicKey".to_owned(), public.into_bytes()),
    ]))
}

/// PEM as Go's `encoding/pem` writes it: base64 in lines of 64 characters.
fn pem_64(label: &str, body: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::{Algorithm, PublicKey};

    fn run(key_type: SshKeyType, key_size: Option<i64>, comment: &str) -> (String, String) {
        let out = ssh_key(&SshKeySpec {
            key_type,
            key_size,
            comment: comment.to_owned(),
        })
        .unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["privateKey", "publicKey"]);
        (
            String::from_utf8(out["privateKey"].clone()).unwrap(),
            String::from_utf8(out["publicKey"].clone()).unwrap(),
        )
    }

    /// The private key parses, is unencrypted, and its public half is the `publicKey` line.
    fn check_pair(private: &str, public: &str, algorithm: &Algorithm, comment: &str) {
        assert!(
            private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            "{public}"
        );
        assert!(private.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
        for line in private.lines().filter(|l| !l.starts_with("-----")) {
            assert!(line.len() <= 64);
        }
        // ssh-key's PEM reader expects OpenSSH's 70-column lines; Go writes 64, so decode
        // the body here (ssh-keygen below reads the PEM itself).
        let body: String = private
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let binary = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let parsed = PrivateKey::from_bytes(&binary).unwrap();
        assert!(!parsed.is_encrypted());
        assert_eq!(parsed.algorithm(), *algorithm);
        assert_eq!(parsed.comment(), comment);
        assert!(public.ends_with('\n') && !public.ends_with("\n\n"));
        let public_parsed = PublicKey::from_openssh(public.trim_end()).unwrap();
        assert_eq!(public_parsed.key_data(), parsed.public_key().key_data());
        assert_eq!(public_parsed.comment(), comment);
        let expected_prefix = format!("{} ", algorithm.as_str());
        assert!(public.starts_with(&expected_prefix), "{public}");
        if comment.is_empty() {
            assert_eq!(public.trim_end().split(' ').count(), 2, "{public}");
        } else {
            assert!(
                public.trim_end().ends_with(&format!(" {comment}")),
                "{public}"
            );
        }
        check_with_ssh_keygen(private, public);
    }

    /// OpenSSH's own tool derives the same public key from the private key.
    fn check_with_ssh_keygen(private: &str, public: &str) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(&path, private).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .args(["-y", "-f"])
            .arg(&path)
            .output()
            .expect("ssh-keygen (openssh-client) is needed for this test");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8(out.stdout).unwrap();
        let key_part = |s: &str| s.split(' ').take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(key_part(derived.trim_end()), key_part(public.trim_end()));
    }

    #[test]
    fn default_is_rsa_2048() {
        let (private, public) = run(SshKeyType::Rsa, None, "");
        check_pair(&private, &public, &Algorithm::Rsa { hash: None }, "");
        let parsed = PublicKey::from_openssh(public.trim_end()).unwrap();
        let bits = parsed
            .key_data()
            .rsa()
            .unwrap()
            .n
            .as_positive_bytes()
            .unwrap()
            .len()
            * 8;
        assert_eq!(bits, 2048);
    }

    #[test]
    fn ecdsa_sizes_and_fallback() {
        for (size, curve) in [
            (None, EcdsaCurve::NistP256),
            (Some(256), EcdsaCurve::NistP256),
            (Some(384), EcdsaCurve::NistP384),
            (Some(521), EcdsaCurve::NistP521),
            (Some(1024), EcdsaCurve::NistP256),
        ] {
            let (private, public) = run(SshKeyType::Ecdsa, size, "ops@example.com");
            check_pair(
                &private,
                &public,
                &Algorithm::Ecdsa { curve },
                "ops@example.com",
            );
        }
    }

    #[test]
    fn ed25519_with_comment() {
        let (private, public) = run(SshKeyType::Ed25519, Some(4096), "deploy key");
        check_pair(&private, &public, &Algorithm::Ed25519, "deploy key");
        let (private2, _) = run(SshKeyType::Ed25519, None, "");
        assert_ne!(private, private2);
    }

    #[test]
    fn too_small_rsa_is_an_error_naming_the_size() {
        let err = ssh_key(&SshKeySpec {
            key_type: SshKeyType::Rsa,
            key_size: Some(512),
            comment: String::new(),
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("unable to generate SSH key: RSA key of 512 bits"),
            "{err}"
        );
    }
}
