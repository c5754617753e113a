"""Debian tools the integration tests drive, and child processes of ``streamer`` commands.

``require_tool("kcat", "kcat")`` returns the binary's path. When it is missing and we are root
with apt, it is installed (``apt-get update`` once per session); under ``CI=true`` a tool that is
still missing fails the test, otherwise the test is skipped with a loud reason.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streamer.shell.supervise import ChildProcess, free_port
from tests.ops_tools import require_tool

__all__ = ["require_tool"]  # the one tool finder, re-exported for the integration tests


#: a child process of a ``streamer`` command (the one definition: :mod:`streamer.shell.supervise`)
Child = ChildProcess


def streamer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "streamer", *args]


class AlertmanagerProcess:
    """A real Alertmanager (Debian ``prometheus-alertmanager``) on a free 127.0.0.1 port."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (workdir / "alertmanager.yml").write_text(
            'route:\n  receiver: "null"\n  group_wait: 1s\nreceivers:\n  - name: "null"\n')
        self.child: Child | None = None

    def start(self) -> AlertmanagerProcess:
        self.child = Child([
            self.binary, f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
            "--log.level=warn"], self.workdir / "alertmanager.log").start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            assert self.child.alive(), self.child.log()
            time.sleep(0.2)
        raise AssertionError(f"Alertmanager not ready:\n{self.child.log()}")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Active alerts (``GET /api/v2/alerts``) whose labels match ``labels``."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as resp:
            found: list[dict[str, Any]] = orjson.loads(resp.read())
        return [a for a in found if all(a["labels"].get(k) == v for k, v in labels.items())]

    def wait_for(self, predicate: Any, timeout_s: float = 30.0, **labels: str) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        alerts: list[Any] = []
        while time.monotonic() < deadline:
            try:
                alerts = self.alerts(**labels)
            except (urllib.error.URLError, OSError):
                alerts = []
            if predicate(alerts):
                return alerts
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for alerts {labels}; last seen: {alerts}")


SCHEMAS = Path(__file__).resolve().parents[2] / "streamer" / "schemas"


def risk_record(customer: str, alert_id: str, severity: str, status: str, *,
                tactics: tuple[str, ...] = ("cot_coercion",), cluster: str | None = None,
                risk: float = 0.8) -> dict[str, Any]:
    """An ``extraction-risk`` record as the worker writes it, checked against its schema."""
    import jsonschema

    now_ms = int(time.time() * 1000)
    from streamer.core.outputs import rfc3339

    record = {
        "kind": "alert", "alert_id": alert_id, "customer_id": customer, "risk": risk,
        "severity": severity, "status": status, "detected_at": rfc3339(now_ms - 1000),
        "detected_at_ms": now_ms - 1000, "trigger_event_id": f"{customer}-ev",
        "emitted_at": rfc3339(now_ms), "window_start": rfc3339(now_ms - 300_000),
        "window_end": rfc3339(now_ms), "events_in_window": 40, "events_total": 120,
        "reasons": [] if status == "resolved" else [
            {"signal": "cot_rate", "value": 0.85, "baseline": 0.02, "contribution": 2.4,
             "description": "share of prompts coercing step-by-step reasoning traces"},
            {"signal": "machine_pacing", "value": 0.9, "baseline": 0.3, "contribution": 1.1,
             "description": "regularity of inter-arrival times"}],
        "tactics": list(tactics),
        "cluster": None if cluster is None else {
            "cluster_id": cluster, "members": [customer, f"{customer}-twin"], "shared": ["asn"]},
        "detector_version": "test",
    }
    schema = orjson.loads((SCHEMAS / "extraction-risk.schema.json").read_bytes())
    jsonschema.validate(record, schema)
    return record


def assert_all_committed(bootstrap: str, topic: str, group: str) -> None:
    """The group's committed offset of every partition of ``topic`` is the partition's end."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(parts)
        committed = {tp: consumer.committed(tp) or 0 for tp in parts}
    finally:
        consumer.close(autocommit=False)
    assert committed == ends, (committed, ends)
