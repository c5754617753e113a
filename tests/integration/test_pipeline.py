"""End to end on the real broker: events in, alerts out, bad input to the dead-letter topic."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.integration.conftest import Pipeline, attack_events, ordinary_events

pytestmark = pytest.mark.kafka
START_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z
MEDIUM = {"medium", "high", "critical"}


def _alerts(records: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]


def test_attack_alerts_within_seconds_and_ordinary_customers_stay_quiet(
    pipeline: Pipeline, customer_id: Any
) -> None:
    attacker = customer_id("a")
    quiet = [customer_id("o") for _ in range(5)]
    events = attack_events(attacker, 60, START_MS)
    for q in quiet:
        events += ordinary_events(q, 60, START_MS)
    events.sort(key=lambda e: e["ts"])
    t0 = time.monotonic()
    for ev in events:
        pipeline.send_event(ev)
    pipeline.flush()

    def attacker_alerted(recs: list[Any]) -> bool:
        return any(a["customer_id"] == attacker for a in _alerts(recs))

    records = pipeline.consume("alerts", attacker_alerted, timeout_s=30)
    delay = time.monotonic() - t0
    alerts = _alerts(records)
    mine = [a for a in alerts if a["customer_id"] == attacker]
    assert mine, "no alert for the attacker"
    assert delay < 15, f"first alert took {delay:.1f}s of wall-clock time"
    first = mine[0]
    assert first["severity"] in MEDIUM and first["status"] == "open"
    assert "cot_coercion" in first["tactics"]
    assert first["reasons"][0]["contribution"] >= first["reasons"][-1]["contribution"]
    assert first["alert_id"].startswith("xr_") and first["emitted_at"]
    assert "prompt" not in orjson.dumps(first).decode().lower().replace("prompts", "")
    for q in quiet:
        assert pipeline.wait_processed(q, 60) == 60
    assert not [a for a in alerts if a["customer_id"] in quiet and a["severity"] in MEDIUM]


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in (record.headers or [])}


def test_malformed_messages_go_to_dlq_while_valid_events_flow(
    pipeline: Pipeline, customer_id: Any
) -> None:
    good = customer_id("g")
    valid = ordinary_events(good, 20, START_MS)
    base = dict(valid[0], event_id="bad")
    bad: dict[str, bytes] = {
        "bad_json": b'{"event_id": "x", "ts": ',
        "wrong_type": orjson.dumps(dict(base, input_tokens="ten")),
        "missing_field": orjson.dumps({k: v for k, v in base.items() if k != "customer_id"}),
        "negative_value": orjson.dumps(dict(base, output_tokens=-5)),
        "not_utf8": b'{"event_id": "\xff\xfe", "ts": 1}',
        "oversize": orjson.dumps(dict(base, prompt="x" * 1_200_000)),
        "not_an_object": b"[1, 2, 3]",
        "bad_timestamp": orjson.dumps(dict(base, ts="yesterday")),
    }
    for i, ev in enumerate(valid):
        pipeline.send_event(ev)
        if i < len(bad):
            reason, raw = list(bad.items())[i]
            pipeline.send(raw, good.encode())
    pipeline.flush()

    def all_dead(recs: list[Any]) -> bool:
        return sum(_headers(r).get("streamer-source-topic") is not None for r in recs) >= len(bad)

    dead = [r for r in pipeline.consume("dlq", all_dead, timeout_s=30)
            if r.key == good.encode()]
    by_reason = {_headers(r)["streamer-reason"]: r for r in dead}
    assert set(by_reason) == set(bad)
    for reason, raw in bad.items():
        rec = by_reason[reason]
        h = _headers(rec)
        if h["streamer-redacted"] == "redacted":
            # the prompt is replaced by its length and hash; everything else is kept as sent
            kept, sent = orjson.loads(rec.value), orjson.loads(raw)
            assert kept["prompt"]["redacted"] is True
            assert kept["prompt"]["chars"] == len(sent["prompt"])
            assert sent["prompt"][:40].encode() not in rec.value
            assert {k: v for k, v in kept.items() if k != "prompt"} == {
                k: v for k, v in sent.items() if k != "prompt"}
        else:
            assert h["streamer-redacted"] in {"nothing", "unparseable"}, h
            assert rec.value == raw, f"{reason}: original bytes not preserved"
        assert h["streamer-source-topic"] == pipeline.topic("input")
        assert int(h["streamer-source-offset"]) >= 0 and h["streamer-detail"]
    assert pipeline.wait_processed(good, 20) == 20
    stats = pipeline.worker.stats()
    assert stats["invalid"] >= len(bad)
    assert stats["faust_consumer_patch"] is True  # installed when `streamer worker` starts


def test_a_message_produced_by_hand_is_accepted(pipeline: Pipeline, customer_id: Any) -> None:
    from kafka import KafkaProducer

    cid = customer_id("h")
    producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap)
    text = ('{"event_id":"hand-1","ts":"2026-03-02T10:00:00+01:00","customer_id":"' + cid +
            '","model":"atlas-2","input_tokens":12,"output_tokens":40,"unknown_field":true}')
    producer.send(pipeline.topic("input"), key=cid.encode(), value=text.encode())
    producer.flush(10)
    producer.close()
    assert pipeline.wait_processed(cid, 1) == 1


def test_repeated_event_id_is_processed_once(pipeline: Pipeline, customer_id: Any) -> None:
    cid = customer_id("d")
    events = ordinary_events(cid, 10, START_MS)
    for ev in events + events[:4]:
        pipeline.send_event(ev)
    pipeline.flush()
    assert pipeline.wait_processed(cid, 10) == 10
    time.sleep(2)
    body = pipeline.customer(cid)
    assert body["events_processed"] == 10 and body["duplicates_skipped"] == 4
