"""Alert lifecycle: one alert per customer episode, escalation, resolution after quiet.

An *episode* opens when a customer's risk first reaches *low*; it escalates (same ``alert_id``)
each time the severity rises; it resolves after ``QUIET_MS`` of event time without risk at
*low* or above. Nothing is emitted while the severity stays where it was, so there are no alert
storms. The ``alert_id`` is a hash of the customer and the episode number, so re-emission after a
restart carries the same id and two episodes never share one.

>>> ep = Episode()
>>> ep.update("c1", "low", 1_000)
'open'
>>> ep.update("c1", "low", 2_000) is None
True
>>> ep.update("c1", "high", 3_000)
'escalated'
>>> ep.update("c1", "none", 3_000 + QUIET_MS)
'resolved'
>>> ep.alert_id == episode_alert_id("c1", 1), ep.number
(True, 1)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from streamer.core.outputs import SEVERITIES

QUIET_MS = 2 * 3_600_000
_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def episode_alert_id(customer_id: str, number: int) -> str:
    """Deterministic alert id of a customer's ``number``-th episode."""
    digest = hashlib.blake2b(f"{customer_id}\x00{number}".encode(), digest_size=10).hexdigest()
    return f"xr_{digest}"


def rank(severity: str) -> int:
    """Rank of a severity name (``none`` and unknown names rank 0)."""
    return _RANK.get(severity, 0)


#: the severity from which a human should look (the README's contract)
ACTIONABLE = "medium"


def actionable(severity: object) -> bool:
    """Is this severity ``medium`` or above?

    >>> actionable("high"), actionable("low"), actionable(None)
    (True, False, False)
    """
    return isinstance(severity, str) and rank(severity) >= rank(ACTIONABLE)


@dataclass(slots=True)
class Episode:
    """The alert episode state of one customer."""

    number: int = 0
    is_open: bool = False
    severity: str = "none"
    started_ms: int = 0
    last_hot_ms: int = 0
    alert_id: str = ""

    def update(self, customer_id: str, severity: str, ts_ms: int) -> str | None:
        """Fold in the current severity; return the status to emit, or ``None``."""
        hot = rank(severity) >= rank("low")
        if not self.is_open:
            if not hot:
                return None
            self.number += 1
            self.is_open, self.severity = True, severity
            self.started_ms = self.last_hot_ms = ts_ms
            self.alert_id = episode_alert_id(customer_id, self.number)
            return "open"
        if hot:
            self.last_hot_ms = max(self.last_hot_ms, ts_ms)
            if rank(severity) > rank(self.severity):
                self.severity = severity
                return "escalated"
            return None
        return self.maybe_resolve(ts_ms)

    def maybe_resolve(self, ts_ms: int) -> str | None:
        """Resolve an open episode after ``QUIET_MS`` of event time without risk."""
        if self.is_open and ts_ms - self.last_hot_ms >= QUIET_MS:
            self.is_open = False
            return "resolved"
        return None

    def force_resolve(self) -> str | None:
        """Resolve now (e.g. the customer was allowlisted)."""
        if not self.is_open:
            return None
        self.is_open = False
        return "resolved"
