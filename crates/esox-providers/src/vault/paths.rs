//! Where a remote key lives in the KV engine, with ESO's rules (`buildPath` and
//! `buildMetadataPath`): with `spec.path` set, a key may repeat the mount (and, on KV v2,
//! the `data/` segment) and is read below the mount either way; without it, the key starts
//! with the mount and KV v2's `data/` segment is inserted after the first segment.

use crate::ProviderError;

/// The KV engine a store reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Kv {
    /// `spec.path`, the mount (`None` when unset or empty).
    pub mount: Option<String>,
    /// `version: v2`.
    pub v2: bool,
}

impl Kv {
    pub fn new(path: Option<&str>, v2: bool) -> Self {
        Self {
            mount: path.filter(|p| !p.is_empty()).map(str::to_owned),
            v2,
        }
    }

    /// The key without the mount prefix (and `data/` on v2), when `spec.path` is set.
    fn relative<'a>(&self, mount: &str, key: &'a str) -> &'a str {
        let Some(rest) = key.strip_prefix(mount).and_then(|r| r.strip_prefix('/')) else {
            return key;
        };
        if self.v2 {
            return rest.strip_prefix("data/").unwrap_or(rest);
        }
        rest
    }

    /// The API path of a key's data (`mount/data/key` on v2, `mount/key` on v1).
    pub fn data_path(&self, key: &str) -> String {
        match &self.mount {
            Some(mount) => {
                let rest = self.relative(mount, key);
                if self.v2 {
                    format!("{mount}/data/{rest}")
                } else {
                    format!("{mount}/{rest}")
                }
            }
            None if self.v2 && !key.contains("/data/") => insert_after_first(key, "data"),
            None => key.to_owned(),
        }
    }

    /// The API path of a key's metadata (v2) or of its data (v1, which has no metadata).
    pub fn metadata_path(&self, key: &str) -> String {
        match &self.mount {
            Some(mount) => {
                let rest = self.relative(mount, key);
                if self.v2 {
                    format!("{mount}/metadata/{rest}")
                } else {
                    format!("{mount}/{rest}")
                }
            }
            None if self.v2 => match key.split_once("/data/") {
                Some((mount, rest)) => format!("{mount}/metadata/{rest}"),
                None => insert_after_first(key, "metadata"),
            },
            None => key.to_owned(),
        }
    }

    /// The API path listed to find keys below `folder` (empty: the whole mount).
    pub fn list_path(&self, folder: &str) -> Result<String, ProviderError> {
        if self.mount.is_none() && folder.trim_matches('/').is_empty() {
            return Err(ProviderError::InvalidConfig(
                "dataFrom.find needs spec.provider.vault.path (the KV mount) or a find.path that starts with the mount".into(),
            ));
        }
        let mut path = self.metadata_path(folder);
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(path)
    }

    /// The mount a path belongs to, for messages.
    pub fn mount_of<'a>(&'a self, key: &'a str) -> &'a str {
        match &self.mount {
            Some(m) => m,
            None => key.split('/').next().unwrap_or(key),
        }
    }

    pub fn version_name(&self) -> &'static str {
        if self.v2 { "v2" } else { "v1" }
    }
}

fn insert_after_first(key: &str, segment: &str) -> String {
    match key.split_once('/') {
        Some((first, rest)) => format!("{first}/{segment}/{rest}"),
        None => format!("{key}/{segment}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_paths_follow_eso_build_path() {
        let v2 = Kv::new(Some("secret/path"), true);
        assert_eq!(v2.data_path("foo"), "secret/path/data/foo");
        assert_eq!(v2.data_path("secret/path/foo"), "secret/path/data/foo");
        assert_eq!(v2.data_path("secret/path/data/foo"), "secret/path/data/foo");
        let v1 = Kv::new(Some("secret/path"), false);
        assert_eq!(v1.data_path("foo"), "secret/path/foo");
        assert_eq!(v1.data_path("secret/path/foo"), "secret/path/foo");
        let v2_nomount = Kv::new(None, true);
        assert_eq!(
            v2_nomount.data_path("secret/path/foo"),
            "secret/data/path/foo"
        );
        assert_eq!(
            v2_nomount.data_path("secret/path/data/foo"),
            "secret/path/data/foo"
        );
        let v1_nomount = Kv::new(None, false);
        assert_eq!(v1_nomount.data_path("secret/path/foo"), "secret/path/foo");
        assert_eq!(Kv::new(Some(""), true), v2_nomount);
    }

    #[test]
    fn metadata_paths_mirror_data_paths() {
        let v2 = Kv::new(Some("secret"), true);
        assert_eq!(v2.metadata_path("app/db"), "secret/metadata/app/db");
        assert_eq!(
            v2.metadata_path("secret/data/app/db"),
            "secret/metadata/app/db"
        );
        let v2_nomount = Kv::new(None, true);
        assert_eq!(
            v2_nomount.metadata_path("secret/data/app/db"),
            "secret/metadata/app/db"
        );
        assert_eq!(
            v2_nomount.metadata_path("secret/app/db"),
            "secret/metadata/app/db"
        );
        assert_eq!(Kv::new(Some("kv"), false).metadata_path("a"), "kv/a");
    }

    #[test]
    fn list_paths_end_with_a_slash_and_need_a_mount() {
        let v2 = Kv::new(Some("secret"), true);
        assert_eq!(v2.list_path("").expect("path"), "secret/metadata/");
        assert_eq!(v2.list_path("app/").expect("path"), "secret/metadata/app/");
        assert_eq!(
            Kv::new(Some("kv"), false).list_path("app").expect("path"),
            "kv/app/"
        );
        let err = Kv::new(None, true)
            .list_path("")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("spec.provider.vault.path")));
    }
}
