//! `target.template`: shaping the Secret from the fetched data with Go-compatible templates,
//! in ESO's order. The rendering itself is shared with
//! PushSecrets ([`crate::templating`]); this module adds what only ExternalSecrets have.

use std::collections::BTreeMap;

use esox_api::v1::{ExternalSecret, ExternalSecretTemplate};
use esox_core::SecretData;
use esox_core::rewrite::{KeyTemplate, TransformFailure};
use esox_template::{Template, Value};

use super::target::Content;
use crate::error::Error;
use crate::templating::{render, render_off_workers, resolve, resolve_offline};

/// Where the template sits in an ExternalSecret, for error messages.
const FIELD: &str = "spec.target.template";

/// Renders `rewrite[].transform` templates with `.value` bound to the key.
pub struct TransformTemplates;

impl KeyTemplate for TransformTemplates {
    fn render_key(&self, template: &str, key: &str) -> Result<String, TransformFailure> {
        let parsed = Template::parse("transform", template, None)
            .map_err(|e| TransformFailure::Parse(e.to_string()))?;
        let data = Value::from(BTreeMap::from([("value".to_owned(), key.to_owned())]));
        parsed
            .execute(&data)
            .map_err(|e| TransformFailure::Execute {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }
}

/// Applies the template of `es` to the fetched `data`, reading `templateFrom` ConfigMaps and
/// Secrets from the ExternalSecret's namespace.
pub async fn apply(
    client: &kube::Client,
    es: &ExternalSecret,
    template: &ExternalSecretTemplate,
    data: &SecretData,
) -> Result<Content, Error> {
    check_privileged(template)?;
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let mut sources = Vec::with_capacity(template.template_from.len());
    for (i, from) in template.template_from.iter().enumerate() {
        sources.push(resolve(client, &namespace, FIELD, i, from).await?);
    }
    render_off_workers(FIELD, template.clone(), data.clone(), sources).await
}

/// Applies `template` to `data` without a cluster (for `esox render`): the same steps as
/// [`apply`], but `templateFrom` entries that read a ConfigMap or Secret are refused.
pub fn apply_offline(
    template: &ExternalSecretTemplate,
    data: &SecretData,
) -> Result<Content, Error> {
    check_privileged(template)?;
    let sources = template
        .template_from
        .iter()
        .enumerate()
        .map(|(i, from)| resolve_offline(FIELD, i, from))
        .collect::<Result<Vec<_>, _>>()?;
    render(FIELD, template, data, &sources)
}

/// The rules ESO's webhook enforces, checked again here because a Kubernetes 1.24 API server
/// ignores the CRD's CEL rules.
fn check_privileged(t: &ExternalSecretTemplate) -> Result<(), Error> {
    match t.type_.as_deref() {
        Some("bootstrap.kubernetes.io/token") => Err(Error::Invalid(
            "spec.target.template.type bootstrap.kubernetes.io/token is refused: use type Opaque"
                .into(),
        )),
        Some("kubernetes.io/service-account-token") => {
            let annotated = t.metadata.as_ref().is_some_and(|m| {
                m.annotations
                    .contains_key("kubernetes.io/service-account.name")
            });
            let from_annotations = t
                .template_from
                .iter()
                .any(|f| f.target.eq_ignore_ascii_case("annotations"));
            if annotated || from_annotations {
                Err(Error::Invalid(
                    "a template of type kubernetes.io/service-account-token may not set the kubernetes.io/service-account.name annotation".into(),
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}
