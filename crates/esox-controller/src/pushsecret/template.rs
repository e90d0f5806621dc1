//! `spec.template` of a PushSecret, applied in memory to a copy of the source (ESO section 8.3):
//! the source keys stay, rendered keys overwrite them, the type becomes the template's type
//! (even when empty), and the template's labels and annotations are merged in. The source Secret
//! itself is never changed.

use esox_api::v1::ExternalSecretTemplate;
use esox_providers::LocalSecret;
use esox_template::{Template, Value};

use crate::error::Error;

/// Applies `template` to `secret`.
pub fn apply(template: &ExternalSecretTemplate, secret: &mut LocalSecret) -> Result<(), Error> {
    if !template.template_from.is_empty() {
        return Err(Error::Invalid(
            "spec.template.templateFrom is not implemented for PushSecrets yet: use spec.template.data"
                .into(),
        ));
    }
    let context = Value::from(secret.data.clone());
    secret.type_ = template.type_.clone().unwrap_or_default();
    for (key, text) in &template.data {
        let value = Template::parse(key, text, None)
            .and_then(|t| t.execute_bytes(&context))
            .map_err(|e| Error::Invalid(format!("spec.template.data[{key:?}]: {e}")))?;
        secret.data.insert(key.clone(), value);
    }
    let meta = template.metadata.clone().unwrap_or_default();
    for (key, text) in &meta.labels {
        let v = render(key, text, &context, "labels")?;
        secret.labels.insert(key.clone(), v);
    }
    for (key, text) in &meta.annotations {
        let v = render(key, text, &context, "annotations")?;
        secret.annotations.insert(key.clone(), v);
    }
    Ok(())
}

fn render(key: &str, text: &str, context: &Value, field: &str) -> Result<String, Error> {
    Template::parse(key, text, None)
        .and_then(|t| t.execute(context))
        .map_err(|e| Error::Invalid(format!("spec.template.metadata.{field}[{key:?}]: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_keys_overwrite_and_source_keys_stay() {
        let mut s = LocalSecret {
            name: "src".into(),
            namespace: "ns".into(),
            type_: "kubernetes.io/basic-auth".into(),
            data: [
                ("user".to_owned(), b"bob".to_vec()),
                ("pass".to_owned(), b"pw".to_vec()),
            ]
            .into(),
            ..Default::default()
        };
        let t: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": {"pass": "{{ .pass | upper }}", "dsn": "{{ .user }}:{{ .pass }}"},
            "metadata": {"labels": {"who": "{{ .user }}"}}
        }))
        .unwrap();
        apply(&t, &mut s).unwrap();
        assert_eq!(s.data["user"], b"bob");
        assert_eq!(s.data["pass"], b"PW");
        assert_eq!(s.data["dsn"], b"bob:pw");
        assert_eq!(s.labels["who"], "bob");
        assert_eq!(
            s.type_, "",
            "the template's empty type replaces the source type"
        );
        let bad: ExternalSecretTemplate =
            serde_json::from_value(serde_json::json!({"data": {"x": "{{ .nope | nosuchfn }}"}}))
                .unwrap();
        assert!(
            apply(&bad, &mut s)
                .unwrap_err()
                .to_string()
                .contains("spec.template.data")
        );
    }
}
