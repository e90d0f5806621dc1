//! Prometheus metrics with ESO's names and labels, so existing dashboards and alerts keep working.
//!
//! Written by hand rather than with `prometheus-client`: ESO exposes a counter named
//! `externalsecret_sync_calls_error` (no `_total`) and a counter `..._api_calls_count`, which an
//! OpenMetrics encoder cannot produce under those exact names.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

const PUSH_SECRET_CONDITION: &str = "pushsecret_status_condition";
const PUSH_SECRET_DURATION: &str = "pushsecret_reconcile_duration";
const CLUSTER_PUSH_SECRET_CONDITION: &str = "clusterpushsecret_status_condition";
const CLUSTER_PUSH_SECRET_DURATION: &str = "clusterpushsecret_reconcile_duration";
const CLUSTER_EXTERNAL_SECRET_CONDITION: &str = "clusterexternalsecret_status_condition";
const CLUSTER_EXTERNAL_SECRET_DURATION: &str = "clusterexternalsecret_reconcile_duration";

mod exposition;

use exposition::{Exposition, Labels};

#[derive(Default)]
struct Family {
    help: &'static str,
    kind: &'static str,
    series: BTreeMap<Labels, f64>,
}

/// What is known of one ExternalSecret. The ExternalSecret series are kept as one entry per
/// object rather than one series per metric: with ten thousand ExternalSecrets, five labelled
/// series each cost about a kilobyte per object.
#[derive(Default)]
struct EsFigures {
    sync_calls: u64,
    sync_errors: u64,
    duration_ns: f64,
    ready: Option<bool>,
    last_success: Option<SystemTime>,
}

/// The registry of esox's metrics.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
    /// By (name, namespace), the order the series are printed in.
    external_secrets: Mutex<BTreeMap<(String, String), EsFigures>>,
}

const ES_SYNC_CALLS: (&str, &str, &str) = (
    "externalsecret_sync_calls_total",
    "counter",
    "Total number of ExternalSecret reconciles",
);
const ES_SYNC_ERRORS: (&str, &str, &str) = (
    "externalsecret_sync_calls_error",
    "counter",
    "Total number of failed ExternalSecret reconciles",
);
const ES_DURATION: (&str, &str, &str) = (
    "externalsecret_reconcile_duration",
    "gauge",
    "Duration of the last ExternalSecret reconcile, in nanoseconds",
);
const ES_CONDITION: (&str, &str, &str) = (
    "externalsecret_status_condition",
    "gauge",
    "Status conditions of ExternalSecrets",
);
const ES_LAST_SYNC_AGE: (&str, &str, &str) = (
    "esox_externalsecret_last_sync_age_seconds",
    "gauge",
    "Seconds since the last successful sync of each ExternalSecret",
);

fn name_ns(name: &str, namespace: &str) -> Labels {
    vec![
        ("name", name.to_owned()),
        ("namespace", namespace.to_owned()),
    ]
}

impl Metrics {
    fn with<F: FnOnce(&mut Family)>(
        &self,
        metric: &'static str,
        kind: &'static str,
        help: &'static str,
        f: F,
    ) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let family = families.entry(metric).or_insert_with(|| Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
        f(family);
    }

    fn inc(&self, metric: &'static str, help: &'static str, labels: Labels) {
        self.with(metric, "counter", help, |f| {
            *f.series.entry(labels).or_default() += 1.0
        });
    }

    fn set(&self, metric: &'static str, help: &'static str, labels: Labels, value: f64) {
        self.with(metric, "gauge", help, |f| {
            f.series.insert(labels, value);
        });
    }

    fn with_es<F: FnOnce(&mut EsFigures)>(&self, name: &str, namespace: &str, f: F) {
        let mut all = self
            .external_secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key = (name.to_owned(), namespace.to_owned());
        f(all.entry(key).or_default());
    }

    /// One ExternalSecret reconcile finished.
    pub fn external_secret_reconciled(
        &self,
        name: &str,
        namespace: &str,
        took: Duration,
        ok: bool,
    ) {
        self.with_es(name, namespace, |es| {
            es.sync_calls += 1;
            if !ok {
                es.sync_errors += 1;
            }
            es.duration_ns = took.as_nanos() as f64;
        });
    }

    /// The Ready condition of an ExternalSecret changed (or was confirmed).
    pub fn external_secret_condition(&self, name: &str, namespace: &str, ready: bool) {
        self.with_es(name, namespace, |es| {
            es.ready = Some(ready);
            if ready {
                es.last_success = Some(SystemTime::now());
            }
        });
    }

