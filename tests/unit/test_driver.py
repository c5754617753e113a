"""The one driver: exact replays, bounded timers, paced windows, poison-proof inputs.

Each test here failed on the code before the driver (see issue 11, items 2, 3, 4, 8, 10, 13).
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.core import customer
from streamer.core.driver import DeadLetter, Driver, DriverConfig
from streamer.core.engine import Engine, partition_for, replay
from streamer.core.ledger import MAX_RANGES, OffsetLedger
from streamer.core.messages import parse_feedback, parse_signal, parse_verdict
from streamer.core.outputs import Alert, FeatureRecord
from streamer.core.redact import redact
from streamer.core.timers import Timers
from streamer.errors import InvalidEvent
from tests.unit.core_streams import DAY, HOUR, MINUTE, T0, benign_events, event, extraction_events


def _raw(ev: Any) -> bytes:
    d = {"event_id": ev.event_id, "ts": ev.ts_ms, "customer_id": ev.customer_id,
         "model": ev.model, "input_tokens": ev.input_tokens, "output_tokens": ev.output_tokens}
    if ev.prompt:
        d["prompt"] = ev.prompt
    return orjson.dumps(d)


def _stored(d: Driver) -> dict[str, bytes]:
    """What the worker would store after a batch: the changed states, encoded."""
    from streamer.core import codec

    return {k: codec.encode(s) for k, (_, s) in d.take_writes().items()}


def _feed(d: Driver, events: list[Any], offsets: list[int] | None = None,
          partition: int = 0) -> list[Any]:
    outs: list[Any] = []
    for i, ev in enumerate(events):
        off = offsets[i] if offsets is not None else i
        outs += d.on_record("event", partition, off, ev.customer_id.encode(), _raw(ev))
        if d.due(partition):
            outs += d.on_watermark(partition)
    return outs


# --- item 3: exact counts after a replay ----------------------------------------------------
@pytest.mark.parametrize("n", [600, 5_000])
def test_replay_after_restart_counts_every_event_once(n: int) -> None:
    """Old code: 600 events replayed gave events_total 1,200 (ids left the 512-id ring)."""
    events = benign_events(n, customer_id="busy")
    d = Driver()
    _feed(d, events)
    assert d.state("busy", 0).events_total == n
    # a restart: what the worker stored (customer states and the partition's record) comes
    # back, and the partition is read again from offset 0

    stored = _stored(d)
    d2 = Driver(get=stored.get)
    _feed(d2, events)
    st2 = d2.state("busy", 0)
    assert st2.events_total == n
    assert d2.counters["replayed"] == n and d2.counters["processed"] == 0


def test_a_replay_writes_the_state_again_for_a_changelog_that_missed_it() -> None:
    """CI, tests/durability/test_kill9.py: a kill -9 after the batch's RocksDB writes, before
    its changelog records reached the broker (the input stays uncommitted). The restarted
    worker read the states back from RocksDB, skipped the re-read events as replays and wrote
    nothing: the changelog, from which any other worker recovers, never had the two customers
    (expected 1 event, got 0). A replay rewrites the state it skipped, once per batch."""
    events = [*benign_events(3, customer_id="a"), *benign_events(2, customer_id="b")]
    d = Driver()
    _feed(d, events)
    local = _stored(d)  # what RocksDB holds; the changelog has none of it
    d2 = Driver(get=local.get)
    _feed(d2, events)
    assert d2.counters["replayed"] == 5 and d2.counters["processed"] == 0
    changelog = _stored(d2)
    assert {"a", "b"} <= set(changelog)
    from streamer.core import codec
    from streamer.core.customer import CustomerState

    assert codec.decode(changelog["a"], CustomerState).events_total == 3
    assert codec.decode(changelog["b"], CustomerState).events_total == 2
    # a replay of what this process handled itself needs no rewrite
    _feed(d2, events)
    assert not {"a", "b"} & set(_stored(d2))


def test_a_record_skipped_by_a_process_that_died_is_processed_after_the_restart() -> None:
    """The consumer skipped offset 10 (Faust around a rebalance) and the process died before
    fetching it again: the restarted worker reads from the commit (<= 10) and must process it,
    although it is below the customer's last offset; the others are replays."""

    events = benign_events(30, customer_id="gap")
    d = Driver()
    for i in [*range(10), *range(11, 30)]:
        d.on_record("event", 0, i, b"gap", _raw(events[i]))
    stored = _stored(d)
    d2 = Driver(get=stored.get)
    for i in range(10, 30):
        d2.on_record("event", 0, i, b"gap", _raw(events[i]))
    assert d2.state("gap", 0).events_total == 30
    assert d2.counters["out_of_order"] == 1 and d2.counters["replayed"] == 19


