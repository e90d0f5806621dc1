//! `esox render`: the Secret an ExternalSecret would produce, computed offline from data given
//! on the command line instead of a store.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use esox_api::v1::{CreationPolicy, ExternalSecret};
use esox_controller::externalsecret::{apply_template_offline, target};
use esox_core::SecretData;
use k8s_openapi::api::core::v1::Secret;

/// Output format of the rendered Secret.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

/// Flags of `esox render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The ExternalSecret manifest.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// A fetched key and its value, KEY=VALUE; repeat for more keys.
    #[arg(long = "data", value_name = "KEY=VALUE")]
    pub data: Vec<String>,
    /// The existing target Secret (needed for creationPolicy Merge, kept keys otherwise).
    #[arg(long)]
    pub from_secret: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: Format,
}

/// The manifest text of the Secret, or why it cannot be rendered.
pub fn render(args: &RenderArgs) -> anyhow::Result<String> {
    let es: ExternalSecret = read_one(&args.file, "ExternalSecret")?;
    let existing: Option<Secret> = match &args.from_secret {
        Some(path) => Some(read_one(path, "Secret")?),
        None => None,
    };
    let data = parse_data(&args.data)?;
    let es_name = es.metadata.name.clone().unwrap_or_default();
    let target_name = es
        .spec
        .target
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| es_name.clone());
    match (es.spec.target.creation_policy, &existing) {
        (CreationPolicy::None, _) => {
            bail!(
                "spec.target.creationPolicy is None: esox writes no Secret for this ExternalSecret"
            )
        }
        (CreationPolicy::Merge, None) => bail!(
            "spec.target.creationPolicy is Merge: esox only updates an existing Secret; give it with --from-secret"
        ),
        _ => {}
    }
    let content = match &es.spec.target.template {
        None => target::untemplated(&es, data),
        Some(t) => apply_template_offline(t, &data).context("could not apply template")?,
    };
    let manager = esox_core::hash::field_manager_name(&es_name);
    let mut secret = target::desired(&es, existing.as_ref(), &target_name, &manager, content)?;
    secret.metadata.resource_version = None;
    secret.metadata.uid = None;
    secret.metadata.creation_timestamp = None;
    match args.output {
        Format::Yaml => serde_saphyr::to_string(&secret).context("writing YAML"),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&secret).context("writing JSON")?;
            text.push('\n');
            Ok(text)
        }
    }
}

/// `KEY=VALUE` pairs; the value may contain `=`.
fn parse_data(pairs: &[String]) -> anyhow::Result<SecretData> {
    let mut out = SecretData::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!(
                "--data {key:?} has no `=`: write it as KEY=VALUE",
                key = pair
            );
        };
        if key.is_empty() {
            bail!("--data needs a key before `=`: write it as KEY=VALUE");
        }
        out.insert(key.to_owned(), value.as_bytes().to_vec());
    }
    Ok(out)
}

/// The single object of `kind` in the file.
fn read_one<T: serde::de::DeserializeOwned>(path: &Path, kind: &str) -> anyhow::Result<T> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let docs = esox_api::manifest::parse_documents(&name, &text)?;
    let mut of_kind = docs.iter().filter(|d| d.kind() == kind);
    let (Some(doc), None) = (of_kind.next(), of_kind.next()) else {
        bail!("{name}: expected exactly one {kind} document");
    };
    Ok(esox_api::manifest::to_typed(&name, doc)?)
}
