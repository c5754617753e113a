"""The same traffic in every gateway format, through the real broker, gives the same alerts.

Ten minutes (event time) of the smoke scenario -- ordinary customers of every archetype and the
start of its chain-of-thought campaign -- is produced once in the native contract and once in
each adapter's format (``streamer.sim.formats_out``), each to fresh topics read by a fresh worker
(``STREAMER_INPUT_FORMAT`` set to the format; the native run uses the default ``auto``). Every
run must emit the same alerts: same ids, customers, severities, statuses, risks and triggers.
The last worker then receives a burst of unusable messages and must report degraded input.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamer.core.events import parse_ts
from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import ensure_topics
from streamer.sim import simulate
from streamer.sim.formats_out import FORMATS, to_format
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.kafka
START_MS = 1_772_409_600_000  # the smoke scenario's start
CUT_MS = (START_MS + 3 * 60_000, START_MS + 13 * 60_000)  # campaign starts at minute 6


def _stream() -> list[dict[str, Any]]:
    events = [e for e in simulate("smoke", 0).events()
              if CUT_MS[0] <= parse_ts(e["ts"]) < CUT_MS[1]]
    return sorted(events, key=lambda e: parse_ts(e["ts"]))


def _alert_key(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["alert_id"], a["customer_id"], a["severity"], a["status"], a["trigger_event_id"],
            a["risk"])


def _run(fmt: str, events: list[dict[str, Any]], bootstrap: str, tmp: Path,
         expect_alerts: int | None, then: Callable[[Pipeline], None] | None = None
         ) -> tuple[list[dict[str, Any]], dict[str, Any], Any]:
    prefix = f"fmt-{fmt}-{uuid.uuid4().hex[:6]}"
    env = {**topic_env(prefix), "STREAMER_STORE": "memory://"}
    if fmt != "native":
        env["STREAMER_INPUT_FORMAT"] = fmt
    ensure_topics(Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}))
    worker = WorkerProcess(bootstrap, env, tmp / fmt).start()
    try:
        worker.wait_consuming(120)
        pipe = Pipeline(bootstrap, env, worker)
        for ev in events:
            record = ev if fmt == "native" else to_format(ev, fmt)
            pipe.send(orjson.dumps(record), ev["customer_id"].encode())
        pipe.flush()
        deadline = time.monotonic() + 90
        stats: dict[str, Any] = {}
        while time.monotonic() < deadline:
            stats = worker.stats() or {}
            if stats.get("events_processed", 0) + stats.get("invalid", 0) >= len(events):
                break
            time.sleep(0.3)
        seen: list[int] = []

        def settled(records: list[Any]) -> bool:
            # the native run: no new alert for 3 s; the others: as many alerts as native
            if expect_alerts is not None:
                return len(records) >= expect_alerts
            seen.append(len(records))
            return len(seen) >= 6 and len(set(seen[-6:])) == 1

        records = pipe.consume("alerts", settled, timeout_s=60)
        _, health = worker.get("/health")
        if then is not None:
            then(pipe)
        pipe.producer.close()
        return [orjson.loads(r.value) for r in records], stats, health
    finally:
        code = worker.stop()
        assert code == 0, f"worker exited with {code}:\n{worker.log_tail()}"


def _misconfigured_gateway(pipe: Pipeline) -> None:
    """Then a gateway starts logging token counts as words: health turns degraded (still 200)."""
    bad = [{"event_id": f"bad-{i}", "ts": CUT_MS[1] + i, "customer_id": "cus_misconfigured",
            "model": "m", "input_tokens": "twelve", "output_tokens": 3} for i in range(120)]
    for ev in bad:
        pipe.send(orjson.dumps(ev), b"cus_misconfigured")
    pipe.flush()
    deadline = time.monotonic() + 60
    status, health = 0, {}
    while time.monotonic() < deadline:
        status, health = pipe.worker.get("/health")
        if health.get("status") == "degraded":
            break
        time.sleep(0.3)
    assert (status, health["status"]) == (200, "degraded"), health
    assert (health["input"]["top_reason"], health["input"]["top_field"]) == ("wrong_type",
                                                                             "input_tokens")
    stats = pipe.worker.stats() or {}
    assert stats["input_status"] == "degraded"
    assert stats["dead_lettered"] == {"wrong_type": {"input_tokens": 120}}
    deadline = time.monotonic() + 10
    while "input degraded" not in pipe.worker.log_tail(400) and time.monotonic() < deadline:
        time.sleep(0.3)
    lines = [ln for ln in pipe.worker.log_tail(400).splitlines() if "input degraded" in ln]
    assert len(lines) == 1 and "'input_tokens'" in lines[0], lines


def test_every_format_yields_the_native_alerts(kafka_bootstrap: str, tmp_path: Path) -> None:
    events = _stream()
    native, stats, health = _run("native", events, kafka_bootstrap, tmp_path, None)
    assert stats["events_processed"] == len(events) and stats["invalid"] == 0
    campaign = {a["customer_id"] for a in native if a["severity"] in {"medium", "high",
                                                                       "critical"}}
    assert len(campaign) >= 2, native  # the campaign's accounts are caught in ten minutes
    want = sorted(_alert_key(a) for a in native)
    for fmt in FORMATS:
        then = _misconfigured_gateway if fmt == FORMATS[-1] else None
        alerts, stats, health = _run(fmt, events, kafka_bootstrap, tmp_path, len(native), then)
        assert stats["events_processed"] == len(events), (fmt, stats)
        assert stats["invalid"] == 0 and stats["dropped_total"] == 0, (fmt, stats)
        assert stats["input_status"] == "ok" and health["status"] == "ok", (fmt, health)
        assert sorted(_alert_key(a) for a in alerts) == want, fmt
