"""The loop watchdog: a loop that keeps beating is never reported; a blocked one is, once per
stall, with the blocking code's frame on top, and at most REPORTS_PER_MINUTE times a minute."""

from __future__ import annotations

import threading
import time

from streamer.shell import loopwatch
from streamer.shell.loopwatch import LoopWatch


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(200))


def test_a_beating_loop_is_not_reported_and_a_blocked_one_names_its_frame() -> None:
    seen: list[tuple[str, float]] = []
    w = LoopWatch(threshold_s=0.25, poll_s=0.005, report=lambda s, t: seen.append((s, t)))
    w.start(threading.get_ident())
    try:
        for _ in range(30):  # 0.3 s of beats every 10 ms: never 250 ms without one
            w.beat()
            time.sleep(0.01)
        assert seen == [] and w.stalls == 0
        w.beat()
        _busy(0.8)  # one stall of 800 ms: reported once
        w.beat()
        time.sleep(0.05)
    finally:
        w.stop()
    assert w.stalls == 1 and len(seen) == 1
    stack, lasted = seen[0]
    assert "_busy" in stack and lasted >= 0.25


def test_reports_are_rate_limited_but_stalls_counted() -> None:
    seen: list[str] = []
    w = LoopWatch(threshold_s=0.03, poll_s=0.002, report=lambda s, t: seen.append(s))
    w.start(threading.get_ident())
    try:
        for _ in range(loopwatch.REPORTS_PER_MINUTE + 4):
            w.beat()
            _busy(0.15)
    finally:
        w.stop()
    assert w.stalls >= loopwatch.REPORTS_PER_MINUTE + 1
    assert len(seen) == loopwatch.REPORTS_PER_MINUTE == w.reports
