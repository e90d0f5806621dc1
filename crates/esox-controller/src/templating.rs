//! Rendering an `ExternalSecretTemplate` (engine v2), shared by ExternalSecrets
//! (`spec.target.template`) and PushSecrets (`spec.template`): reading `templateFrom` sources and
//! rendering them, `data` and metadata in ESO's order. Templates see only the data they are
//! given: the function set has no access to the cluster, files, the environment or the network.
//! `field` is where the template sits in the object (`spec.target.template`, `spec.template`) so
//! that errors name the field to fix.

use std::collections::BTreeMap;

use esox_api::v1::{
    ExternalSecretTemplate, TemplateFrom, TemplateMergePolicy, TemplateRef, TemplateScope,
};
use esox_core::SecretData;
use esox_template::{Template, Value};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use tokio::sync::Semaphore;

use crate::error::Error;
use crate::externalsecret::target::Content;

/// How many renders run at once. A render may spend up to its step budget or deadline (10 s)
/// of CPU; on the async workers two of them would stall every other task of a 2-worker runtime
/// (health probes, Lease renewal, all reconciles). They run on tokio's blocking threads instead,
/// and this bound keeps a flood of slow templates from taking every core: the rest wait for a
/// slot without holding a worker.
pub(crate) const RENDER_SLOTS: usize = 2;

static RENDER_POOL: Semaphore = Semaphore::const_new(RENDER_SLOTS);

/// Runs `work` (a render, or anything that renders templates) on the bounded render pool.
pub(crate) async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    // The pool is never closed; the error arm only keeps this free of unwrap.
    let permit = RENDER_POOL
        .acquire()
        .await
        .map_err(|_| Error::Invalid("template rendering is shutting down".into()))?;
    // The permit moves into the blocking task: a reconcile that is dropped mid-render cannot
    // free its slot while the render still runs.
    tokio::task::spawn_blocking(move || {
        let _slot = permit;
        work()
    })
    .await
    .map_err(|e| {
        tracing::error!(
            panicked = e.is_panic(),
            "a template render ended abnormally"
        );
        Error::Invalid("template rendering failed unexpectedly (see the esox log)".into())
    })
}

/// [`render`] on the render pool, for reconciles.
pub(crate) async fn render_off_workers(
    field: &'static str,
    template: ExternalSecretTemplate,
    data: SecretData,
    sources: Vec<Source>,
) -> Result<Content, Error> {
    off_workers(move || render(field, &template, &data, &sources)).await?
}

/// Where a rendered value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Data,
    Annotations,
    Labels,
}

