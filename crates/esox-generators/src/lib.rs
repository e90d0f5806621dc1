//! ESO's local generators: Password, UUID, Fake and SSHKey, and the computation of MFA (TOTP)
//! once its seed is read.
//!
//! Each generator turns its spec into the key/value map ESO's generator of the same kind
//! produces. Values are fresh on every call; callers decide when to call (ESO: on refresh).

mod base32;
pub mod mfa;
pub mod password;
pub mod sshkey;

use esox_api::generators::{FakeSpec, SupportedGenerator};
use esox_core::SecretData;
use rand::RngCore;

pub use mfa::mfa;
pub use password::password;
pub use sshkey::ssh_key;

/// The settings of one generator esox can run, as returned by
/// `ClusterGeneratorSpec::resolve` or built from a namespaced generator's spec.
pub type GeneratorSpecRef<'a> = SupportedGenerator<'a>;

/// Why a generator produced nothing. The messages never contain generated values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    /// The spec asks for something that cannot be produced.
    #[error("{0}")]
    Invalid(String),
    /// Key generation itself failed.
    #[error("unable to generate SSH key: {0}")]
    SshKey(String),
}

/// Runs the generator `spec` once.
pub fn generate(spec: GeneratorSpecRef<'_>) -> Result<SecretData, GeneratorError> {
    match spec {
        SupportedGenerator::Password(p) => password(p),
        SupportedGenerator::Uuid(_) => Ok(uuid()),
        SupportedGenerator::Fake(f) => Ok(fake(f)),
        SupportedGenerator::SshKey(s) => ssh_key(s),
        // These read Secrets or call out: the controller runs them (see `mfa` for MFA's code).
        SupportedGenerator::Webhook(_) | SupportedGenerator::Mfa(_) => Err(
            GeneratorError::Invalid("this generator kind needs cluster access".to_owned()),
        ),
        // It calls a Vault server, so the controller runs it with the Vault provider.
        SupportedGenerator::VaultDynamicSecret(_) => Err(GeneratorError::Invalid(
            "VaultDynamicSecret needs the Vault provider; it is run by the controller".to_owned(),
        )),
    }
}

/// A random (version 4) UUID under the key `uuid`, like ESO's `uuid.New()`.
pub fn uuid() -> SecretData {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    SecretData::from([("uuid".to_owned(), id.hyphenated().to_string().into_bytes())])
}

/// Exactly `spec.data`.
pub fn fake(spec: &FakeSpec) -> SecretData {
    spec.data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_version_4_rfc_variant_and_differs_between_calls() {
        let a = uuid();
        let b = uuid();
        assert_eq!(a.keys().collect::<Vec<_>>(), ["uuid"]);
        let text = String::from_utf8(a["uuid"].clone()).unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(text, text.to_lowercase());
        let parsed = uuid::Uuid::parse_str(&text).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
        // Version nibble and variant bits as written in the text form.
        assert_eq!(&text[14..15], "4");
        assert!("89ab".contains(&text[19..20]), "{text}");
        assert_ne!(a, b);
    }

    #[test]
    fn fake_returns_spec_data() {
        let spec = FakeSpec {
            controller: String::new(),
            data: [
                ("user".to_owned(), "admin".to_owned()),
                ("pw".to_owned(), "x y".to_owned()),
            ]
            .into(),
        };
        let out = generate(SupportedGenerator::Fake(&spec)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out["user"], b"admin");
        assert_eq!(out["pw"], b"x y");
        assert!(fake(&FakeSpec::default()).is_empty());
    }

    #[test]
    fn generate_dispatches_on_kind() {
        let uuid_spec = esox_api::generators::UuidSpec {};
        let out = generate(SupportedGenerator::Uuid(&uuid_spec)).unwrap();
        assert!(out.contains_key("uuid"));
        let pw = esox_api::generators::PasswordSpec::default();
        let out = generate(SupportedGenerator::Password(&pw)).unwrap();
        assert_eq!(out["password"].len(), 24);
    }
}
