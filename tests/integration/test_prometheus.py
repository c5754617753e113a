"""A real Prometheus (Debian ``prometheus`` 2.42) scrapes a real worker with the bearer token,
loads the shipped rules, and answers every PromQL expression of the Grafana dashboard.

The worker is fed the smoke scenario's campaign accounts, so counters and histograms carry
real values; a second scrape job without the token shows /metrics is really protected.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, free_port, topic_env
from streamer.shell.topics import ensure_topics
from streamer.sim import simulate
from tests.ops_tools import require_tool
from tests.unit.test_deploy import DEPLOY, dashboard_exprs, metric_names_in

pytestmark = pytest.mark.kafka

TOKEN = "prom-" + uuid.uuid4().hex


def campaign_events() -> list[dict[str, Any]]:
    sim = simulate("smoke", seed=0)
    accounts = set(next(iter(sim.labels["campaigns"].values()))["accounts"])
    return [e for e in sim.events() if e["customer_id"] in accounts]


class Prom:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.proc, self.log = port, proc, log

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def query(self, expr: str) -> Any:
        return self.api("query", query=expr)

    def wait(self, what: str, check: Any, timeout_s: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                last = check()
            except OSError:
                last = None
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[WorkerProcess, Prom, int]]:
    prometheus = require_tool("prometheus")
    root = tmp_path_factory.mktemp("prom")
    prefix = f"prom-{uuid.uuid4().hex[:8]}"
    env = {**topic_env(prefix), "STREAMER_STORE": "memory://", "STREAMER_WEB_TOKEN": TOKEN,
           "STREAMER_LOG_LEVEL": "warning"}
    settings = Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    ensure_topics(settings)
    worker = WorkerProcess(kafka_bootstrap, env, root / "worker").start()
    prom: Prom | None = None
    try:
        wait_ready(worker)
        events = campaign_events()
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
        for e in events:
            producer.send(settings.input_topic, key=e["customer_id"].encode(),
                          value=orjson.dumps(e))
        producer.send(settings.input_topic, key=b"cus_bad", value=b"{not json")
        producer.flush(30)
        producer.close()

        (root / "token").write_text(TOKEN + "\n")
        conf = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        conf["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        conf.pop("alerting")
        conf["rule_files"] = [str(DEPLOY / "prometheus" / "rules.yml")]
        job = conf["scrape_configs"][0]
        job["authorization"]["credentials_file"] = str(root / "token")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{worker.web_port}"]}]
        conf["scrape_configs"].append({"job_name": "streamer-no-token",
                                       "static_configs": job["static_configs"]})
        (root / "prometheus.yml").write_text(yaml.safe_dump(conf))
        port = free_port()
        log = root / "prometheus.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [prometheus, f"--config.file={root / 'prometheus.yml'}",
                 f"--storage.tsdb.path={root / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=out, stderr=subprocess.STDOUT)
        prom = Prom(port, proc, log)
        yield worker, prom, len(events)
    finally:
        if prom is not None:
            prom.proc.terminate()
            prom.proc.wait(30)
        worker.stop()


def wait_ready(worker: WorkerProcess, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        worker.check_alive()
        try:
            status, _ = worker.get("/ready")
        except (OSError, ValueError):
            status = 0
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"worker not ready:\n{worker.log_tail()}")


def scrape(worker: WorkerProcess) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{worker.web_port}/metrics",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(resp.read().decode())


def value(result: Any) -> float | None:
    data = result.get("data", {}).get("result", [])
    return float(data[0]["value"][1]) if data else None


def test_prometheus_scrapes_the_worker_with_the_token(stack: tuple[WorkerProcess, Prom, int]
                                                      ) -> None:
    _, prom, n = stack
    got = prom.wait("processed events in Prometheus", lambda: (
        (v := value(prom.query('streamer_events_total{job="streamer",outcome="processed"}')))
        is not None and v >= n and v), timeout_s=120)
    assert got == n
    assert value(prom.query('streamer_dead_lettered_total{job="streamer",reason="bad_json"}')) \
        == 1
    assert value(prom.query('up{job="streamer"}')) == 1
    # the same target without the token is refused (401): /metrics is protected
    assert prom.wait("the no-token job scraped", lambda: value(
        prom.query('up{job="streamer-no-token"}')) is not None)
    assert value(prom.query('up{job="streamer-no-token"}')) == 0
    alerts = prom.wait("alerts counted", lambda: value(
        prom.query('sum(streamer_alerts_total{job="streamer"})')))
    assert alerts >= 1


def test_every_dashboard_query_runs_on_the_real_prometheus(
        stack: tuple[WorkerProcess, Prom, int]) -> None:
    worker, prom, _ = stack
    prom.wait("a latency sample", lambda: value(
        prom.query("streamer_alert_latency_seconds_count")))
    # every family the worker declares (a labelled counter with no sample yet, such as
    # streamer_fields_dropped_total before any field was dropped, is declared but empty)
    exposed: set[str] = set()
    for fam in text_string_to_metric_families(scrape(worker)):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exposed |= {fam.name + sfx for sfx in suffixes.get(fam.type, [""])}
    exprs = dashboard_exprs()
    assert exprs
    for expr in exprs:
        res = prom.query(expr)
        assert res["status"] == "success", (expr, res)
        names = metric_names_in(expr) - {"up"}
        assert names <= exposed, (expr, names - exposed)
    # the latency histogram holds real observations (over all time: rates need two scrapes
    # after the alerts, which all came in the first seconds)
    p95 = value(prom.query(
        'histogram_quantile(0.95, sum by (le) (streamer_alert_latency_seconds_bucket))'))
    assert p95 is not None and 0 < p95 < 300


def test_shipped_rules_load_and_evaluate(stack: tuple[WorkerProcess, Prom, int]) -> None:
    _, prom, _ = stack

    def evaluated() -> Any:
        groups = prom.api("rules")["data"]["groups"]
        rules = [r for g in groups if g["name"] == "streamer.alerts" for r in g["rules"]]
        return rules if rules and all(r["health"] == "ok" and r["lastEvaluation"][:4] != "0001"
                                      for r in rules) else None

    rules = prom.wait("alerting rules evaluated", evaluated, timeout_s=60)
    assert {r["name"] for r in rules} >= {"StreamerWorkerDown", "StreamerAlertStorm"}
    # the worker is up: the worker-down rule is not pending or firing
    down = next(r for r in rules if r["name"] == "StreamerWorkerDown")
    assert down["state"] == "inactive", down
