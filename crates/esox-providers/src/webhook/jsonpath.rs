//! `result.jsonPath` as ESO evaluates it (PaesslerAG/jsonpath): a path that names one place
//! (`$.a.b`, `$.a[0]`, `$["a"]`) gives that value, and fails when it is absent; a path that may
//! match many (`*`, `..`, filters `[?...]`, slices, unions) gives the array of matches, possibly
//! empty. The matching itself is RFC 9535 (jsonpath-rust), whose syntax covers ESO's
//! documented paths, filters included (`$.secrets[?@.name=="x"].value`).

use serde_json::Value;

/// The value(s) `path` selects in `doc`. Errors say what failed, never the document.
pub fn get(path: &str, doc: &Value) -> Result<Value, String> {
    // ESO's library also reads a path without the root, `a.b`, as `$.a.b` on an object.
    let rooted;
    let path = if path.starts_with(['$', '@']) {
        path
    } else {
        rooted = format!("$.{path}");
        &rooted
    };
    let found = jsonpath_rust::query::js_path_vals(path, doc).map_err(|e| e.to_string())?;
    if is_definite(path) {
        return found
            .first()
            .map(|v| (*v).clone())
            .ok_or_else(|| "unknown key: nothing at this path".to_owned());
    }
    Ok(Value::Array(found.into_iter().cloned().collect()))
}

/// Whether `path` can select at most one value: no wildcard, descendant, filter, slice or
/// union outside quoted names.
fn is_definite(path: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut previous = '\0';
    for c in path.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '*' | '?' | ':' | ',' => return false,
            '.' if previous == '.' => return false,
            _ => {}
        }
        previous = c;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definite_paths_give_the_value_or_fail() {
        let doc = json!({"result": {"thesecret": "v", "list": [1, 2, 3], "a.b": "dotted"}});
        assert_eq!(get("$.result.thesecret", &doc).unwrap(), json!("v"));
        assert_eq!(get("$.result.list[1]", &doc).unwrap(), json!(2));
        assert_eq!(get("$.result.list[-1]", &doc).unwrap(), json!(3));
        assert_eq!(get("$['result']['a.b']", &doc).unwrap(), json!("dotted"));
        assert_eq!(get("$", &doc).unwrap(), doc);
        assert!(get("$.result.missing", &doc).is_err());
        assert!(get("$.result[", &doc).is_err());
        assert_eq!(get("result.thesecret", &doc).unwrap(), json!("v"));
    }

    #[test]
    fn indefinite_paths_give_arrays() {
        let doc = json!({"secrets": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]});
        assert_eq!(
            get("$.secrets[?@.name==\"b\"].value", &doc).unwrap(),
            json!(["2"])
        );
        assert_eq!(
            get("$.secrets[?(@.name==\"c\")].value", &doc).unwrap(),
            json!([])
        );
        assert_eq!(get("$..name", &doc).unwrap(), json!(["a", "b"]));
        assert_eq!(get("$.secrets[*].value", &doc).unwrap(), json!(["1", "2"]));
        assert_eq!(get("$.secrets[0:1].name", &doc).unwrap(), json!(["a"]));
    }

    #[test]
    fn definiteness_ignores_quoted_names() {
        assert!(is_definite("$['a*b']['c,d']"));
        assert!(is_definite("$.a.b[0]"));
        assert!(!is_definite("$..a"));
        assert!(!is_definite("$.a[0,1]"));
    }
}
