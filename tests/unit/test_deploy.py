"""deploy/ validated offline: Prometheus rules and config with promtool (syntax and the rules'
unit tests), Kubernetes manifests against the Kubernetes schemas shipped by the PyPI
``kubernetes-validate`` package (the ServiceMonitor CRD against the schema shipped in
deploy/k8s/schemas), the Grafana dashboard's structure, and the compose file's services."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from streamer.shell import metrics as metrics_module
from tests.ops_tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.30.0"


def run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def metric_names_in(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (streamer_* and up)."""
    names = set(re.findall(r"\b(streamer_[a-z_]+)\b", expr))
    return names | ({"up"} if re.search(r"\bup\{", expr) else set())


def exposed_sample_names() -> set[str]:
    """Every sample name a worker can expose (counters' _total, histograms' _bucket...)."""
    doc = metrics_module.__doc__ or ""
    table = re.findall(r"^(streamer_[a-z_]+)\s+(counter|gauge|histogram)", doc, flags=re.M)
    out: set[str] = set()
    for name, kind in table:
        if kind == "histogram":
            out |= {name + "_bucket", name + "_sum", name + "_count"}
        else:
            out.add(name)
    return out


# --- Prometheus ---------------------------------------------------------------------------
def test_promtool_checks_rules() -> None:
    promtool = require_tool("promtool")
    out = run([promtool, "check", "rules", str(DEPLOY / "prometheus" / "rules.yml")])
    assert "SUCCESS" in out


def test_promtool_rule_unit_tests() -> None:
    promtool = require_tool("promtool")
    out = run([promtool, "test", "rules", "tests/rules_test.yml"], cwd=DEPLOY / "prometheus")
    assert "SUCCESS" in out


def test_promtool_checks_scrape_config(tmp_path: Path) -> None:
    """The config as shipped, with the token file it names provided."""
    promtool = require_tool("promtool")
    conf = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    token = tmp_path / "token"
    token.write_text("t0k3n\n")
    job = conf["scrape_configs"][0]
    assert job["authorization"]["credentials_file"] == "/run/secrets/streamer-web-token"
    job["authorization"]["credentials_file"] = str(token)
    conf["rule_files"] = [str(DEPLOY / "prometheus" / "rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(conf))
    out = run([promtool, "check", "config", str(tmp_path / "prometheus.yml")])
    assert "SUCCESS" in out


def test_rules_read_only_metrics_the_worker_exposes() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert {"StreamerWorkerDown", "StreamerConsumerLagGrowing", "StreamerDeadLetterRateHigh",
            "StreamerNoEvents", "StreamerAlertStorm"} <= alerts
    used = set().union(*(metric_names_in(e) for e in exprs)) - {"up"}
    assert used and used <= exposed_sample_names(), used - exposed_sample_names()


# --- Kubernetes ---------------------------------------------------------------------------
def manifests() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((path.name, doc))
    return out


def validate_k8s(doc: dict[str, Any]) -> None:
    import kubernetes_validate

    if doc["kind"] == "ServiceMonitor":
        schema = json.loads((DEPLOY / "k8s" / "schemas" / "servicemonitor.json").read_text())
        jsonschema.validate(doc, schema)
    elif doc["kind"] == "Kustomization":
        assert doc["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
        for res in doc["resources"]:
            assert (DEPLOY / "k8s" / res).is_file(), res
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("name,doc", manifests(), ids=lambda v: v if isinstance(v, str) else "")
def test_manifest_is_valid(name: str, doc: dict[str, Any]) -> None:
    validate_k8s(doc)


def test_validation_catches_a_typo() -> None:
    """Strict schemas: a misspelt field fails (so the check above can fail)."""
    import kubernetes_validate

    sts = next(d for _, d in manifests() if d["kind"] == "StatefulSet")
    bad = copy.deepcopy(sts)
    container = bad["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    sm = next(d for _, d in manifests() if d["kind"] == "ServiceMonitor")
    bad_sm = copy.deepcopy(sm)
    bad_sm["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        validate_k8s(bad_sm)


def test_statefulset_has_what_operations_need() -> None:
    docs = {d["kind"]: d for _, d in manifests()}
    sts = docs["StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["STREAMER_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.name"
    assert env["STREAMER_WEB_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "streamer-web-token"
    assert "streamer-headless" in env["STREAMER_WEB_HOST"]["value"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    mount = next(m for m in c["volumeMounts"] if m["name"] == claim["metadata"]["name"])
    config = docs["ConfigMap"]["data"]
    assert mount["mountPath"] == config["STREAMER_DATA_DIR"]
    assert config["STREAMER_STORE"].startswith("rocksdb")
    assert sts["spec"]["serviceName"] == docs["Service"]["metadata"]["name"]
    assert docs["Service"]["spec"]["clusterIP"] == "None"
    assert docs["PodDisruptionBudget"]["spec"]["selector"] == sts["spec"]["selector"]
    sm_ep = docs["ServiceMonitor"]["spec"]["endpoints"][0]
    assert sm_ep["path"] == "/metrics" and sm_ep["authorization"]["credentials"]["name"] == \
        "streamer-web-token"


# --- Grafana --------------------------------------------------------------------------------
def dashboard_exprs() -> list[str]:
    dash = json.loads((DEPLOY / "grafana" / "streamer-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_grafana_dashboard_covers_every_metric_and_only_those() -> None:
    dash = json.loads((DEPLOY / "grafana" / "streamer-dashboard.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"]
    used = set().union(*(metric_names_in(e) for e in dashboard_exprs()))
    assert used <= exposed_sample_names(), used - exposed_sample_names()
    # every metric of the worker has a panel
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    documented = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exposed_sample_names()}
    assert bases == documented, documented - bases


# --- compose -------------------------------------------------------------------------------
def test_compose_file_has_the_stack() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"kafka", "worker", "prometheus", "alertmanager"}
    assert services["kafka"]["image"].startswith("apache/kafka:3.9")
    assert services["prometheus"]["image"].endswith("v2.42.0")
    assert "--cluster.listen-address=" in services["alertmanager"]["command"]
    # what the scrape config targets is what compose names
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    target = prom["scrape_configs"][0]["static_configs"][0]["targets"][0]
    host, port = target.split(":")
    assert host in services and services[host]["environment"]["STREAMER_WEB_PORT"] == port
    am = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert am.split(":")[0] in services
    for svc in services.values():  # published on loopback only
        for p in svc.get("ports", []):
            assert p.startswith("127.0.0.1:"), p
    for src in (v.split(":")[0] for v in services["prometheus"]["volumes"]):
        assert (DEPLOY / "compose" / src).resolve().is_file(), src
    assert (DEPLOY / "compose" / services["worker"]["build"]["dockerfile"].split("/")[-1]
            ).is_file()


def test_alertmanager_config_is_valid() -> None:
    amtool = require_tool("amtool")
    run([amtool, "check-config", str(DEPLOY / "compose" / "alertmanager.yml")])
