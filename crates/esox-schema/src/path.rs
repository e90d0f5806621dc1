//! Field paths printed the way `field.Path.String()` prints them: `spec.items[0].name`,
//! `metadata.labels[app]`. Built as plain strings; paths are short and rarely built on hot paths.

/// `parent.name`, or `name` at the root.
pub(crate) fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]` (map keys are not quoted, as in Go).
pub(crate) fn key(parent: &str, key: &str) -> String {
    format!("{parent}[{key}]")
}

/// A path relative to `prefix`, keeping `[..]` segments attached without a dot.
pub(crate) fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else if rest.is_empty() {
        prefix.to_string()
    } else if rest.starts_with('[') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}.{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_field_path() {
        let p = child(&index(&child("spec", "data"), 0), "secretKey");
        assert_eq!(p, "spec.data[0].secretKey");
        assert_eq!(
            key(&child("metadata", "labels"), "app"),
            "metadata.labels[app]"
        );
        assert_eq!(join("spec", "[1].x"), "spec[1].x");
        assert_eq!(join("", "a"), "a");
        assert_eq!(child("", "spec"), "spec");
    }
}
