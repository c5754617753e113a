"""Produce and consume "by hand" with kcat (Debian ``kcat``), the lines the README shows.

kcat is librdkafka, not kafka-python: events typed on its stdin are processed by the worker,
an attack produced through it raises an alert read back with kcat, a malformed line lands in
the dead-letter topic with its reason header, and a verdict goes to the feedback topic.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import orjson
import pytest

from tests.integration.conftest import Pipeline, attack_events
from tests.integration.tooling import require_tool

pytestmark = pytest.mark.kafka
START_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z


@pytest.fixture(scope="module")
def kcat() -> str:
    return require_tool("kcat", "kcat")


def _produce(kcat: str, pipe: Pipeline, topic: str, lines: list[str]) -> None:
    # kcat -P -b <bootstrap> -t <topic> -K $'\t'   (one "key<TAB>value" per line)
    done = subprocess.run([kcat, "-P", "-b", pipe.bootstrap, "-t", topic, "-K", "\t"],
                          input="".join(line + "\n" for line in lines), text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _consume(kcat: str, pipe: Pipeline, topic: str) -> list[dict[str, Any]]:
    # kcat -C -b <bootstrap> -t <topic> -o beginning -e -J   (JSON envelope per message)
    done = subprocess.run([kcat, "-C", "-b", pipe.bootstrap, "-t", topic, "-o", "beginning",
                           "-e", "-q", "-J"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_kcat_lines_for_every_topic(kcat: str, pipeline: Pipeline, customer_id: Any) -> None:
    hand, attacker, bad = customer_id("k"), customer_id("ka"), customer_id("kb")
    event = ('{"event_id":"kcat-1","ts":"2026-03-02T10:00:00Z","customer_id":"' + hand +
             '","model":"atlas-2","input_tokens":12,"output_tokens":40}')
    _produce(kcat, pipeline, pipeline.topic("input"), [f"{hand}\t{event}"])
    assert pipeline.wait_processed(hand, 1) == 1

    _produce(kcat, pipeline, pipeline.topic("input"), [f"{bad}\t{{not json"])
    _produce(kcat, pipeline, pipeline.topic("input"),
             [f"{attacker}\t{orjson.dumps(e).decode()}"
              for e in attack_events(attacker, 60, START_MS, prefix="kcat-")])
    assert pipeline.wait_processed(attacker, 60) == 60

    deadline, opened = time.monotonic() + 30, False
    while not opened and time.monotonic() < deadline:
        alerts = [orjson.loads(m["payload"])
                  for m in _consume(kcat, pipeline, pipeline.topic("alerts"))]
        opened = any(a["customer_id"] == attacker and a["status"] == "open" for a in alerts)
    assert opened, "kcat read no alert for the attacker"

    dead = [m for m in _consume(kcat, pipeline, pipeline.topic("dlq")) if m["key"] == bad]
    assert len(dead) == 1 and dead[0]["payload"] == "{not json"
    headers = dict(zip(dead[0]["headers"][::2], dead[0]["headers"][1::2], strict=True))
    assert headers["streamer-reason"] == "bad_json"

    verdict = orjson.dumps({"customer_id": attacker, "verdict": "confirmed",
                            "ts": "2026-03-02T11:00:00Z", "note": "kcat"}).decode()
    _produce(kcat, pipeline, pipeline.topic("feedback"), [f"{attacker}\t{verdict}"])
    fed = [m for m in _consume(kcat, pipeline, pipeline.topic("feedback"))
           if m["key"] == attacker]
    assert orjson.loads(fed[0]["payload"])["verdict"] == "confirmed"