    /// The Ready condition of a store.
    pub fn store_condition(&self, cluster: bool, name: &str, namespace: &str, ready: bool) {
        if cluster {
            self.condition(
                "clustersecretstore_status_condition",
                "Status conditions of ClusterSecretStores",
                name,
                namespace,
                ready,
            );
        } else {
            self.condition(
                "secretstore_status_condition",
                "Status conditions of SecretStores",
                name,
                namespace,
                ready,
            );
        }
    }

    /// A store reconcile finished.
    pub fn store_reconciled(&self, cluster: bool, name: &str, namespace: &str, took: Duration) {
        let metric = if cluster {
            "clustersecretstore_reconcile_duration"
        } else {
            "secretstore_reconcile_duration"
        };
        self.set(
            metric,
            "Duration of the last store reconcile, in nanoseconds",
            name_ns(name, namespace),
            took.as_nanos() as f64,
        );
    }

    /// An object esox cannot decode was skipped (see `lenient`).
    pub fn undecodable_object(&self, kind: &str) {
        self.inc(
            "esox_undecodable_objects_total",
            "Objects esox skipped because it cannot decode them",
            vec![("kind", kind.to_owned())],
        );
    }

    /// A call to a provider's API.
    pub fn provider_call(&self, provider: &str, call: &str, ok: bool) {
        self.inc(
            "externalsecret_provider_api_calls_count",
            "Number of API calls made to secret providers",
            vec![
                ("provider", provider.to_owned()),
                ("call", call.to_owned()),
                ("status", if ok { "success" } else { "error" }.to_owned()),
            ],
        );
    }

    /// One PushSecret reconcile finished (ESO records every reconcile, skipped ones included).
    pub fn push_secret_reconciled(&self, name: &str, namespace: &str, took: Duration) {
        self.set(
            PUSH_SECRET_DURATION,
            "Duration of the last PushSecret reconcile, in nanoseconds",
            name_ns(name, namespace),
            took.as_nanos() as f64,
        );
    }

    /// The Ready condition of a PushSecret was written.
    pub fn push_secret_condition(&self, name: &str, namespace: &str, ready: bool) {
        self.condition(
            PUSH_SECRET_CONDITION,
            "Status conditions of PushSecrets",
            name,
            namespace,
            ready,
        );
    }

    /// Forgets the series of a deleted PushSecret (and only those: an ExternalSecret of the same
    /// name keeps its own).
    pub fn push_secret_deleted(&self, name: &str, namespace: &str) {
        self.forget(
            &[PUSH_SECRET_CONDITION, PUSH_SECRET_DURATION],
            name,
            namespace,
        );
    }

    /// One ClusterPushSecret reconcile finished. Cluster-scoped objects carry an empty
    /// `namespace` label, as in ESO.
    pub fn cluster_push_secret_reconciled(&self, name: &str, took: Duration) {
        self.set(
            CLUSTER_PUSH_SECRET_DURATION,
            "Duration of the last ClusterPushSecret reconcile, in nanoseconds",
            name_ns(name, ""),
            took.as_nanos() as f64,
        );
    }

    /// The Ready condition of a ClusterPushSecret was computed. Unlike ESO, which drops
    /// Ready=False here (external-secrets issue 5957), both outcomes are recorded.
    pub fn cluster_push_secret_condition(&self, name: &str, ready: bool) {
        self.condition(
            CLUSTER_PUSH_SECRET_CONDITION,
            "Status conditions of ClusterPushSecrets",
            name,
            "",
            ready,
        );
    }

    /// Forgets the series of a deleted ClusterPushSecret.
    pub fn cluster_push_secret_deleted(&self, name: &str) {
        self.forget(
            &[CLUSTER_PUSH_SECRET_CONDITION, CLUSTER_PUSH_SECRET_DURATION],
            name,
            "",
        );
    }

    /// One ClusterExternalSecret reconcile finished.
    pub fn cluster_external_secret_reconciled(&self, name: &str, took: Duration) {
        self.set(
            CLUSTER_EXTERNAL_SECRET_DURATION,
            "Duration of the last ClusterExternalSecret reconcile, in nanoseconds",
            name_ns(name, ""),
            took.as_nanos() as f64,
        );
    }

    /// The Ready condition of a ClusterExternalSecret was computed (both outcomes recorded, see
    /// [`Metrics::cluster_push_secret_condition`]).
    pub fn cluster_external_secret_condition(&self, name: &str, ready: bool) {
        self.condition(
            CLUSTER_EXTERNAL_SECRET_CONDITION,
            "Status conditions of ClusterExternalSecrets",
            name,
            "",
            ready,
        );
    }

