//! Fetching an ExternalSecret's data from its stores, in ESO's order: every `dataFrom` entry
//! (later entries win), then every `data` entry (which overwrite keys).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use esox_api::v1::{self as api, ExternalSecret, SecretStoreRef};
use esox_core::pipeline::{self, MapOptions};
use esox_core::rewrite::{KeyTemplate, Rewrite};
use esox_core::{SecretData, decoding, keys, rewrite};
use esox_providers::SecretsClient;

use crate::context::Context;
use crate::error::Error;
use crate::index::{SourceKey, StoreKey};
use crate::stores::{self, ResolvedStore};

/// What a fetch produced.
#[derive(Default)]
pub struct Fetched {
    pub data: SecretData,
    pub stores: BTreeSet<StoreKey>,
    pub sources: BTreeSet<SourceKey>,
    /// Normal events to emit: remote secrets that do not exist (skipped under Delete/Merge).
    pub missing: Vec<String>,
}

/// `Ok(None)`: a referenced store belongs to another controller class; leave the object alone.
pub async fn fetch(
    ctx: &Arc<Context>,
    es: &ExternalSecret,
    namespace: &str,
    templates: &'static (dyn KeyTemplate + Sync),
) -> Result<Option<Fetched>, Error> {
    let spec = &es.spec;
    let mut clients = Clients::default();
    let mut out = Fetched::default();
    let tolerate_missing = spec.target.deletion_policy != api::DeletionPolicy::Retain;

    for (i, entry) in spec.data_from.iter().enumerate() {
        if let Some(generator) = entry
            .source_ref
            .as_ref()
            .and_then(|s| s.generator_ref.as_ref())
        {
            // A fresh value on every fetch; the reconcile only fetches on refresh, as ESO does.
            let field = format!("spec.dataFrom[{i}].sourceRef.generatorRef");
            let generated = crate::generators::generate(
                &ctx.client,
                &ctx.providers,
                generator,
                namespace,
                &field,
            )
            .await?;
            let rewrites = to_rewrites(&entry.rewrite);
            let map = with_rewrites(&rewrites, move |rewrites| {
                pipeline::process_generated_map(generated, rewrites, templates)
            })
            .await?
            .map_err(|e| data_err(i, "dataFrom", &e))?;
            out.data.extend(map);
            continue;
        }
        let store_ref = entry
            .source_ref
            .as_ref()
            .and_then(|s| s.store_ref.as_ref())
            .or(spec.secret_store_ref.as_ref());
        let Some(client) = clients.get(ctx, store_ref, namespace, &mut out).await? else {
            return Ok(None);
        };
        let rewrites = to_rewrites(&entry.rewrite);
        let result = if let Some(extract) = &entry.extract {
            if let Some(w) = client.watch_key() {
                out.sources.insert(SourceKey {
                    watch_key: w,
                    key: Some(extract.key.clone()),
                });
            }
            let options = map_options(
                &rewrites,
                extract.conversion_strategy,
                extract.decoding_strategy,
                extract.null_byte_policy,
            )?;
            match ctx
                .shared_reads
                .get_secret_map(client.as_ref(), extract)
                .await
            {
                Ok(map) => Some(
                    process_map(map, options, templates)
                        .await?
                        .map_err(|e| data_err(i, "dataFrom", &e))?,
                ),
                Err(e) if e.is_no_secret() && tolerate_missing => {
                    out.missing.push(format!(
                        "secret does not exist at provider using spec.dataFrom[{i}]"
                    ));
                    None
                }
                Err(e) => {
                    return Err(Error::Data(format!(
                        "spec.dataFrom[{i}].extract (key {:?}): {e}",
                        extract.key
                    )));
                }
            }
        } else if let Some(find) = &entry.find {
            if let Some(w) = client.watch_key() {
                out.sources.insert(SourceKey {
                    watch_key: w,
                    key: None,
                });
            }
            let options = map_options(
                &rewrites,
                find.conversion_strategy,
                find.decoding_strategy,
                find.null_byte_policy,
            )?;
            match ctx
                .shared_reads
                .get_all_secrets(client.as_ref(), find)
                .await
            {
                Ok(map) => Some(
                    process_map(map, options, templates)
                        .await?
                        .map_err(|e| data_err(i, "dataFrom", &e))?,
                ),
                Err(e) if e.is_no_secret() && tolerate_missing => {
                    out.missing.push(format!(
                        "secret does not exist at provider using spec.dataFrom[{i}]"
                    ));
                    None
                }
                Err(e) => return Err(Error::Data(format!("spec.dataFrom[{i}].find: {e}"))),
            }
        } else {
            return Err(Error::Invalid(format!(
                "spec.dataFrom[{i}] has neither extract, find nor sourceRef.generatorRef: say what to fetch"
            )));
        };
        if let Some(map) = result {
            out.data.extend(map);
        }
    }

    for (i, entry) in spec.data.iter().enumerate() {
        let store_ref = entry
            .source_ref
            .as_ref()
            .and_then(|s| s.store_ref.as_ref())
            .or(spec.secret_store_ref.as_ref());
        let Some(client) = clients.get(ctx, store_ref, namespace, &mut out).await? else {
            return Ok(None);
        };
        let r = &entry.remote_ref;
        if let Some(w) = client.watch_key() {
            out.sources.insert(SourceKey {
                watch_key: w,
                key: Some(r.key.clone()),
            });
        }
        match ctx.shared_reads.get_secret(client.as_ref(), r).await {
            Ok(value) => {
                let decoding = to_decoding(r.decoding_strategy);
                let nulls = to_null_bytes(r.null_byte_policy);
                let value = pipeline::process_value(&entry.secret_key, value, decoding, nulls)
                    .map_err(|e| {
                        Error::Data(format!(
                            "spec.data[{i}] (secretKey {:?}): {e}",
                            entry.secret_key
                        ))
                    })?;
                out.data.insert(entry.secret_key.clone(), value);
            }
            Err(e) if e.is_no_secret() && tolerate_missing => {
                out.missing.push(format!(
                    "secret does not exist at provider using spec.data[{i}] (key={})",
                    r.key
                ));
            }
            Err(e) => {
                return Err(Error::Data(format!(
                    "spec.data[{i}] (secretKey {:?}, key {:?}): {e}",
                    entry.secret_key, r.key
                )));
            }
        }
    }
    for client in clients.by_store.values() {
        ctx.ensure_remote_watch(client.as_ref());
    }
    Ok(Some(out))
}

