//! `spec.template` of a PushSecret, applied in memory to a copy of the source (as ESO):
//! the source keys stay, `templateFrom` then `data` render over them, the type becomes the
//! template's type (even when empty), and the rendered labels and annotations are merged into the
//! source's. The source Secret itself is never changed. Rendering is shared with ExternalSecrets
//! ([`crate::templating`]).

use esox_api::v1::{ExternalSecretTemplate, TemplateMergePolicy};
use esox_providers::LocalSecret;

use crate::error::Error;
use crate::templating::{self, Source};

/// Where the template sits in a PushSecret, for error messages.
const FIELD: &str = "spec.template";

/// A template whose `templateFrom` ConfigMaps and Secrets have been read.
pub struct Resolved {
    template: ExternalSecretTemplate,
    sources: Vec<Source>,
}

/// Reads the `templateFrom` sources of `template` from the PushSecret's namespace, once per
/// reconcile (every source Secret and every store then use the same templates).
pub async fn resolve(
    client: &kube::Client,
    namespace: &str,
    template: &ExternalSecretTemplate,
) -> Result<Resolved, Error> {
    let mut sources = Vec::with_capacity(template.template_from.len());
    for (i, from) in template.template_from.iter().enumerate() {
        sources.push(templating::resolve(client, namespace, FIELD, i, from).await?);
    }
    Ok(Resolved {
        template: template.clone(),
        sources,
    })
}

/// Applies a resolved template to every secret in `secrets`, on the render pool
/// ([`templating::off_workers`]) rather than the async workers.
pub async fn apply_all(
    resolved: Resolved,
    mut secrets: Vec<LocalSecret>,
) -> Result<Vec<LocalSecret>, Error> {
    templating::off_workers(move || {
        for secret in &mut secrets {
            apply(&resolved, secret)?;
        }
        Ok(secrets)
    })
    .await?
}

/// Applies a resolved template to `secret`.
pub fn apply(resolved: &Resolved, secret: &mut LocalSecret) -> Result<(), Error> {
    let template = &resolved.template;
    // ESO renders over a copy of the source data whatever the merge policy says: rendering with
    // Merge starts from that data, which is exactly this.
    let merging = ExternalSecretTemplate {
        merge_policy: TemplateMergePolicy::Merge,
        ..template.clone()
    };
    let content = templating::render(FIELD, &merging, &secret.data, &resolved.sources)?;
    secret.type_ = template.type_.clone().unwrap_or_default();
    secret.data = content.data;
    secret.labels.extend(content.labels);
    secret.annotations.extend(content.annotations);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved_offline(t: &ExternalSecretTemplate) -> Resolved {
        let sources = t
            .template_from
            .iter()
            .enumerate()
            .map(|(i, from)| templating::resolve_offline(FIELD, i, from))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        Resolved {
            template: t.clone(),
            sources,
        }
    }

    fn source() -> LocalSecret {
        LocalSecret {
            name: "src".into(),
            namespace: "ns".into(),
            type_: "kubernetes.io/basic-auth".into(),
            data: [
                ("user".to_owned(), b"bob".to_vec()),
                ("pass".to_owned(), b"pw".to_vec()),
            ]
            .into(),
            labels: [("team".to_owned(), "a".to_owned())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn rendered_keys_overwrite_and_source_keys_stay() {
        let mut s = source();
        let t: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "data": {"pass": "{{ .pass | upper }}", "dsn": "{{ .user }}:{{ .pass }}"},
            "metadata": {"labels": {"who": "{{ .user }}"}}
        }))
        .unwrap();
        apply(&resolved_offline(&t), &mut s).unwrap();
        assert_eq!(s.data["user"], b"bob");
        assert_eq!(s.data["pass"], b"PW");
        assert_eq!(s.data["dsn"], b"bob:pw");
        assert_eq!(s.labels["who"], "bob");
        assert_eq!(s.labels["team"], "a", "source labels stay");
        assert_eq!(
            s.type_, "",
            "the template's empty type replaces the source type"
        );
        let bad: ExternalSecretTemplate =
            serde_json::from_value(serde_json::json!({"data": {"x": "{{ .nope | nosuchfn }}"}}))
                .unwrap();
        let e = apply(&resolved_offline(&bad), &mut s)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("spec.template: "), "{e}");
    }

    #[test]
    fn template_from_renders_before_data_and_into_metadata() {
        let mut s = source();
        // A `Replace` merge policy would drop the fetched data of an ExternalSecret; a
        // PushSecret keeps its source keys regardless.
        let t: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "mergePolicy": "Replace",
            "templateFrom": [
                {"literal": "dsn: \"{{ .user }}@from\"\nextra: \"{{ .pass }}!\"\n"},
                {"literal": "owner: \"{{ .user }}\"", "target": "Annotations"},
                {"literal": "tier: gold", "target": "Labels"}
            ],
            "data": {"dsn": "{{ .user }}@data"}
        }))
        .unwrap();
        apply(&resolved_offline(&t), &mut s).unwrap();
        assert_eq!(s.data["user"], b"bob");
        assert_eq!(s.data["pass"], b"pw");
        assert_eq!(s.data["extra"], b"pw!");
        assert_eq!(
            s.data["dsn"], b"bob@data",
            "template.data wins over templateFrom"
        );
        assert_eq!(s.annotations["owner"], "bob");
        assert_eq!(s.labels["tier"], "gold");
        assert_eq!(s.labels["team"], "a");
    }

    #[test]
    fn errors_name_the_push_secret_field() {
        let t: ExternalSecretTemplate = serde_json::from_value(serde_json::json!({
            "templateFrom": [{"literal": "a: b", "target": "Spec"}]
        }))
        .unwrap();
        let e = apply(&resolved_offline(&t), &mut source())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("spec.template.templateFrom[0].target \"Spec\""),
            "{e}"
        );
    }
}
