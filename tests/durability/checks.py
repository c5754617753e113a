"""Assertions shared by the fault tests: exact counts, alert-id discipline."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from streamer.core import codec
from streamer.core.alerts import episode_alert_id
from tests.durability.gen import Stream
from tests.durability.harness import Harness, count_mismatches, log

MEDIUM_UP = {"medium", "high", "critical"}


def assert_exact_counts(h: Harness, stream: Stream) -> dict[str, Any]:
    """Every customer's final state (read from the changelog, as recovery would) counts each
    distinct event exactly once and each deliberate re-send as a skipped duplicate."""
    states = h.final_states()
    got = {cid: st.events_total for cid, st in states.items()}
    wrong = count_mismatches(stream.expected, got)
    if wrong:
        explain_counts(h, list(wrong)[:3])
    assert not wrong, (f"{len(wrong)} of {len(stream.expected)} customers have wrong counts "
                       f"(expected, got): {dict(list(wrong.items())[:10])}")
    dups = {cid: st.duplicates for cid, st in states.items() if st.duplicates}
    wrong_dups = count_mismatches(stream.duplicates, dups)
    assert not wrong_dups, f"duplicates skipped (expected, got): {wrong_dups}"
    return states


def explain_counts(h: Harness, customers: list[str]) -> None:
    """Log what a failed count is made of: each customer's input offsets, its state's history
    in the changelog, and the workers' warnings about records fetched again."""
    want = {c.encode() for c in customers}
    for rec in h.read_topic(h.input_topic):
        if rec.key in want:
            log(f"  input {rec.key.decode()} p{rec.partition} @{rec.offset}")
    for rec in h.read_topic(h.changelog_topic):
        if rec.key in want and rec.value is not None:
            st = codec.decode(rec.value)
            log(f"  changelog {rec.key.decode()} p{rec.partition} @{rec.offset}: events_total="
                f"{st.events_total} last_offset={st.last_offset} duplicates={st.duplicates}")
    for w in h.workers:
        for line in w.log_tail(400).splitlines():
            if "fetching the partition again" in line or "rebalanc" in line.lower():
                log(f"  {w.log_path.name}: {line[:300]}")


def assert_sample_via_web(worker: Any, stream: Stream, sample: list[str]) -> None:
    """``GET /customers/{id}`` agrees with the expected count for a sample of customers."""
    for cid in sample:
        status, body = worker.get(f"/customers/{cid}", timeout=5)
        assert status == 200, f"/customers/{cid} -> {status} {body}"
        assert body["events_processed"] == stream.expected[cid], (cid, body)
        assert body["duplicates_skipped"] == stream.duplicates.get(cid, 0), (cid, body)


def assert_alert_ids_consistent(alerts: list[dict[str, Any]], states: dict[str, Any]) -> None:
    """alert_id <-> (customer, episode) is 1:1; re-emitted alerts carry the same id.

    Each alert id must be the id of one episode of its customer that the final state has
    reached, and an episode opens once: every ``open`` record of one alert id is the same
    opening (same trigger event), re-emitted at most by a replay. A customer whose state had
    been reset to a cold start would re-open episode 1 at a different event under the old id.
    """
    owners: dict[str, set[str]] = defaultdict(set)
    opens: dict[str, set[str]] = defaultdict(set)
    for a in alerts:
        owners[a["alert_id"]].add(a["customer_id"])
        if a["status"] == "open":
            opens[a["alert_id"]].add(a["trigger_event_id"])
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert not shared, f"alert ids shared by customers: {shared}"
    reopened = {k: v for k, v in opens.items() if len(v) > 1}
    assert not reopened, f"alert ids opened by different events (episode reused): {reopened}"
    for alert_id, (cid,) in ((k, tuple(v)) for k, v in owners.items()):
        st = states.get(cid)
        assert st is not None, f"alert {alert_id} for unknown customer {cid}"
        ids = {episode_alert_id(cid, n): n for n in range(1, st.episode.number + 1)}
        assert alert_id in ids, (f"alert {alert_id} of {cid} matches none of its "
                                 f"{st.episode.number} episodes")


def alert_set(alerts: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(customer, alert id, severity) of every alert at medium or above."""
    return {(a["customer_id"], a["alert_id"], a["severity"]) for a in alerts
            if a["severity"] in MEDIUM_UP}


def log_alerts(alerts: list[dict[str, Any]], who: list[str]) -> None:
    for a in alerts:
        if a["customer_id"] in who:
            log(f"  alert {a['alert_id']} {a['customer_id']} {a['status']:9} {a['severity']:8} "
                f"events_total={a['events_total']} trigger={a['trigger_event_id']}")