/// The sources of an ExternalSecret that esox can watch, found from its spec and stores
/// without reading any value or starting a watch. `Ok(None)`: a store of another controller
/// class.
pub async fn watched_sources(
    ctx: &Arc<Context>,
    es: &ExternalSecret,
    namespace: &str,
) -> Result<Option<BTreeSet<SourceKey>>, Error> {
    let spec = &es.spec;
    let mut clients = Clients::default();
    let mut out = Fetched::default();
    let from = spec
        .data_from
        .iter()
        .filter(|e| {
            e.source_ref
                .as_ref()
                .and_then(|s| s.generator_ref.as_ref())
                .is_none()
        })
        .map(|e| {
            let key = e.extract.as_ref().map(|x| x.key.clone());
            let store = e.source_ref.as_ref().and_then(|s| s.store_ref.as_ref());
            (store, key, e.find.is_some())
        });
    let data = spec.data.iter().map(|e| {
        let store = e.source_ref.as_ref().and_then(|s| s.store_ref.as_ref());
        (store, Some(e.remote_ref.key.clone()), false)
    });
    for (store, key, find) in from.chain(data) {
        let store_ref = store.or(spec.secret_store_ref.as_ref());
        let Some(client) = clients.get(ctx, store_ref, namespace, &mut out).await? else {
            return Ok(None);
        };
        if let Some(watch_key) = client.watch_key()
            && (key.is_some() || find)
        {
            out.sources.insert(SourceKey {
                watch_key,
                key: if find { None } else { key },
            });
        }
    }
    Ok(Some(out.sources))
}

/// Runs `work` with `rewrites`: on the render pool when one of them is a `transform` (a template
/// rendered per key, bounded only by the render limits), in place otherwise.
async fn with_rewrites<T: Send + 'static>(
    rewrites: &[Rewrite],
    work: impl FnOnce(&[Rewrite]) -> T + Send + 'static,
) -> Result<T, Error> {
    if rewrites
        .iter()
        .any(|r| matches!(r, Rewrite::Transform { .. }))
    {
        let owned = rewrites.to_vec();
        crate::templating::off_workers(move || work(&owned)).await
    } else {
        Ok(work(rewrites))
    }
}

/// [`pipeline::process_provider_map`] through [`with_rewrites`].
async fn process_map(
    map: SecretData,
    options: MapOptions<'_>,
    templates: &'static (dyn KeyTemplate + Sync),
) -> Result<Result<SecretData, pipeline::PipelineError>, Error> {
    let MapOptions {
        rewrites,
        conversion,
        decoding,
        null_bytes,
    } = options;
    with_rewrites(rewrites, move |rewrites| {
        let options = MapOptions {
            rewrites,
            conversion,
            decoding,
            null_bytes,
        };
        pipeline::process_provider_map(map, options, templates)
    })
    .await
}

fn data_err(i: usize, field: &str, e: &pipeline::PipelineError) -> Error {
    Error::Data(format!("spec.{field}[{i}]: {e}"))
}

/// One client per store for the whole reconcile.
#[derive(Default)]
struct Clients {
    by_store: BTreeMap<StoreKey, Arc<dyn SecretsClient>>,
}