def test_a_record_handed_over_late_is_processed_once() -> None:
    """Faust may hand a record over after later ones (around a re-fetch): it is not lost."""
    events = benign_events(30, customer_id="ooo")
    d = Driver()
    order = list(range(30))
    order.remove(10)
    order.append(10)
    for i in order:
        d.on_record("event", 0, i, b"ooo", _raw(events[i]))
    assert d.state("ooo", 0).events_total == 30
    assert d.counters["out_of_order"] == 1
    # ...and the re-fetch that follows (10..29 again) changes nothing
    for i in range(10, 30):
        d.on_record("event", 0, i, b"ooo", _raw(events[i]))
    assert d.state("ooo", 0).events_total == 30


def test_a_hole_held_while_a_busy_customer_runs_on_does_not_double_count_after_a_crash(
) -> None:
    """Kill -9 while the consumer still owed one record (offset 10) and the busy customer had
    run 2,000 events past it. The old partition-wide mark stayed at 9 (the hole) and only a
    512-id ring protected the rest: the restart replayed 11..~1,480 as new events."""

    events = benign_events(2_000, customer_id="busy")
    d = Driver()
    for i in [*range(10), *range(11, 2_000)]:
        d.on_record("event", 0, i, b"busy", _raw(events[i]))
    stored = _stored(d)
    d2 = Driver(get=stored.get)
    for i in range(10, 2_000):  # the commit held at the hole
        d2.on_record("event", 0, i, b"busy", _raw(events[i]))
    assert d2.state("busy", 0).events_total == 2_000
    assert d2.counters["out_of_order"] == 1 and d2.counters["replayed"] == 1_989


def test_a_state_older_than_the_partitions_other_records_still_gets_its_late_record() -> None:
    """After a kill -9 recovery may hand back a customer state older than the partition's
    other stored records. Here the late record 10 was processed after the first write; the
    crash kept the first write of the customer only. The old partition-wide mark (then 29)
    said 10 was handled: it was lost."""

    events = benign_events(30, customer_id="late")
    d = Driver()
    for i in [*range(10), *range(11, 30)]:
        d.on_record("event", 0, i, b"late", _raw(events[i]))
    first = _stored(d)
    d.on_record("event", 0, 10, b"late", _raw(events[10]))
    second = _stored(d)
    assert d.state("late", 0).events_total == 30
    recovered = {**second, "late": first["late"]}  # the customer's second write was lost
    d2 = Driver(get=recovered.get)
    for i in range(10, 30):
        d2.on_record("event", 0, i, b"late", _raw(events[i]))
    assert d2.state("late", 0).events_total == 30


def test_records_faust_drops_right_after_an_assignment_are_processed_when_fetched_again(
) -> None:
    """Measured in tests/durability/test_rebalance.py: after partitions moved, Faust dropped
    the first records it had fetched (offset 939 there) and handed over later ones first; the
    consumer patch fetched 939 again. The old ledger took everything below the first offset
    it handled as handled, and the event was lost."""

    events = benign_events(60, customer_id="moved")
    old = Driver()
    for i in range(30):  # the previous owner, up to its last commit
        old.on_record("event", 0, i, b"moved", _raw(events[i]))
    stored = _stored(old)
    new = Driver(get=stored.get)
    for i in [*range(35, 60), *range(30, 60)]:  # 30..34 dropped, then fetched again from 30
        new.on_record("event", 0, i, b"moved", _raw(events[i]))
    assert new.state("moved", 0).events_total == 60
    assert new.counters["out_of_order"] == 5 and new.counters["replayed"] == 25


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=200), st.lists(st.integers(0, 300), max_size=200))
def test_a_handled_mark_is_exactly_what_was_handled(first: list[int], later: list[int]) -> None:
    """Two processes' ledgers joined into a state's mark: an offset is in the mark iff one of
    them handled it, as long as the gaps fit."""
    from streamer.core.ledger import MAX_GAPS, Handled

    a, b = OffsetLedger(), OffsetLedger()
    for o in first:
        a.add(o)
    for o in later:
        b.add(o)
    mark = b.snapshot(a.snapshot(Handled()))
    want = set(first) | set(later)
    if len(mark.gaps) < 2 * MAX_GAPS:
        assert {o for o in range(302) if o in mark} == want


def test_ledger_stays_bounded() -> None:
    led = OffsetLedger()
    for o in range(0, 10 * MAX_RANGES, 2):  # every other offset: a range each
        led.add(o)
    assert len(led.ranges) <= MAX_RANGES and led.folded > 0
    assert not led.out_of_order(1)  # folded into the floor: treated as handled


