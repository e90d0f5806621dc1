//! Prometheus metrics with ESO's names and labels, so existing dashboards and alerts keep working.
//!
//! Written by hand rather than with `prometheus-client`: ESO exposes a counter named
//! `externalsecret_sync_calls_error` (no `_total`) and a counter `..._api_calls_count`, which an
//! OpenMetrics encoder cannot produce under those exact names.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

const PUSH_SECRET_CONDITION: &str = "pushsecret_status_condition";
const PUSH_SECRET_DURATION: &str = "pushsecret_reconcile_duration";
const CLUSTER_PUSH_SECRET_CONDITION: &str = "clusterpushsecret_status_condition";
const CLUSTER_PUSH_SECRET_DURATION: &str = "clusterpushsecret_reconcile_duration";
const CLUSTER_EXTERNAL_SECRET_CONDITION: &str = "clusterexternalsecret_status_condition";
const CLUSTER_EXTERNAL_SECRET_DURATION: &str = "clusterexternalsecret_reconcile_duration";

/// Labels of one series, in output order.
type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Family {
    help: &'static str,
    kind: &'static str,
    series: BTreeMap<Labels, f64>,
}

/// The registry of esox's metrics.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
    last_success: Mutex<BTreeMap<(String, String), SystemTime>>,
}

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

    /// One ExternalSecret reconcile finished.
    pub fn external_secret_reconciled(
        &self,
        name: &str,
        namespace: &str,
        took: Duration,
        ok: bool,
    ) {
        self.inc(
            "externalsecret_sync_calls_total",
            "Total number of ExternalSecret reconciles",
            name_ns(name, namespace),
        );
        if !ok {
            self.inc(
                "externalsecret_sync_calls_error",
                "Total number of failed ExternalSecret reconciles",
                name_ns(name, namespace),
            );
        }
        self.set(
            "externalsecret_reconcile_duration",
            "Duration of the last ExternalSecret reconcile, in nanoseconds",
            name_ns(name, namespace),
            took.as_nanos() as f64,
        );
    }

    /// The Ready condition of an ExternalSecret changed (or was confirmed).
    pub fn external_secret_condition(&self, name: &str, namespace: &str, ready: bool) {
        self.condition(
            "externalsecret_status_condition",
            "Status conditions of ExternalSecrets",
            name,
            namespace,
            ready,
        );
        if ready {
            self.last_success
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((namespace.to_owned(), name.to_owned()), SystemTime::now());
        }
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
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for family in families.values_mut() {
            family.series.retain(|labels, _| {
                !(labels.iter().any(|(k, v)| *k == "name" && v == name)
                    && labels
                        .iter()
                        .any(|(k, v)| *k == "namespace" && v == namespace))
            });
        }
        self.last_success
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()));
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
        let mut out = String::new();
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for (name, family) in families.iter() {
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {}", family.kind);
            for (labels, value) in &family.series {
                let _ = writeln!(out, "{name}{} {value}", format_labels(labels));
            }
        }
        let now = SystemTime::now();
        let last = self.last_success.lock().unwrap_or_else(|e| e.into_inner());
        if !last.is_empty() {
            out.push_str("# HELP esox_externalsecret_last_sync_age_seconds Seconds since the last successful sync of each ExternalSecret\n");
            out.push_str("# TYPE esox_externalsecret_last_sync_age_seconds gauge\n");
            for ((namespace, name), at) in last.iter() {
                let age = now.duration_since(*at).unwrap_or_default().as_secs_f64();
                let _ = writeln!(
                    out,
                    "esox_externalsecret_last_sync_age_seconds{} {age}",
                    format_labels(&name_ns(name, namespace))
                );
            }
        }
        out
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

fn format_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    format!("{{{}}}", inner.join(","))
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
