"""Where the event loop is blocked: a watchdog thread that names the code holding it.

The loop-lag probe (:func:`streamer.shell.metrics.measure_loop_lag`) says *that* the loop was
late; this says *where* it was. The probe calls :meth:`LoopWatch.beat` at every wake-up; a
daemon thread looks every ``poll_s``, and when no beat came for ``threshold_s`` it takes the
loop thread's current stack (``sys._current_frames``) and logs it once for that stall, with
how long the stall had lasted. A stall caused by a garbage collection shows the frame that was
allocating when the collection began; CPU-bound code of ours shows itself.

Stacks name code and line numbers only; no local variables are read, so no prompt text can
reach the log.

>>> import threading, time
>>> seen = []
>>> w = LoopWatch(threshold_s=0.05, poll_s=0.01,
...               report=lambda stack, lasted: seen.append((stack, lasted)))
>>> w.start(threading.get_ident()); time.sleep(0.2); w.stop()
>>> stack, lasted = seen[0]
>>> "<doctest" in stack, lasted >= 0.05, w.stalls
(True, True, 1)
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable

#: A loop that has not run for this long is reported (the issue's bound for one block).
THRESHOLD_S = 0.1
POLL_S = 0.02
#: At most this many stack reports per minute (a saturated worker must not flood its log).
REPORTS_PER_MINUTE = 2
STACK_LIMIT = 30


class LoopWatch:
    """A daemon thread that logs the loop thread's stack when its beats stop."""

    def __init__(self, threshold_s: float = THRESHOLD_S, poll_s: float = POLL_S,
                 report: Callable[[str, float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold_s = threshold_s
        self.poll_s = poll_s
        self.report = report or (lambda stack, lasted: None)
        self.clock = clock
        self.last_beat = clock()
        self.reports = 0
        self.stalls = 0
        self._reported_at: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._target = 0

    def beat(self) -> None:
        """The loop ran (called from the loop's thread)."""
        self.last_beat = self.clock()

    def start(self, loop_thread_id: int) -> None:
        self._target = loop_thread_id
        self.last_beat = self.clock()
        self._thread = threading.Thread(target=self._run, name="streamer-loopwatch",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        reported_beat = -1.0
        while not self._stop.wait(self.poll_s):
            beat = self.last_beat
            lasted = self.clock() - beat
            if lasted < self.threshold_s or beat == reported_beat:
                continue
            reported_beat = beat  # one report per stall
            self.stalls += 1
            now = self.clock()
            self._reported_at = [t for t in self._reported_at if now - t < 60.0]
            if len(self._reported_at) >= REPORTS_PER_MINUTE:
                continue
            frame = sys._current_frames().get(self._target)
            if frame is None:
                continue
            stack = "".join(traceback.format_stack(frame, limit=STACK_LIMIT))
            del frame
            self._reported_at.append(now)
            self.reports += 1
            self.report(stack, lasted)
