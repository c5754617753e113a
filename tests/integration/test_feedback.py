"""Analyst feedback on the real broker: allowlist silences, confirm keeps flagged,
a false positive lowers sensitivity for the pattern that raised the alert."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamer.shell.feedback import feedback_record
from tests.integration.conftest import Pipeline, attack_events

pytestmark = pytest.mark.kafka
START_MS = 1_772_409_600_000
MEDIUM = {"medium", "high", "critical"}


def _send_feedback(pipeline: Pipeline, cid: str, verdict: str) -> None:
    rec = feedback_record(cid, verdict, expires_in_h=24 * 365)
    pipeline.send(orjson.dumps(rec), cid.encode(), topic=pipeline.topic("feedback"))
    pipeline.flush()


def _alerts_for(pipeline: Pipeline, cids: set[str], until: Any) -> list[dict[str, Any]]:
    recs = pipeline.consume("alerts", lambda rs: until(
        [orjson.loads(r.value) for r in rs if r.key.decode() in cids]), timeout_s=30)
    return [orjson.loads(r.value) for r in recs if r.key.decode() in cids]


def test_allowlisted_customer_does_not_alert_while_its_twin_does(
    pipeline: Pipeline, customer_id: Any
) -> None:
    allowed, twin = customer_id("allow"), customer_id("twin")
    _send_feedback(pipeline, allowed, "allowlisted")
    for a, b in zip(attack_events(allowed, 80, START_MS), attack_events(twin, 80, START_MS),
                    strict=True):
        pipeline.send_event(a)
        pipeline.send_event(b)
    pipeline.flush()
    alerts = _alerts_for(pipeline, {allowed, twin},
                         lambda al: any(x["customer_id"] == twin for x in al))
    assert pipeline.wait_processed(allowed, 80) == 80
    assert any(a["customer_id"] == twin and a["severity"] in MEDIUM for a in alerts)
    assert not [a for a in alerts if a["customer_id"] == allowed and a["status"] != "resolved"]


def test_false_positive_resolves_and_lowers_sensitivity_confirmed_stays(
    pipeline: Pipeline, customer_id: Any
) -> None:
    fp, confirmed = customer_id("fp"), customer_id("conf")
    first = attack_events(fp, 40, START_MS) + attack_events(confirmed, 40, START_MS)
    for ev in sorted(first, key=lambda e: e["ts"]):
        pipeline.send_event(ev)
    pipeline.flush()
    opened = _alerts_for(pipeline, {fp, confirmed}, lambda al: len(
        {a["customer_id"] for a in al if a["status"] == "open"}) == 2)
    assert {a["customer_id"] for a in opened if a["status"] == "open"} == {fp, confirmed}
    _send_feedback(pipeline, fp, "false_positive")
    _send_feedback(pipeline, confirmed, "confirmed")
    later = START_MS + 3 * 3_600_000  # after the quiet period: a new episode could open
    more = attack_events(fp, 60, later, prefix="b") + attack_events(confirmed, 60, later,
                                                                       prefix="b")
    for ev in sorted(more, key=lambda e: e["ts"]):
        pipeline.send_event(ev)
    pipeline.flush()
    assert pipeline.wait_processed(fp, 100) == 100
    assert pipeline.wait_processed(confirmed, 100) == 100
    alerts = _alerts_for(pipeline, {fp, confirmed}, lambda al: any(
        a["customer_id"] == fp and a["status"] == "resolved" for a in al))
    fp_alerts = [a for a in alerts if a["customer_id"] == fp]
    assert [a["status"] for a in fp_alerts][-1] == "resolved"
    reopened = [a for a in fp_alerts if a["status"] == "open"]
    assert len(reopened) == 1, "the same pattern alerted again after a false-positive verdict"
    conf = pipeline.customer(confirmed)
    assert conf["episode_open"] and conf["risk"] >= 0.95