fn target_of(field: &str, raw: &str, index: usize) -> Result<Target, Error> {
    // ESO compares with Go's strings.EqualFold (Unicode simple folding). Of the letters in
    // these three words only `s` has a non-ASCII fold partner: U+017F LATIN SMALL LETTER LONG S.
    let folded: String = raw
        .chars()
        .map(|c| {
            if c == '\u{17F}' {
                's'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    match folded.as_str() {
        "" | "data" => Ok(Target::Data),
        "annotations" => Ok(Target::Annotations),
        "labels" => Ok(Target::Labels),
        _ => Err(Error::Invalid(format!(
            "{field}.templateFrom[{index}].target {raw:?} is not valid for a Secret: use Data, Annotations or Labels"
        ))),
    }
}

/// The templates of one `templateFrom` entry, read from wherever they live.
pub(crate) enum Source {
    /// `literal`: always rendered as a YAML map of keys and values.
    Literal(String),
    /// Items of a ConfigMap or Secret: (key, template, scope); `origin` names it in errors.
    Items {
        origin: String,
        items: Vec<(String, String, TemplateScope)>,
    },
    /// An entry with no source: nothing to render.
    Empty,
}

/// Renders the template in ESO's order: fetched data when merging or when the
/// template only sets metadata, then `templateFrom` in order, then `data`, then metadata.
pub(crate) fn render(
    field: &str,
    template: &ExternalSecretTemplate,
    data: &SecretData,
    sources: &[Source],
) -> Result<Content, Error> {
    let context = Value::from(data.clone());
    let meta = template.metadata.clone().unwrap_or_default();
    let mut content = Content {
        data: SecretData::new(),
        type_: template.type_.clone(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        finalizers: meta.finalizers.clone(),
    };
    let metadata_only = template.data.is_empty() && template.template_from.is_empty();
    if template.merge_policy == TemplateMergePolicy::Merge || metadata_only {
        content
            .data
            .extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (i, (from, source)) in template.template_from.iter().zip(sources).enumerate() {
        render_from(field, i, from, source, &context, &mut content)?;
    }
    for (key, text) in &template.data {
        content
            .data
            .insert(key.clone(), render_bytes(field, key, text, &context)?);
    }
    for (key, text) in &meta.labels {
        content
            .labels
            .insert(key.clone(), render_string(field, key, text, &context)?);
    }
    for (key, text) in &meta.annotations {
        content
            .annotations
            .insert(key.clone(), render_string(field, key, text, &context)?);
    }
    Ok(content)
}

pub(crate) async fn resolve(
    client: &kube::Client,
    namespace: &str,
    field: &str,
    index: usize,
    from: &TemplateFrom,
) -> Result<Source, Error> {
    if let Some(literal) = &from.literal {
        return Ok(Source::Literal(literal.clone()));
    }
    if let Some(r) = &from.config_map {
        let cm = Api::<ConfigMap>::namespaced(client.clone(), namespace).get_opt(&r.name).await?.ok_or_else(|| {
            Error::Invalid(format!("{field}.templateFrom[{index}].configMap: ConfigMap {:?} does not exist in namespace {namespace:?}: create it or fix {field}.templateFrom[{index}].configMap.name", r.name))
        })?;
        let items = items(r, &cm.data.unwrap_or_default(), "configmap")?;
        return Ok(Source::Items {
            origin: format!("configmap {}", r.name),
            items,
        });
    }
    if let Some(r) = &from.secret {
        let s = Api::<Secret>::namespaced(client.clone(), namespace).get_opt(&r.name).await?.ok_or_else(|| {
            Error::Invalid(format!("{field}.templateFrom[{index}].secret: Secret {:?} does not exist in namespace {namespace:?}: create it or fix {field}.templateFrom[{index}].secret.name", r.name))
        })?;
        let data: BTreeMap<String, String> = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        let items = items(r, &data, "secret")?;
        return Ok(Source::Items {
            origin: format!("secret {}", r.name),
            items,
        });
    }
    Ok(Source::Empty)
}

pub(crate) fn resolve_offline(
    field: &str,
    index: usize,
    from: &TemplateFrom,
) -> Result<Source, Error> {
    if let Some(literal) = &from.literal {
        return Ok(Source::Literal(literal.clone()));
    }
    let refused = from
        .config_map
        .as_ref()
        .map(|r| ("configMap", "ConfigMap", &r.name))
        .or(from.secret.as_ref().map(|r| ("secret", "Secret", &r.name)));
    match refused {
        Some((source, kind, name)) => Err(Error::Invalid(format!(
            "{field}.templateFrom[{index}].{source}: rendering offline cannot read {kind} {name:?}; copy its template into templateFrom[{index}].literal or template.data"
        ))),
        None => Ok(Source::Empty),
    }
}

fn render_from(
    field: &str,
    index: usize,
    from: &TemplateFrom,
    source: &Source,
    context: &Value,
    content: &mut Content,
) -> Result<(), Error> {
    let target = target_of(field, &from.target, index)?;
    let decode = from.values_decoding_strategy;
    match source {
        Source::Empty => Ok(()),
        Source::Literal(literal) => {
            let rendered = render_string(field, "literal", literal, context)?;
            store_yaml_map(&rendered, "literal", target, decode, content)
        }
        Source::Items { origin, items } => {
            for (key, text, scope) in items {
                match scope {
                    TemplateScope::Values => {
                        let value = render_bytes(field, key, text, context)?;
                        store(content, target, key.clone(), decoded(value, decode)?)?;
                    }
                    TemplateScope::KeysAndValues => {
                        let rendered = render_string(field, key, text, context)?;
                        store_yaml_map(&rendered, origin, target, decode, content)?;
                    }
                }
            }
            Ok(())
        }
    }
}

fn items(
    r: &TemplateRef,
    data: &BTreeMap<String, String>,
    what: &str,
) -> Result<Vec<(String, String, TemplateScope)>, Error> {
    r.items
        .iter()
        .map(|item| {
            data.get(&item.key)
                .map(|text| (item.key.clone(), text.clone(), item.template_as))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "error in {what} {}: missing key {}",
                        r.name, item.key
                    ))
                })
        })
        .collect()
}

fn store_yaml_map(
    rendered: &str,
    source: &str,
    target: Target,
    decode: Option<esox_api::v1::DecodingStrategy>,
    content: &mut Content,
) -> Result<(), Error> {
    // The rendered text holds secret values: the parse error says where and what kind of
    // problem, never the text (serde-saphyr's own message quotes the offending line).
    let map: BTreeMap<String, serde_json::Value> = esox_template::parse_yaml_map(rendered)
        .map_err(|e| {
            Error::Invalid(format!(
                "template from {source} did not render a YAML map of keys to values: {e}"
            ))
        })?;
    for (k, v) in map {
        let text = match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        store(content, target, k, decoded(text.into_bytes(), decode)?)?;
    }
    Ok(())
}

fn store(content: &mut Content, target: Target, key: String, value: Vec<u8>) -> Result<(), Error> {
    match target {
        Target::Data => {
            content.data.insert(key, value);
        }
        Target::Annotations | Target::Labels => {
            let text = String::from_utf8(value).map_err(|_| {
                Error::Invalid(format!(
                    "template output for metadata key {key:?} is not text"
                ))
            })?;
            let map = if target == Target::Labels {
                &mut content.labels
            } else {
                &mut content.annotations
            };
            map.insert(key, text);
        }
    }
    Ok(())
}

fn decoded(
    value: Vec<u8>,
    strategy: Option<esox_api::v1::DecodingStrategy>,
) -> Result<Vec<u8>, Error> {
    use esox_api::v1::DecodingStrategy as D;
    use esox_core::decoding::DecodingStrategy as C;
    let s = match strategy {
        None | Some(D::None) => return Ok(value),
        Some(D::Auto) => C::Auto,
        Some(D::Base64) => C::Base64,
        Some(D::Base64Url) => C::Base64Url,
    };
    esox_core::decoding::decode(s, &value)
        .map_err(|e| Error::Invalid(format!("valuesDecodingStrategy: {e}")))
}

fn render_bytes(field: &str, name: &str, text: &str, context: &Value) -> Result<Vec<u8>, Error> {
    Template::parse(name, text, None)
        .and_then(|t| t.execute_bytes(context))
        .map_err(|e| Error::Invalid(format!("{field}: {e}")))
}

fn render_string(field: &str, name: &str, text: &str, context: &Value) -> Result<String, Error> {
    Template::parse(name, text, None)
        .and_then(|t| t.execute(context))
        .map_err(|e| Error::Invalid(format!("{field}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Runs until its step budget (10,000,000 steps): about a second of CPU in a debug build.
    const SLOW: &str = "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}";

    /// The longest a ticking task waited for a worker while `renders` ran.
    async fn longest_stall<F>(renders: Vec<F>) -> (Duration, Vec<Result<Content, Error>>)
    where
        F: std::future::Future<Output = Result<Content, Error>> + Send + 'static,
    {
        let done = Arc::new(AtomicBool::new(false));
        let ticker = tokio::spawn({
            let done = done.clone();
            async move {
                let mut longest = Duration::ZERO;
                let mut last = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    longest = longest.max(last.elapsed());
                    last = Instant::now();
                }
                longest
            }
        });
        // Let the ticker start before the renders take their threads.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let handles: Vec<_> = renders.into_iter().map(tokio::spawn).collect();
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.expect("render task"));
        }
        done.store(true, Ordering::Relaxed);
        (ticker.await.expect("ticker"), results)
    }

    fn errors(results: &[Result<Content, Error>]) -> Vec<Option<String>> {
        results
            .iter()
            .map(|r| r.as_ref().err().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn slow_renders_leave_the_async_workers_free() {
        // A probe answering in this time is healthy; the slow render takes about a second.
        const BOUND: Duration = Duration::from_millis(400);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let template: ExternalSecretTemplate =
            serde_json::from_value(serde_json::json!({"data": {"x": SLOW}})).unwrap();
        let limit_hit = |r: &Result<Content, Error>| matches!(r, Err(e) if e.to_string().contains("limit of 10000000 evaluation steps"));
        rt.block_on(async {
            // Positive control: two renders on the workers themselves (as before the pool)
            // stall the ticker for the length of a render.
            let inline = (0..2)
                .map(|_| {
                    let t = template.clone();
                    async move { render("spec.target.template", &t, &SecretData::new(), &[]) }
                })
                .collect();
            let (stall, results) = longest_stall(inline).await;
            assert!(results.iter().all(limit_hit), "{:?}", errors(&results));
            assert!(
                stall > BOUND,
                "control: renders on the workers stalled only {stall:?}"
            );

            // Through the pool: four renders (more than its slots) and the ticker keeps going.
            let pooled = (0..4)
                .map(|_| {
                    render_off_workers(
                        "spec.target.template",
                        template.clone(),
                        SecretData::new(),
                        Vec::new(),
                    )
                })
                .collect();
            let (stall, results) = longest_stall(pooled).await;
            assert!(results.iter().all(limit_hit), "{:?}", errors(&results));
            assert!(
                stall < BOUND,
                "renders on the pool stalled the workers {stall:?}"
            );
        });
    }

    #[test]
    fn template_from_targets_fold_case_as_go_equal_fold() {
        for raw in [
            "",
            "Data",
            "data",
            "DATA",
            "Annotations",
            "labels",
            "Label\u{17F}",
        ] {
            assert!(target_of("spec.template", raw, 0).is_ok(), "{raw:?}");
        }
        for raw in ["type", "immutable", "Data ", "metadata.labels", "Label"] {
            let err = target_of("spec.template", raw, 2)
                .expect_err(raw)
                .to_string();
            assert!(
                err.contains("spec.template.templateFrom[2].target")
                    && err.contains("Data, Annotations or Labels"),
                "{err}"
            );
        }
    }
}
