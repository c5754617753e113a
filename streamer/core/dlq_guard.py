"""Input quality: a dead-letter-rate guard and counts of dropped optional fields. Pure.

A gateway that logs a field the way this project does not expect can lose all of its traffic to
the dead-letter topic while every agent stays healthy. :class:`DlqGuard` watches the share of
dead-lettered messages among the last ``window`` input messages; above ``threshold`` the worker
reports ``degraded`` (``/health`` and ``/stats``) and logs one line -- at most once a minute
(:meth:`DlqGuard.should_log`, the clock passed in) -- naming the top reason and field.

The guard judges only once it has seen ``min_messages`` (default 100, or the whole window if
smaller), so a misconfigured gateway is noticed after ~100 messages rather than 1,000, and one bad
message among the first three does not trip it.

>>> g = DlqGuard(window=10, threshold=0.2, min_messages=5)
>>> for _ in range(7):
...     g.observe(True)
>>> g.observe(False, "wrong_type", "input_tokens"); g.status().status
'ok'
>>> for _ in range(3):
...     g.observe(False, "wrong_type", "input_tokens")
>>> s = g.status()
>>> s.status, s.dead_lettered, s.window, s.top_reason, s.top_field
('degraded', 4, 10, 'wrong_type', 'input_tokens')
>>> g.should_log(1000.0), g.should_log(1030.0), g.should_log(1060.0)
(True, False, True)
>>> for _ in range(10):
...     g.observe(True)
>>> g.status().status, g.should_log(2000.0)
('ok', False)

:class:`InputQuality` bundles the guard with cumulative counts, per field and reason, of dropped
optional fields and of dead-lettered messages (what ``/stats`` shows).

>>> q = InputQuality()
>>> q.accepted((("temperature", "wrong_type"),)); q.accepted(()); q.rejected("bad_json")
>>> q.snapshot()["dropped_fields"], q.snapshot()["dead_lettered"]
({'temperature': {'wrong_type': 1}}, {'bad_json': {'-': 1}})
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_WINDOW = 1000
DEFAULT_THRESHOLD = 0.05
DEFAULT_MIN_MESSAGES = 100
LOG_EVERY_S = 60.0
#: distinct (field, reason) keys kept in cumulative counts; later ones are counted as "other"
MAX_KEYS = 256
_NO_FIELD = "-"


@dataclass(frozen=True, slots=True)
class GuardStatus:
    status: str  # "ok" | "degraded"
    share: float
    dead_lettered: int
    window: int
    threshold: float
    top_reason: str | None
    top_field: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_line(self) -> str:
        """One clear line for the operator's log."""
        where = f" in field {self.top_field!r}" if self.top_field else ""
        return (f"input degraded: {self.dead_lettered} of the last {self.window} messages "
                f"({self.share:.1%}, threshold {self.threshold:.0%}) went to the dead-letter "
                f"topic; top reason {self.top_reason!r}{where} -- check the gateway's encoding "
                f"or STREAMER_INPUT_FORMAT")


class DlqGuard:
    """Sliding-window share of dead-lettered input messages (bounded: ``window`` entries)."""

    def __init__(self, window: int = DEFAULT_WINDOW, threshold: float = DEFAULT_THRESHOLD,
                 min_messages: int = DEFAULT_MIN_MESSAGES, log_every_s: float = LOG_EVERY_S
                 ) -> None:
        if window < 1 or not 0.0 <= threshold < 1.0:
            raise ValueError("window must be >= 1 and threshold in [0, 1)")
        self.window = window
        self.threshold = threshold
        self.min_messages = max(1, min(min_messages, window))
        self.log_every_s = log_every_s
        self._recent: deque[tuple[str, str] | None] = deque()
        self._bad: Counter[tuple[str, str]] = Counter()
        self._bad_total = 0
        self._last_log_s: float | None = None

    def observe(self, ok: bool, reason: str | None = None, field: str | None = None) -> None:
        """One input message: decoded (``ok``) or dead-lettered with ``reason`` / ``field``."""
        entry = None if ok else (reason or "unknown", field or _NO_FIELD)
        self._recent.append(entry)
        if entry is not None:
            self._bad[entry] += 1
            self._bad_total += 1
        if len(self._recent) > self.window:
            old = self._recent.popleft()
            if old is not None:
                self._bad_total -= 1
                self._bad[old] -= 1
                if not self._bad[old]:
                    del self._bad[old]

    @property
    def degraded(self) -> bool:
        seen = len(self._recent)
        return seen >= self.min_messages and self._bad_total > self.threshold * seen

    def status(self) -> GuardStatus:
        seen = len(self._recent)
        top = self._bad.most_common(1)
        reason, fld = top[0][0] if top else (None, None)
        return GuardStatus(
            status="degraded" if self.degraded else "ok",
            share=round(self._bad_total / seen, 4) if seen else 0.0,
            dead_lettered=self._bad_total, window=seen, threshold=self.threshold,
            top_reason=reason, top_field=None if fld == _NO_FIELD else fld,
        )

    def should_log(self, now_s: float) -> bool:
        """True when degraded and no line was logged in the last ``log_every_s`` seconds."""
        if not self.degraded:
            return False
        if self._last_log_s is not None and now_s - self._last_log_s < self.log_every_s:
            return False
        self._last_log_s = now_s
        return True


def _bump(counts: dict[str, dict[str, int]], field: str, reason: str) -> None:
    inner = counts.get(field)
    if inner is None:
        if sum(len(v) for v in counts.values()) >= MAX_KEYS:
            field, reason = "other", "other"
        inner = counts.setdefault(field, {})
    if reason not in inner and sum(len(v) for v in counts.values()) >= MAX_KEYS:
        reason = "other"
    inner[reason] = inner.get(reason, 0) + 1


class InputQuality:
    """What one worker knows about its input: the guard plus cumulative drop / DLQ counts."""

    def __init__(self, guard: DlqGuard | None = None) -> None:
        self.guard = guard or DlqGuard()
        self.dropped: dict[str, dict[str, int]] = {}
        self.dead: dict[str, dict[str, int]] = {}
        self.drops_total = 0

    def accepted(self, dropped: Iterable[tuple[str, str]] = ()) -> None:
        """An input message that decoded, with the optional fields it had to drop."""
        self.guard.observe(True)
        for field, reason in dropped:
            self.drops_total += 1
            _bump(self.dropped, field, reason)

    def rejected(self, reason: str, field: str | None = None) -> None:
        """An input message that went to the dead-letter topic."""
        self.guard.observe(False, reason, field)
        _bump(self.dead, reason, field or _NO_FIELD)

    def snapshot(self) -> dict[str, Any]:
        """For ``/stats``: ``input_status``, the guard, and the counts by field and reason."""
        status = self.guard.status()
        return {"input_status": status.status, "dlq_guard": status.to_dict(),
                "dropped_fields": {f: dict(r) for f, r in self.dropped.items()},
                "dropped_total": self.drops_total,
                "dead_lettered": {r: dict(f) for r, f in self.dead.items()}}
