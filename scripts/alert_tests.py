#!/usr/bin/env python3
"""Writes rules.yaml (the PrometheusRule's groups) and tests.yaml (a `promtool test rules` file)
from a rendered PrometheusRule and a real esox /metrics scrape (see scripts/test-alerts).

usage: alert_tests.py RULE_YAML METRICS_TXT OUT_DIR
"""
import re
import sys
from pathlib import Path

import yaml

rule_file, metrics_file, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
rule = yaml.safe_load(rule_file.read_text())
(out / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
# promtool compares annotations too; their text is checked by `promtool check rules` on
# rules.yaml, the tests check when and for which series each alert fires.
for group in rule["spec"]["groups"]:
    for r in group["rules"]:
        r.pop("annotations", None)
(out / "rules-test.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))

types, series = {}, []
for line in metrics_file.read_text().splitlines():
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        types[name] = kind
    elif line and not line.startswith("#"):
        selector, value = line.rsplit(" ", 1)
        series.append((selector, float(value)))
names = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s).group(0) for s, _ in series}
for needed in ("externalsecret_status_condition", "externalsecret_sync_calls_total", "externalsecret_sync_calls_error", "secretstore_status_condition", "leader_election_master_status"):
    if needed not in names:
        sys.exit(f"alert_tests: esox did not export {needed}; scraped: {sorted(names)}")


def inputs(leader):
    out = []
    for selector, value in series:
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", selector).group(0)
        if name == "leader_election_master_status":
            value = leader
        if types.get(name) == "counter":
            values = f"{value:g}+{value:g}x20"  # grows as esox's counters do while the object keeps failing
        else:
            values = f"{value:g}x20"
        out.append({"series": selector, "values": values})
    return out


not_ready_es = [
    {"exp_labels": {"severity": "warning", "name": "missing-key", "namespace": "app", "condition": "Ready", "status": "False"}}
]
tests = {
    "rule_files": ["rules-test.yaml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            "name": "esox with a failing ExternalSecret and store, leading",
            "interval": "1m",
            "input_series": inputs(leader=1),
            "alert_rule_test": [
                # Not yet: the conditions must hold for 10 minutes.
                {"eval_time": "9m", "alertname": "EsoxExternalSecretNotReady", "exp_alerts": []},
                {"eval_time": "11m", "alertname": "EsoxExternalSecretNotReady", "exp_alerts": not_ready_es},
                {"eval_time": "11m", "alertname": "EsoxSecretStoreNotReady", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "name": "broken", "namespace": "app", "condition": "Ready", "status": "False"}}]},
                {"eval_time": "21m", "alertname": "EsoxExternalSecretSyncErrors", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "namespace": "app"}}]},
                {"eval_time": "11m", "alertname": "EsoxNoLeader", "exp_alerts": []},
            ],
        },
        {
            "name": "no replica leads",
            "interval": "1m",
            "input_series": inputs(leader=0),
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "EsoxNoLeader", "exp_alerts": []},
                {"eval_time": "6m", "alertname": "EsoxNoLeader", "exp_alerts": [{"exp_labels": {"severity": "critical"}}]},
            ],
        },
    ],
}
(out / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
print(f"alert_tests: {len(series)} series from esox's /metrics, {len(names)} metric names")