# --- item 4: one live deadline per customer ---------------------------------------------------
def test_timers_hold_one_deadline_per_customer_over_two_weeks() -> None:
    """Old code: 10 customers over 14 days pushed 40,300 heap entries."""
    d = Driver()
    rng = random.Random(3)
    t = T0
    i = 0
    while t < T0 + 14 * DAY:
        cid = f"c{rng.randrange(10)}"
        ev = event(i, t, customer_id=cid, prompt=f"hello there number {i}")
        d.on_event(ev, 0, i)
        if d.due(0):
            d.on_watermark(0)
        t += rng.randrange(1, 40) * MINUTE
        i += 1
    sizes = d.sizes()
    assert sizes["timers"] <= 10
    assert sizes["timer_heap"] <= 2 * 10 + 64


def test_timers_come_back_from_stored_states_after_a_restart() -> None:
    """Old code: a quiet customer's open window was never closed after a restart."""
    from streamer.core import codec

    d = Driver()
    _feed(d, benign_events(20, customer_id="quiet"))
    stored = {k: codec.encode(s) for k, (_, s) in d.cache.items()}
    d2 = Driver(get=stored.get)
    for key, raw in stored.items():
        d2.adopt(0, key, raw)
    assert d2.notify_at(0) is not None
    # another customer's traffic moves the partition's event time past the deadline
    later = [event(i, T0 + 2 * HOUR + i * 1000, customer_id="other") for i in range(3)]
    outs = _feed(d2, later, offsets=[100, 101, 102])
    closed = [o for o in outs if isinstance(o, FeatureRecord) and o.customer_id == "quiet"]
    assert len(closed) == 1 and closed[0].events_in_window > 0


def test_timer_queue_replaces_and_orders() -> None:
    t = Timers()
    for k in range(100):
        for w in range(50):
            t.set(f"k{k}", 1_000 * (w + k))
    assert len(t) == 100 and t.heap_size <= 2 * 100 + 64
    due = t.pop_due(10**9, limit=7)
    assert due == sorted(due, key=lambda k: (t.due.get(k, 0), k))[:7] or len(due) == 7
    assert len(t) == 93


# --- item 10: a shared window boundary is paced --------------------------------------------
def test_closing_a_shared_boundary_is_paced_by_the_budget() -> None:
    d = Driver(DriverConfig(timer_budget=100))
    for c in range(1_000):
        d.on_event(event(c, T0 + c, customer_id=f"c{c:04d}"), 0, c)
    d.on_event(event(0, T0 + HOUR, customer_id="late"), 0, 5_000)
    fired = []
    while d.due(0):
        batch = d.on_watermark(0)
        assert len([o for o in batch if isinstance(o, FeatureRecord)]) <= 100
        fired += batch
    assert len({o.customer_id for o in fired if isinstance(o, FeatureRecord)}) == 1_000


def test_paced_and_unpaced_replays_agree() -> None:
    events = sorted(extraction_events(60, customer_id="att") + benign_events(200, customer_id="b")
                    + benign_events(200, customer_id="b2"), key=lambda e: e.ts_ms)
    fast = replay(events)
    eng = Engine(config=DriverConfig(timer_budget=1))
    paced: list[dict[str, Any]] = []
    for ev in events:
        paced += eng.process(ev)
    paced += eng.finish()
    key = lambda o: (o["kind"], o["customer_id"], o.get("status"), o.get("window_start"))  # noqa: E731
    assert sorted(map(key, fast.alerts + fast.features)) == sorted(map(key, paced))


# --- item 8: one future-dated event does not stall the partition ------------------------------
def test_a_far_future_event_is_dead_lettered_not_the_watermark() -> None:
    d = Driver(DriverConfig(max_future_skew_ms=HOUR))
    now = T0
    good = benign_events(20, customer_id="g")
    future = event(99, 4_070_908_800_000, customer_id="g")  # 2099
    outs = d.on_record("event", 0, 0, b"g", _raw(future), timestamp_ms=now)
    assert [o.reason for o in outs if isinstance(o, DeadLetter)] == ["bad_timestamp"]
    _feed(d, good, offsets=list(range(1, 21)))
    assert d.watermark(0) == good[-1].ts_ms


# --- item 13: key versus body ----------------------------------------------------------------
def test_a_record_keyed_by_another_customer_is_dead_lettered() -> None:
    d = Driver()
    ev = event(0, T0, customer_id="alice")
    outs = d.on_record("event", 0, 0, b"bob", _raw(ev))
    assert [o.reason for o in outs if isinstance(o, DeadLetter)] == ["key_mismatch"]
    assert d.counters["key_mismatch"] == 1 and "alice" not in d.cache
    counted = Driver(DriverConfig(key_policy="count"))
    assert counted.on_record("event", 0, 0, b"bob", _raw(ev)) == []
    assert counted.counters["key_mismatch"] == 1 and "alice" in counted.cache