    /// Forgets the series of a deleted ClusterExternalSecret.
    pub fn cluster_external_secret_deleted(&self, name: &str) {
        self.forget(
            &[
                CLUSTER_EXTERNAL_SECRET_CONDITION,
                CLUSTER_EXTERNAL_SECRET_DURATION,
            ],
            name,
            "",
        );
    }

    /// Removes the series of one object from the given families; a family left without series
    /// is dropped so that its HELP/TYPE lines go too.
    fn forget(&self, metrics: &[&'static str], name: &str, namespace: &str) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for metric in metrics {
            if let Some(family) = families.get_mut(metric) {
                family
                    .series
                    .retain(|labels, _| !is_object(labels, name, namespace));
                if family.series.is_empty() {
                    families.remove(metric);
                }
            }
        }
    }

    /// Forgets the series of a deleted ExternalSecret.
    pub fn external_secret_deleted(&self, name: &str, namespace: &str) {
        // Every ExternalSecret series lives in its one entry; the other families belong to
        // other kinds, which may share the name.
        self.external_secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(name.to_owned(), namespace.to_owned()));
    }

    fn condition(
        &self,
        metric: &'static str,
        help: &'static str,
        name: &str,
        namespace: &str,
        ready: bool,
    ) {
        for (status, value) in [("True", ready), ("False", !ready)] {
            let labels = vec![
                ("name", name.to_owned()),
                ("namespace", namespace.to_owned()),
                ("condition", "Ready".to_owned()),
                ("status", status.to_owned()),
            ];
            self.set(metric, help, labels, if value { 1.0 } else { 0.0 });
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for (name, family) in families.iter() {
            out.header(name, family.kind, family.help);
            for (labels, value) in &family.series {
                out.sample(name, labels, *value);
            }
        }
        self.render_external_secrets(&mut out);
        out.into_text()
    }
}

impl Metrics {
    fn render_external_secrets(&self, out: &mut Exposition) {
        let all = self
            .external_secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if all.is_empty() {
            return;
        }
        let header = |out: &mut Exposition, (name, kind, help): (&str, &str, &str)| {
            out.header(name, kind, help)
        };
        let series = |out: &mut Exposition, metric: &str, labels: &Labels, value: f64| {
            out.sample(metric, labels, value)
        };
        let labels_of = |(name, namespace): &(String, String)| name_ns(name, namespace);

        header(out, ES_SYNC_CALLS);
        for (key, es) in all.iter() {
            series(out, ES_SYNC_CALLS.0, &labels_of(key), es.sync_calls as f64);
        }
        if all.values().any(|es| es.sync_errors > 0) {
            header(out, ES_SYNC_ERRORS);
            for (key, es) in all.iter().filter(|(_, es)| es.sync_errors > 0) {
                series(
                    out,
                    ES_SYNC_ERRORS.0,
                    &labels_of(key),
                    es.sync_errors as f64,
                );
            }
        }
        header(out, ES_DURATION);
        for (key, es) in all.iter() {
            series(out, ES_DURATION.0, &labels_of(key), es.duration_ns);
        }
        if all.values().any(|es| es.ready.is_some()) {
            header(out, ES_CONDITION);
            for (key, es) in all.iter() {
                let Some(ready) = es.ready else { continue };
                for (status, value) in [("False", !ready), ("True", ready)] {
                    let mut labels = labels_of(key);
                    labels.push(("condition", "Ready".to_owned()));
                    labels.push(("status", status.to_owned()));
                    series(out, ES_CONDITION.0, &labels, if value { 1.0 } else { 0.0 });
                }
            }
        }
        let now = SystemTime::now();
        if all.values().any(|es| es.last_success.is_some()) {
            header(out, ES_LAST_SYNC_AGE);
            for (key, es) in all.iter() {
                let Some(at) = es.last_success else { continue };
                let age = now.duration_since(at).unwrap_or_default().as_secs_f64();
                series(out, ES_LAST_SYNC_AGE.0, &labels_of(key), age);
            }
        }
    }
}

