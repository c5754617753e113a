"""The dead-letter-rate guard and input-quality counts (``streamer.core.dlq_guard``)."""

from __future__ import annotations

import pytest

from streamer.core.dlq_guard import DlqGuard, InputQuality


def test_defaults_are_5_percent_of_the_last_1000() -> None:
    g = DlqGuard()
    assert (g.window, g.threshold) == (1000, 0.05)
    for i in range(1000):
        g.observe(i % 20 != 19, "wrong_type", "status")  # exactly 5 %: not more than
    assert g.status().status == "ok" and g.status().dead_lettered == 50
    g.observe(False, "wrong_type", "status")  # 51 of the last 1000
    assert g.status().status == "degraded"


def test_the_window_slides_old_failures_out() -> None:
    g = DlqGuard(window=100, threshold=0.05, min_messages=10)
    for _ in range(100):
        g.observe(False, "bad_json")
    assert g.degraded and g.status().dead_lettered == 100
    for _ in range(95):
        g.observe(True)
    assert g.status().dead_lettered == 5 and not g.degraded
    assert g.status().window == 100


def test_a_misconfigured_gateway_trips_it_after_min_messages() -> None:
    g = DlqGuard()  # min_messages 100
    for _ in range(99):
        g.observe(False, "wrong_type", "input_tokens")
    assert not g.degraded  # too few messages to judge
    g.observe(False, "wrong_type", "input_tokens")
    s = g.status()
    assert (s.status, s.share, s.top_reason, s.top_field) == ("degraded", 1.0, "wrong_type",
                                                              "input_tokens")


def test_top_reason_and_field_are_the_most_frequent_in_the_window() -> None:
    g = DlqGuard(window=50, min_messages=1)
    for _ in range(3):
        g.observe(False, "bad_json")
    for _ in range(5):
        g.observe(False, "bad_timestamp", "ts")
    s = g.status()
    assert (s.top_reason, s.top_field) == ("bad_timestamp", "ts")
    assert "bad_timestamp" in s.log_line() and "'ts'" in s.log_line()


def test_should_log_at_most_once_a_minute_and_only_while_degraded() -> None:
    g = DlqGuard(window=10, min_messages=1)
    assert not g.should_log(0.0)
    g.observe(False, "not_utf8")
    logged = [t for t in range(0, 300, 5) if g.should_log(float(t))]
    assert logged == [0, 60, 120, 180, 240]
    for _ in range(10):
        g.observe(True)
    assert not g.should_log(1000.0)


@pytest.mark.parametrize(("window", "threshold"), [(0, 0.05), (10, -0.1), (10, 1.0)])
def test_bad_settings_are_refused(window: int, threshold: float) -> None:
    with pytest.raises(ValueError):
        DlqGuard(window=window, threshold=threshold)


def test_input_quality_counts_drops_and_dead_letters_per_field_and_reason() -> None:
    q = InputQuality(DlqGuard(window=10, min_messages=1))
    q.accepted((("temperature", "wrong_type"), ("status", "out_of_range")))
    q.accepted((("temperature", "wrong_type"),))
    q.rejected("missing_field", "customer_id")
    snap = q.snapshot()
    assert snap["dropped_fields"] == {"temperature": {"wrong_type": 2},
                                      "status": {"out_of_range": 1}}
    assert snap["dropped_total"] == 3
    assert snap["dead_lettered"] == {"missing_field": {"customer_id": 1}}
    assert snap["input_status"] == "degraded"  # 1 of 3 dead-lettered
    assert snap["dlq_guard"]["top_field"] == "customer_id"


def test_input_quality_counts_stay_bounded() -> None:
    from streamer.core.dlq_guard import MAX_KEYS

    q = InputQuality()
    for i in range(MAX_KEYS * 3):
        q.accepted(((f"field_{i}", "wrong_type"),))
    keys = sum(len(v) for v in q.snapshot()["dropped_fields"].values())
    assert keys <= MAX_KEYS + 1
    assert q.snapshot()["dropped_total"] == MAX_KEYS * 3
