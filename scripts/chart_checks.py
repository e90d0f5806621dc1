#!/usr/bin/env python3
"""Checks on the objects `helm template` renders from deploy/charts/esox (see scripts/test-chart).

usage: chart_checks.py OUT_DIR CHART_DIR README
OUT_DIR holds default.yaml, scoped.yaml, minimal.yaml, extras.yaml and run-help.txt (`esox run --help`).
"""
import json
import re
import sys
from pathlib import Path

import yaml

out, chart, readme = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
passed, failed = 0, 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}{': ' + str(detail) if detail else ''}")


def objects(name):
    return [d for d in yaml.safe_load_all((out / f"{name}.yaml").read_text()) if d]


def of_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def deployment(objs):
    (d,) = of_kind(objs, "Deployment")
    return d


def args(objs):
    return deployment(objs)["spec"]["template"]["spec"]["containers"][0]["args"]


def rules(objs, kind):
    return [r for o in of_kind(objs, kind) for r in o["rules"]]


def grants(rule_list):
    """(group, resource, verb) triples."""
    return {(g, r, v) for rule in rule_list for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


crd_plurals = {
    (d["spec"]["group"], d["spec"]["names"]["plural"])
    for d in yaml.safe_load_all((chart / "files" / "crds.yaml").read_text())
    if d
}
run_flags = set(re.findall(r"--([a-z][a-z0-9-]+)", (out / "run-help.txt").read_text()))

# --- default values: production settings -------------------------------------------------------
default = objects("default")
dep = deployment(default)
pod = dep["spec"]["template"]["spec"]
ctr = pod["containers"][0]
check("two replicas by default", dep["spec"]["replicas"] == 2, dep["spec"]["replicas"])
check("leader election on by default", "--enable-leader-election=true" in args(default), args(default))
check("pod runs as non-root 65532", pod["securityContext"].get("runAsNonRoot") is True and pod["securityContext"].get("runAsUser") == 65532, pod["securityContext"])
check("pod seccomp RuntimeDefault", pod["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault")
sc = ctr["securityContext"]
check("read-only root file system", sc.get("readOnlyRootFilesystem") is True, sc)
check("no privilege escalation", sc.get("allowPrivilegeEscalation") is False, sc)
check("all capabilities dropped", sc.get("capabilities", {}).get("drop") == ["ALL"], sc)
check("container seccomp RuntimeDefault", sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", sc)
ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
check("liveness probe on /healthz", ctr["livenessProbe"]["httpGet"]["path"] == "/healthz")
check("readiness probe on /readyz", ctr["readinessProbe"]["httpGet"]["path"] == "/readyz")
health_port = ports.get(ctr["livenessProbe"]["httpGet"]["port"])
check("probes hit the port of --health-addr", f"--health-addr=0.0.0.0:{health_port}" in args(default), (health_port, args(default)))
check("metrics port is --metrics-addr", f"--metrics-addr=0.0.0.0:{ports.get('metrics')}" in args(default))
# esox stops its controllers within 10 s of SIGTERM and then releases the Lease within the 10 s
# renew deadline: the grace period must cover both.
check("grace period covers esox's shutdown (10 s + 10 s)", pod["terminationGracePeriodSeconds"] > 20, pod["terminationGracePeriodSeconds"])
req = ctr["resources"]["requests"]
check("memory and CPU requested", "memory" in req and "cpu" in req, req)
check("memory limit set", "memory" in ctr["resources"].get("limits", {}))
check("PodDisruptionBudget with 2 replicas", len(of_kind(default, "PodDisruptionBudget")) == 1)
check("metrics Service", any(s["metadata"]["name"].endswith("-metrics") for s in of_kind(default, "Service")))
check("CRDs installed by default", {(c["spec"]["group"], c["spec"]["names"]["plural"]) for c in of_kind(default, "CustomResourceDefinition")} == crd_plurals)
check("CRDs kept on uninstall", all(c["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep" for c in of_kind(default, "CustomResourceDefinition")))
check("run is the subcommand", args(default)[0] == "run")

# Every flag any configuration passes is one `esox run` has.
for name in ("default", "scoped", "minimal", "extras"):
    for a in args(objects(name))[1:]:
        flag = re.match(r"--([a-z0-9-]+)", a)
        check(f"{name}: {a} is a flag of esox run", flag is not None and flag.group(1) in run_flags, sorted(run_flags))

# --- RBAC ----------------------------------------------------------------------------------------
cluster = grants(rules(default, "ClusterRole"))
lease = grants(rules(default, "Role"))
for g, r, v in cluster | lease:
    check(f"no wildcard in {g}/{r} {v}", "*" not in (g, r, v))
    base = r.split("/")[0]
    if g.endswith("external-secrets.io"):
        check(f"{g}/{r} is a kind esox serves", (g, base) in crd_plurals, sorted(crd_plurals))
# The leader-election Role: the Lease, and the LeaderElection Event a new leader records on it.
check("the Lease is granted in a Role only", all(r == "leases" or (g, r, v) == ("events.k8s.io", "events", "create") for g, r, v in lease) and not any(r == "leases" for _, r, _ in cluster), lease)
check("Secrets are never patched (esox updates them)", ("", "secrets", "patch") not in cluster)

# The README's permissions table lists every rule of the default ClusterRole and Role.
table = {}
for line in readme.read_text().splitlines():
    m = re.match(r"\|\s*`([^`]*)`\s*\|\s*((?:`[^`]+`(?:,\s*)?)+)\s*\|\s*([a-z, ]+)\|", line)
    if m:
        group = "" if m.group(1) in ("", "core") else m.group(1)
        for res in re.findall(r"`([^`]+)`", m.group(2)):
            table.setdefault((group, res), set()).update(v.strip() for v in m.group(3).split(","))
for g, r, v in cluster | lease:
    check(f"README permissions table lists {g or 'core'}/{r} {v}", v in table.get((g, r), set()), table.get((g, r)))
for (g, r), verbs in table.items():
    for v in verbs:
        check(f"README table row {g or 'core'}/{r} {v} is a rule of the chart", (g, r, v) in cluster | lease)

# --- namespace-scoped mode -----------------------------------------------------------------------
scoped = objects("scoped")
check("scoped: no ClusterRole", not of_kind(scoped, "ClusterRole"))
check("scoped: no ClusterRoleBinding", not of_kind(scoped, "ClusterRoleBinding"))
roles = of_kind(scoped, "Role")
check("scoped: Roles only in the served and the release namespace", {r["metadata"]["namespace"] for r in roles} == {"team-a", "esox-system"}, [r["metadata"] for r in roles])
secrets_ns = {r["metadata"]["namespace"] for r in roles if any("secrets" in rule["resources"] for rule in r["rules"])}
check("scoped: Secrets granted in the served namespace only", secrets_ns == {"team-a"}, secrets_ns)
sa = args(scoped)
for flag in ("--namespace=team-a", "--enable-cluster-store-reconciler=false", "--enable-cluster-external-secret-reconciler=false", "--enable-cluster-push-secret-reconciler=false"):
    check(f"scoped: {flag}", flag in sa, sa)
scoped_grants = grants(rules(scoped, "Role"))
check("scoped: no cluster-scoped resource in a Role", not any(r in ("namespaces", "clustersecretstores", "clusterexternalsecrets", "clusterpushsecrets", "clustergenerators") for _, r, _ in scoped_grants))

# --- processing switches -------------------------------------------------------------------------
minimal = objects("minimal")
mg = grants(rules(minimal, "ClusterRole"))
ma = args(minimal)
for flag in ("--enable-push-secret-reconciler=false", "--enable-cluster-store-reconciler=false", "--enable-cluster-external-secret-reconciler=false", "--enable-cluster-push-secret-reconciler=false"):
    check(f"minimal: {flag}", flag in ma, ma)
check("minimal: no leader election flag", not any(a.startswith("--enable-leader-election") for a in ma))
check("minimal: no Lease Role", not of_kind(minimal, "Role"))
check("minimal: no PodDisruptionBudget with one replica", not of_kind(minimal, "PodDisruptionBudget"))
for r in ("pushsecrets", "clustersecretstores", "clusterexternalsecrets", "clusterpushsecrets", "namespaces"):
    check(f"minimal: no rule on {r}", not any(res == r for _, res, _ in mg), sorted(mg))
check("minimal: ExternalSecrets are not created (no ClusterExternalSecret)", ("external-secrets.io", "externalsecrets", "create") not in mg)

# --- extras --------------------------------------------------------------------------------------
extras = objects("extras")
ea = args(extras)
for flag in ("--concurrent=8", "--controller-class=blue", "--store-requeue-interval-seconds=60"):
    check(f"extras: {flag}", flag in ea, ea)
check("extras: no CRDs with installCRDs=false", not of_kind(extras, "CustomResourceDefinition"))
check("extras: ServiceMonitor", len(of_kind(extras, "ServiceMonitor")) == 1)
(rule,) = of_kind(extras, "PrometheusRule")
alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
for name in ("EsoxExternalSecretNotReady", "EsoxExternalSecretSyncErrors", "EsoxNoLeader", "EsoxSecretStoreNotReady"):
    check(f"PrometheusRule has {name}", name in alerts, sorted(alerts))
check("no placeholder left in the rules", "__" not in json.dumps(rule), rule)
(dash,) = [c for c in of_kind(extras, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
board = json.loads(dash["data"]["esox.json"])
check("dashboard has panels", len(board["panels"]) >= 6)

print(f"chart checks: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
