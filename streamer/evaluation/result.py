"""The outcome of evaluating one scenario through one path (offline replay or Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamer.evaluation.metrics import EvalMetrics, compute_metrics


@dataclass(slots=True)
class EvalResult:
    """Labels, detector outputs, per-customer event times, metrics and timings of one run.

    ``mode`` is ``"offline"`` or ``"kafka"``; ``extra`` holds path-specific facts (topics used,
    whether the Kafka run timed out, ...). ``wall_time_s`` covers detection: the replay offline,
    first produced event to last record consumed on the Kafka path (building the simulation and
    writing reports excluded).
    """

    scenario: str
    seed: int
    mode: str
    labels: dict[str, Any]
    alerts: list[dict[str, Any]]
    features: list[dict[str, Any]]
    event_times: dict[str, list[int]]
    events: int
    wall_time_s: float
    detector_version: str | None
    metrics: EvalMetrics
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Directory name of the report: the scenario, suffixed for the Kafka path.

        >>> r = EvalResult.build("smoke", 0, "kafka", {}, [], [], {}, 0, 1.0)
        >>> r.name, r.events_per_s
        ('smoke-kafka', 0.0)
        """
        return self.scenario if self.mode == "offline" else f"{self.scenario}-{self.mode}"

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_time_s if self.wall_time_s > 0 else 0.0

    @classmethod
    def build(
        cls,
        scenario: str,
        seed: int,
        mode: str,
        labels: dict[str, Any],
        alerts: list[dict[str, Any]],
        features: list[dict[str, Any]],
        event_times: dict[str, list[int]],
        events: int,
        wall_time_s: float,
        extra: dict[str, Any] | None = None,
    ) -> EvalResult:
        """Compute the metrics and take the detector version from the outputs."""
        version = next(
            (str(r["detector_version"]) for r in (*alerts, *features) if r.get("detector_version")),
            None,
        )
        return cls(
            scenario=scenario,
            seed=seed,
            mode=mode,
            labels=labels,
            alerts=alerts,
            features=features,
            event_times=event_times,
            events=events,
            wall_time_s=wall_time_s,
            detector_version=version,
            metrics=compute_metrics(labels, alerts, event_times, features),
            extra=dict(extra or {}),
        )

    def counts(self) -> dict[str, int]:
        m = self.metrics
        return {
            "events": self.events,
            "customers": m.customers,
            "ordinary_customers": m.ordinary_customers,
            "lookalike_customers": m.lookalike_customers,
            "campaigns": m.campaigns,
            "campaign_accounts": m.campaign_accounts,
            "alert_messages": len(self.alerts),
            "alert_ids": len({a.get("alert_id") for a in self.alerts}),
            "flagged_customers": m.flagged_customers,
            "feature_records": len(self.features),
        }

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report (``report.json``)."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "mode": self.mode,
            "detector_version": self.detector_version,
            "start_ms": self.labels.get("start_ms"),
            "end_ms": self.labels.get("end_ms"),
            "wall_time_s": round(self.wall_time_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            "counts": self.counts(),
            "metrics": self.metrics.to_dict(),
            "extra": self.extra,
        }