impl Clients {
    async fn get(
        &mut self,
        ctx: &Arc<Context>,
        store_ref: Option<&SecretStoreRef>,
        namespace: &str,
        out: &mut Fetched,
    ) -> Result<Option<Arc<dyn SecretsClient>>, Error> {
        let Some(store_ref) = store_ref else {
            return Err(Error::Invalid(
                "no store given: set spec.secretStoreRef, or sourceRef.storeRef on the entry"
                    .into(),
            ));
        };
        let Some(store): Option<ResolvedStore> =
            stores::resolve(ctx, store_ref, namespace, true).await?
        else {
            return Ok(None);
        };
        out.stores.insert(store.key.clone());
        if let Some(c) = self.by_store.get(&store.key) {
            return Ok(Some(c.clone()));
        }
        let client: Arc<dyn SecretsClient> =
            Arc::from(stores::client(ctx, &store, Some(namespace)).await?);
        self.by_store.insert(store.key, client.clone());
        Ok(Some(client))
    }
}

/// The stores an ExternalSecret references, without contacting them (for indexes when a
/// reconcile fails before fetching).
pub fn referenced_stores(es: &ExternalSecret, namespace: &str) -> BTreeSet<StoreKey> {
    let key = |r: &SecretStoreRef| {
        let kind = r.kind.unwrap_or_default();
        StoreKey {
            kind,
            namespace: if kind == api::StoreKind::SecretStore {
                namespace.to_owned()
            } else {
                String::new()
            },
            name: r.name.clone(),
        }
    };
    let spec = &es.spec;
    let mut out: BTreeSet<StoreKey> = spec.secret_store_ref.iter().map(key).collect();
    out.extend(
        spec.data
            .iter()
            .filter_map(|d| d.source_ref.as_ref()?.store_ref.as_ref())
            .map(key),
    );
    out.extend(
        spec.data_from
            .iter()
            .filter_map(|d| d.source_ref.as_ref()?.store_ref.as_ref())
            .map(key),
    );
    out
}

fn map_options(
    rewrites: &[Rewrite],
    conversion: Option<api::ConversionStrategy>,
    decoding: Option<api::DecodingStrategy>,
    nulls: Option<api::NullBytePolicy>,
) -> Result<MapOptions<'_>, Error> {
    Ok(MapOptions {
        rewrites,
        conversion: match conversion {
            Some(api::ConversionStrategy::Unicode) => keys::ConversionStrategy::Unicode,
            _ => keys::ConversionStrategy::Default,
        },
        decoding: to_decoding(decoding),
        null_bytes: to_null_bytes(nulls),
    })
}

fn to_decoding(d: Option<api::DecodingStrategy>) -> decoding::DecodingStrategy {
    match d {
        Some(api::DecodingStrategy::Auto) => decoding::DecodingStrategy::Auto,
        Some(api::DecodingStrategy::Base64) => decoding::DecodingStrategy::Base64,
        Some(api::DecodingStrategy::Base64Url) => decoding::DecodingStrategy::Base64Url,
        Some(api::DecodingStrategy::None) | None => decoding::DecodingStrategy::None,
    }
}

fn to_null_bytes(p: Option<api::NullBytePolicy>) -> keys::NullBytePolicy {
    match p {
        Some(api::NullBytePolicy::Fail) => keys::NullBytePolicy::Fail,
        _ => keys::NullBytePolicy::Ignore,
    }
}

fn to_rewrites(rewrites: &[api::ExternalSecretRewrite]) -> Vec<Rewrite> {
    rewrites
        .iter()
        .map(|r| {
            if let Some(re) = &r.regexp {
                Rewrite::Regexp {
                    source: re.source.clone(),
                    target: re.target.clone(),
                }
            } else if let Some(t) = &r.transform {
                Rewrite::Transform {
                    template: t.template.clone(),
                }
            } else if let Some(m) = &r.merge {
                Rewrite::Merge(rewrite::MergeRewrite {
                    into: m.into.clone(),
                    priority: m.priority.clone(),
                    priority_policy: match m.priority_policy {
                        api::MergePriorityPolicy::Strict => rewrite::PriorityPolicy::Strict,
                        api::MergePriorityPolicy::IgnoreNotFound => {
                            rewrite::PriorityPolicy::IgnoreNotFound
                        }
                    },
                    conflict_policy: match m.conflict_policy {
                        api::MergeConflictPolicy::Error => rewrite::ConflictPolicy::Error,
                        api::MergeConflictPolicy::Ignore => rewrite::ConflictPolicy::Ignore,
                    },
                    strategy: match m.strategy {
                        api::MergeStrategy::Extract => rewrite::MergeStrategy::Extract,
                        api::MergeStrategy::Json => rewrite::MergeStrategy::Json,
                    },
                })
            } else {
                Rewrite::Empty
            }
        })
        .collect()
}