# --- item 2: poison on any topic --------------------------------------------------------------
@pytest.mark.parametrize("raw", [
    b'{"customer_id": "c1", "verdict": []}', b'{"customer_id": "c1", "verdict": "confirmed", '
    b'"signals": 5}', b'{"customer_id": ["x"], "verdict": "confirmed"}', b"\xff", b"[]",
    b'{"customer_id": "c1", "verdict": "allowlisted", "expires_at": {}}',
])
def test_malformed_feedback_is_dead_lettered(raw: bytes) -> None:
    d = Driver()
    outs = d.on_record("feedback", 0, None, b"c1", raw)
    assert len(outs) == 1 and isinstance(outs[0], DeadLetter)


def test_malformed_internal_verdict_is_dead_lettered() -> None:
    d = Driver()
    outs = d.on_record("verdict", 0, None, b"c1", b'{"customer_id": "c1", "cluster_id": "c"}')
    assert isinstance(outs[0], DeadLetter) and outs[0].reason in {"missing_field", "wrong_type"}


def test_feedback_signals_are_capped_and_checked() -> None:
    """Old code: five large feedback records pushed one customer's state past 2 MB."""
    from streamer.core import codec
    from streamer.core.scoring import SIGNAL_BY_NAME

    d = Driver(known_signal=SIGNAL_BY_NAME.__contains__)
    _feed(d, extraction_events(30, customer_id="fp"))
    junk = [f"sig{i}" * 50 for i in range(5_000)] + ["cot_rate"]
    for _ in range(5):
        raw = orjson.dumps({"customer_id": "fp", "verdict": "false_positive", "signals": junk})
        d.on_record("feedback", 0, None, b"fp", raw)
    st_ = d.state("fp", 0)
    assert set(st_.feedback.damped) <= set(SIGNAL_BY_NAME)
    assert len(codec.encode(st_)) < 20_000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=6),
    max_leaves=20)
field_names = st.sampled_from(["customer_id", "verdict", "ts", "expires_at", "signals", "note",
                               "cluster_id", "members", "shared", "evidence", "ts_ms",
                               "event_id", "pooled_requests", "token", "kind", "requests",
                               "content_evidence", "account_risk"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(field_names, json_values, max_size=10) | st.binary(max_size=64))
def test_internal_and_feedback_parsers_are_total(doc: Any) -> None:
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)
    for parse in (lambda r: parse_feedback(r, 0), parse_verdict, parse_signal):
        with contextlib.suppress(InvalidEvent):
            parse(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: orjson.dumps(
    v, option=orjson.OPT_NON_STR_KEYS)))
def test_the_driver_never_raises_on_any_bytes_on_any_topic(raw: bytes) -> None:
    d = Driver(DriverConfig(max_future_skew_ms=HOUR))
    for kind in ("event", "verdict", "feedback"):
        d.on_record(kind, 0, 1, b"k", raw, timestamp_ms=T0)  # type: ignore[arg-type]


# --- item 12: no prompt text in the dead-letter topic -----------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.text(min_size=8, max_size=60).filter(lambda s: s.strip() and '"' not in s
                                                 and "\\" not in s))
def test_redaction_removes_prompt_text_wherever_it_is(secret: str) -> None:
    secret = "zqx" + secret  # never a substring of the document's own keys
    doc = {"event_id": "e", "prompt": secret,
           "request": {"messages": [{"role": "user", "content": secret}]},
           "attributes": {"gen_ai.prompt": secret}}
    out, how = redact(orjson.dumps(doc))
    assert how == "redacted"
    assert orjson.dumps(secret)[1:-1] not in out


def test_driver_alert_flow_matches_engine_on_an_attack() -> None:
    events = sorted(extraction_events(80, customer_id="att") + benign_events(80),
                    key=lambda e: e.ts_ms)
    offline = replay(events)
    d = Driver()
    outs: list[Any] = []
    for i, ev in enumerate(events):
        outs += d.on_event(ev, 0, i)
        if d.due(0):
            outs += d.on_watermark(0)
    alerts = [o for o in outs if isinstance(o, Alert)]
    live = [(a.alert_id, a.status, a.severity) for a in alerts]
    assert live == [(a["alert_id"], a["status"], a["severity"]) for a in offline.alerts][:len(live)]
    assert alerts and alerts[0].customer_id == "att"


def test_partitioning_matches_kafka_default_partitioner() -> None:
    from kafka.partitioner.default import murmur2 as kafka_murmur2

    for i in range(500):
        key = f"cus_{i:06x}".encode()
        assert partition_for(key, 12) == (kafka_murmur2(key) & 0x7FFFFFFF) % 12


def test_window_deadline_helper_is_the_customer_modules() -> None:
    st_ = customer.CustomerState("x")
    assert customer.next_deadline(st_) is None