/// Whether a series belongs to the object `namespace/name`.
fn is_object(labels: &Labels, name: &str, namespace: &str) -> bool {
    let value = |key: &str| {
        labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    value("name") == Some(name) && value("namespace") == Some(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_uses_eso_names() {
        let m = Metrics::default();
        m.external_secret_reconciled("es", "ns", Duration::from_millis(2), false);
        m.external_secret_condition("es", "ns", true);
        m.provider_call("Kubernetes", "GetSecret", true);
        let text = m.render();
        assert!(
            text.contains("externalsecret_sync_calls_total{name=\"es\",namespace=\"ns\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("externalsecret_sync_calls_error{name=\"es\",namespace=\"ns\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "externalsecret_reconcile_duration{name=\"es\",namespace=\"ns\"} 2000000\n"
            ),
            "{text}"
        );
        assert!(text.contains("externalsecret_status_condition{name=\"es\",namespace=\"ns\",condition=\"Ready\",status=\"True\"} 1\n"), "{text}");
        assert!(text.contains("externalsecret_status_condition{name=\"es\",namespace=\"ns\",condition=\"Ready\",status=\"False\"} 0\n"), "{text}");
        assert!(text.contains("externalsecret_provider_api_calls_count{provider=\"Kubernetes\",call=\"GetSecret\",status=\"success\"} 1\n"), "{text}");
        assert!(
            text.contains(
                "esox_externalsecret_last_sync_age_seconds{name=\"es\",namespace=\"ns\"} "
            ),
            "{text}"
        );
        m.external_secret_deleted("es", "ns");
        assert!(!m.render().contains("name=\"es\""));
    }

    #[test]
    fn push_and_cluster_kinds_use_eso_names_and_are_forgotten_on_their_own() {
        let m = Metrics::default();
        m.external_secret_condition("same", "ns", true);
        m.push_secret_reconciled("same", "ns", Duration::from_micros(3));
        m.push_secret_condition("same", "ns", false);
        m.cluster_push_secret_reconciled("cps", Duration::from_nanos(7));
        m.cluster_push_secret_condition("cps", false);
        m.cluster_external_secret_reconciled("ces", Duration::from_nanos(9));
        m.cluster_external_secret_condition("ces", true);
        let text = m.render();
        for line in [
            "# TYPE pushsecret_reconcile_duration gauge\n",
            "pushsecret_reconcile_duration{name=\"same\",namespace=\"ns\"} 3000\n",
            "# TYPE pushsecret_status_condition gauge\n",
            "pushsecret_status_condition{name=\"same\",namespace=\"ns\",condition=\"Ready\",status=\"True\"} 0\n",
            "pushsecret_status_condition{name=\"same\",namespace=\"ns\",condition=\"Ready\",status=\"False\"} 1\n",
            "clusterpushsecret_reconcile_duration{name=\"cps\",namespace=\"\"} 7\n",
            "clusterpushsecret_status_condition{name=\"cps\",namespace=\"\",condition=\"Ready\",status=\"False\"} 1\n",
            "clusterpushsecret_status_condition{name=\"cps\",namespace=\"\",condition=\"Ready\",status=\"True\"} 0\n",
            "clusterexternalsecret_reconcile_duration{name=\"ces\",namespace=\"\"} 9\n",
            "clusterexternalsecret_status_condition{name=\"ces\",namespace=\"\",condition=\"Ready\",status=\"True\"} 1\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        // The condition flips with the next write.
        m.push_secret_condition("same", "ns", true);
        assert!(m.render().contains(
            "pushsecret_status_condition{name=\"same\",namespace=\"ns\",condition=\"Ready\",status=\"True\"} 1\n"
        ));

        // Deleting an ExternalSecret leaves a store of the same name alone.
        m.store_condition(false, "shared", "ns", true);
        m.external_secret_condition("shared", "ns", true);
        m.external_secret_deleted("shared", "ns");
        let text = m.render();
        assert!(
            !text.contains("externalsecret_status_condition{name=\"shared\""),
            "{text}"
        );
        assert!(
            text.contains("secretstore_status_condition{name=\"shared\",namespace=\"ns\""),
            "{text}"
        );
        m.push_secret_deleted("same", "ns");
        let text = m.render();
        assert!(
            !text.contains("\npushsecret_") && !text.starts_with("# HELP pushsecret_"),
            "{text}"
        );
        assert!(!text.contains("TYPE pushsecret_"), "{text}");
        assert!(
            text.contains("externalsecret_status_condition{name=\"same\",namespace=\"ns\""),
            "an ExternalSecret of the same name keeps its series: {text}"
        );
        assert!(text.contains("clusterpushsecret_status_condition{name=\"cps\""));

        m.cluster_push_secret_deleted("cps");
        m.cluster_external_secret_deleted("ces");
        let text = m.render();
        assert!(!text.contains("clusterpushsecret_"), "{text}");
        assert!(!text.contains("clusterexternalsecret_"), "{text}");
        assert!(text.contains("externalsecret_status_condition{name=\"same\""));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.external_secret_condition("a\"b", "n\\s", false);
        assert!(m.render().contains("name=\"a\\\"b\",namespace=\"n\\\\s\""));
    }
}
