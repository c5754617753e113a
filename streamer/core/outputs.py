"""What the core emits: alerts, feature records, and the messages between its two stages.

All are plain frozen dataclasses with ``to_dict()`` giving the JSON contract; none ever holds
prompt text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from streamer.core.kernels import rounded as _rounded

DETECTOR_VERSION = "streamer-detector/0.1.0"
SEVERITIES: tuple[str, ...] = ("none", "low", "medium", "high", "critical")


@lru_cache(maxsize=4096)  # window bounds repeat: every record of a window has the same two
def rfc3339(ms: int) -> str:
    """Epoch milliseconds to RFC 3339 UTC.

    >>> rfc3339(1767225600123)
    '2026-01-01T00:00:00.123Z'
    """
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


#: the lifecycle statuses an alert record carries (see :mod:`streamer.core.alerts`)
ALERT_STATUSES: tuple[str, ...] = ("open", "escalated", "resolved")


@dataclass(frozen=True, slots=True)
class Reason:
    signal: str
    value: float
    baseline: float
    contribution: float
    description: str


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    cluster_id: str
    members: tuple[str, ...]
    shared: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "members": list(self.members),
                "shared": list(self.shared)}


@dataclass(frozen=True, slots=True)
class Alert:
    """One extraction-risk event (see the README's contract)."""

    alert_id: str
    customer_id: str
    risk: float
    severity: str
    status: str
    detected_at_ms: int
    trigger_event_id: str
    window_start_ms: int
    window_end_ms: int
    events_in_window: int
    events_total: int
    reasons: tuple[Reason, ...]
    tactics: tuple[str, ...]
    cluster: ClusterInfo | None
    detector_version: str = DETECTOR_VERSION

    def to_dict(self, emitted_at_ms: int | None = None) -> dict[str, Any]:
        """The alert contract; ``emitted_at`` is wall-clock and so is supplied by the shell."""
        return {
            "kind": "alert",
            "alert_id": self.alert_id,
            "customer_id": self.customer_id,
            "risk": round(self.risk, 4),
            "severity": self.severity,
            "status": self.status,
            "detected_at": rfc3339(self.detected_at_ms),
            "detected_at_ms": self.detected_at_ms,
            "trigger_event_id": self.trigger_event_id,
            "emitted_at": None if emitted_at_ms is None else rfc3339(emitted_at_ms),
            "window_start": rfc3339(self.window_start_ms),
            "window_end": rfc3339(self.window_end_ms),
            "events_in_window": self.events_in_window,
            "events_total": self.events_total,
            "reasons": [asdict(r) for r in self.reasons],
            "tactics": list(self.tactics),
            "cluster": None if self.cluster is None else self.cluster.to_dict(),
            "detector_version": self.detector_version,
        }


@dataclass(frozen=True, slots=True)
class FeatureRecord:
    """One customer's features and scores for one closed event-time window."""

    customer_id: str
    window_start_ms: int
    window_end_ms: int
    events_in_window: int
    events_total: int
    risk: float
    severity: str | None
    features: dict[str, float]
    detector_version: str = DETECTOR_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "features",
            "customer_id": self.customer_id,
            "window_start": rfc3339(self.window_start_ms),
            "window_end": rfc3339(self.window_end_ms),
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "events_in_window": self.events_in_window,
            "events_total": self.events_total,
            "risk": round(self.risk, 4),
            "severity": self.severity,
            "features": _rounded(self.features, 5),
            "detector_version": self.detector_version,
        }


@dataclass(frozen=True, slots=True)
class ClusterSignal:
    """Customer stage → cluster stage: one account's recent fingerprints and evidence.

    Routed by ``token`` (one message per shared fingerprint), so the cluster index for a token
    lives on exactly one partition.
    """

    token: str
    kind: str
    customer_id: str
    ts_ms: int
    event_id: str
    requests: int
    content_evidence: float
    account_risk: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ClusterVerdict:
    """Cluster stage → customer stage: "you act together with these accounts"."""

    customer_id: str
    ts_ms: int
    event_id: str
    cluster_id: str
    members: tuple[str, ...]
    shared: tuple[str, ...]
    evidence: float
    pooled_requests: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["members"] = list(self.members)
        d["shared"] = list(self.shared)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClusterVerdict:
        return cls(
            customer_id=str(d["customer_id"]), ts_ms=int(d["ts_ms"]), event_id=str(d["event_id"]),
            cluster_id=str(d["cluster_id"]), members=tuple(d["members"]),
            shared=tuple(d["shared"]), evidence=float(d["evidence"]),
            pooled_requests=int(d["pooled_requests"]),
        )


@dataclass(frozen=True, slots=True)
class Feedback:
    """An analyst verdict on a customer: ``false_positive`` | ``confirmed`` | ``allowlisted``."""

    customer_id: str
    verdict: str
    ts_ms: int
    expires_at_ms: int | None = None
    note: str = ""
    signals: tuple[str, ...] = field(default_factory=tuple)
