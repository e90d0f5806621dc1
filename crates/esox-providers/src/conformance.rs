//! The contract every provider passes, as one suite run against a provider instance and a
//! server it talks to (the `conformance` feature; for tests only).
//!
//! A provider's test supplies a [`Harness`]: the provider, a context, and a way to create a
//! store whose remote holds given secrets. [`run`] then checks, through the provider's public
//! interface only: store validation, `validate`, `get_secret` (whole value and property),
//! `get_secret_map`, missing secrets (`NoSecret` for extract), `find` by name and by tags
//! where supported, push / exists / delete, and that no error (message, sources or debug form)
//! carries a secret value. A new provider adds a harness for its test server and calls [`run`].
//!
//! A remote secret is a set of string fields: providers that store one value per key (the
//! `fake` provider, most cloud secret managers) hold them as a JSON object, providers with
//! structured secrets (Kubernetes) as their fields. Either way a property names a field.

use std::collections::BTreeMap;
use std::error::Error as _;

use async_trait::async_trait;
use esox_api::v1::{ExternalSecretFind, FindName, RemoteRef};
use esox_api::v1alpha1::PushSecretRemoteRef;

use crate::{
    ClientContext, LocalSecret, Provider, ProviderError, PushEntry, SecretsClient, StoreInfo,
    ValidationResult,
};

/// A remote secret to create before the suite runs.
#[derive(Clone, Debug, Default)]
pub struct Fixture {
    pub name: String,
    pub fields: BTreeMap<String, String>,
    /// Labels or tags, for providers that support `find.tags`.
    pub tags: BTreeMap<String, String>,
}

/// A provider under test and its server.
#[async_trait]
pub trait Harness: Send + Sync {
    fn provider(&self) -> &dyn Provider;
    /// The context of an object in the store's namespace.
    fn context(&self) -> ClientContext;
    /// A store whose remote holds `secrets` and whose credentials may read, write and delete
    /// there (for the fake provider, the store itself holds them).
    async fn store(&self, secrets: &[Fixture]) -> StoreInfo;
    /// Whether the provider supports `find.tags`.
    fn finds_by_tags(&self) -> bool;
    /// How a value pushed with `entry` is read back (some providers keep a pushed key under
    /// a property of the remote secret, others as the whole value).
    fn pushed_ref(&self, entry: &PushEntry) -> RemoteRef;
}

/// A value that must never appear in an error.
pub const CANARY: &str = "CANARY-conformance-s3cr3t";

fn fixtures() -> Vec<Fixture> {
    let fields = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
    };
    vec![
        Fixture {
            name: "db-a".into(),
            fields: fields(&[("user", "admin"), ("password", CANARY)]),
            tags: fields(&[("app", "db")]),
        },
        Fixture {
            name: "db-b".into(),
            fields: fields(&[("user", "reader")]),
            tags: fields(&[("app", "other")]),
        },
        Fixture {
            name: "web".into(),
            fields: fields(&[("token", "t")]),
            tags: BTreeMap::new(),
        },
    ]
}

fn rref(key: &str, property: Option<&str>) -> RemoteRef {
    RemoteRef {
        key: key.into(),
        property: property.map(str::to_owned),
        ..Default::default()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Everything an error shows: its message, its sources' and its debug form.
fn everything_in(e: &ProviderError) -> String {
    let mut out = format!("{e} | {e:?}");
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&format!(" | {s} | {s:?}"));
        cur = s.source();
    }
    out
}

/// An error that must not show [`CANARY`]; `what` names the call in the failure message.
fn expect_err<T>(r: Result<T, ProviderError>, what: &str) -> ProviderError {
    match r {
        Ok(_) => panic!("{what}: expected an error"),
        Err(e) => {
            let all = everything_in(&e);
            assert!(
                !all.contains(CANARY),
                "{what}: the error shows a secret value: {all}"
            );
            e
        }
    }
}

fn expect_ok<T>(r: Result<T, ProviderError>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {}", everything_in(&e)))
}

/// Runs the whole contract against `h`; panics with the first broken clause.
pub async fn run(h: &dyn Harness) {
    let fixtures = fixtures();
    let store = h.store(&fixtures).await;
    let provider = h.provider();
    expect_ok(provider.validate_store(&store), "validate_store");
    let client = expect_ok(
        provider.new_client(&store, &h.context()).await,
        "new_client",
    );
    let client = client.as_ref();
    assert_eq!(
        expect_ok(client.validate().await, "validate"),
        ValidationResult::Ready,
        "validate: a store with working credentials is Ready"
    );
    reads(client).await;
    finds(h, client).await;
    writes(h, client).await;
    errors_hide_values(client).await;
}

async fn reads(client: &dyn SecretsClient) {
    let v = expect_ok(
        client.get_secret(&rref("db-a", Some("user"))).await,
        "get_secret with a property",
    );
    assert_eq!(text(&v), "admin", "get_secret db-a.user");
    let whole = expect_ok(
        client.get_secret(&rref("db-b", None)).await,
        "get_secret without a property",
    );
    let parsed: serde_json::Value = serde_json::from_slice(&whole)
        .unwrap_or_else(|e| panic!("get_secret db-b: the whole secret is not JSON: {e}"));
    assert_eq!(
        parsed,
        serde_json::json!({"user": "reader"}),
        "get_secret db-b"
    );
    let map = expect_ok(
        client.get_secret_map(&rref("db-a", None)).await,
        "get_secret_map",
    );
    let got: BTreeMap<&str, String> = map.iter().map(|(k, v)| (k.as_str(), text(v))).collect();
    assert_eq!(
        got,
        BTreeMap::from([
            ("password", CANARY.to_owned()),
            ("user", "admin".to_owned())
        ]),
        "get_secret_map db-a"
    );
    let missing = expect_err(
        client.get_secret_map(&rref("absent", None)).await,
        "get_secret_map of a missing secret",
    );
    assert!(
        missing.is_no_secret(),
        "get_secret_map of a missing secret is NoSecret (deletionPolicy relies on it): {missing:?}"
    );
    expect_err(
        client.get_secret(&rref("absent", None)).await,
        "get_secret of a missing secret",
    );
}

async fn finds(h: &dyn Harness, client: &dyn SecretsClient) {
    let by_name = ExternalSecretFind {
        name: Some(FindName {
            regexp: "^db-".into(),
        }),
        ..Default::default()
    };
    let found = expect_ok(client.get_all_secrets(&by_name).await, "find by name");
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        ["db-a", "db-b"],
        "find by name ^db-"
    );
    let db_b: serde_json::Value = serde_json::from_slice(&found["db-b"])
        .unwrap_or_else(|e| panic!("find by name: db-b is not its fields as JSON: {e}"));
    assert_eq!(
        db_b,
        serde_json::json!({"user": "reader"}),
        "find by name: db-b"
    );
    let bad = ExternalSecretFind {
        name: Some(FindName { regexp: "(".into() }),
        ..Default::default()
    };
    let e = expect_err(client.get_all_secrets(&bad).await, "find with a bad regexp");
    assert!(
        matches!(e, ProviderError::InvalidConfig(_)),
        "a bad find.name.regexp is the store user's to fix: {e:?}"
    );
    let by_tags = ExternalSecretFind {
        tags: BTreeMap::from([("app".to_owned(), "db".to_owned())]),
        ..Default::default()
    };
    if h.finds_by_tags() {
        let found = expect_ok(client.get_all_secrets(&by_tags).await, "find by tags");
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            ["db-a"],
            "find by tags app=db"
        );
    } else {
        let e = expect_err(
            client.get_all_secrets(&by_tags).await,
            "find by tags where unsupported",
        );
        assert!(
            matches!(e, ProviderError::InvalidConfig(_)) && !e.is_retryable(),
            "an unsupported find operator is a configuration error: {e:?}"
        );
    }
}

async fn writes(h: &dyn Harness, client: &dyn SecretsClient) {
    let local = LocalSecret {
        name: "source".into(),
        namespace: "conformance".into(),
        type_: "Opaque".into(),
        data: BTreeMap::from([("pw".to_owned(), b"pushed-value".to_vec())]),
        ..Default::default()
    };
    let entry = PushEntry {
        secret_key: Some("pw".into()),
        remote_ref: PushSecretRemoteRef {
            remote_key: "pushed".into(),
            property: Some("pw".into()),
        },
        metadata: None,
        never_pushed: true,
        owner: Some("conformance/ps".into()),
    };
    assert!(
        !expect_ok(
            client.secret_exists(&entry).await,
            "secret_exists before push"
        ),
        "nothing pushed yet"
    );
    expect_ok(client.push_secret(&local, &entry).await, "push_secret");
    assert!(
        expect_ok(
            client.secret_exists(&entry).await,
            "secret_exists after push"
        ),
        "the pushed secret exists"
    );
    let back = expect_ok(
        client.get_secret(&h.pushed_ref(&entry)).await,
        "reading the pushed value",
    );
    assert_eq!(text(&back), "pushed-value", "the pushed value reads back");
    // Pushing the same value again changes nothing and succeeds.
    let again = PushEntry {
        never_pushed: false,
        ..entry.clone()
    };
    expect_ok(
        client.push_secret(&local, &again).await,
        "push_secret again",
    );
    expect_ok(client.delete_secret(&again).await, "delete_secret");
    assert!(
        !expect_ok(
            client.secret_exists(&again).await,
            "secret_exists after delete"
        ),
        "the pushed secret is gone"
    );
    expect_ok(
        client.delete_secret(&again).await,
        "delete_secret of what is already gone",
    );
}

async fn errors_hide_values(client: &dyn SecretsClient) {
    let e = expect_err(
        client.get_secret(&rref("db-a", Some("absent"))).await,
        "get_secret of a missing property",
    );
    assert!(
        !e.is_retryable(),
        "a missing property needs a change: {e:?}"
    );
    expect_err(
        client
            .get_secret(&rref("db-a", Some("password.nested")))
            .await,
        "get_secret of a property inside a plain value",
    );
    expect_err(
        client.get_secret_map(&rref("db-a", Some("password"))).await,
        "get_secret_map of a plain value",
    );
}
