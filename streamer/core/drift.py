"""Per-customer drift model: how far this window is from the customer's *own* normal.

One exponentially weighted mean and variance per tracked signal (River's ``stats.EWMean`` and
``stats.EWVar`` in behaviour, as the plain-data :mod:`streamer.core.estimators`) — a few hundred
bytes per customer, against 1.5 MB for a default HalfSpaceTrees. Scored before it
learns, and it never learns from a window that was flagged, so a patient attacker cannot
teach it that extraction is normal.

>>> d = CustomerDrift()
>>> for _ in range(12):
...     d.learn_one({"harvest_rate": 0.05, "cot_rate": 0.0, "requests_per_hour": 20.0})
>>> d.score_one({"harvest_rate": 0.05, "cot_rate": 0.0, "requests_per_hour": 20.0})[0]
0.0
>>> d.score_one({"harvest_rate": 0.9, "cot_rate": 0.8, "requests_per_hour": 20.0})[1]
'harvest_rate'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from streamer.core.estimators import EWMean, EWVar

DRIFT_SIGNALS: tuple[str, ...] = (
    "requests_per_hour",
    "harvest_rate",
    "cot_rate",
    "rubric_rationale_rate",
    "self_instruct_rate",
    "logprob_probe_rate",
    "mean_log_output",
    "topic_entropy",
)
FADING = 0.1
MIN_WINDOWS = 6
#: Floor on the standard deviation per signal, so a perfectly constant history does not turn
#: every tiny change into an infinite z-score.
STD_FLOOR: dict[str, float] = {"requests_per_hour": 5.0, "mean_log_output": 0.3,
                               "topic_entropy": 0.3}
#: (signal, std floor, scored on log1p) in scoring order; the request rate is compared on a
#: log scale with a floor of 0.5.
_SCORED: tuple[tuple[str, float, bool], ...] = tuple(
    (name, 0.5, True) if name == "requests_per_hour" else (name, STD_FLOOR.get(name, 0.1), False)
    for name in DRIFT_SIGNALS
)


@dataclass(slots=True)
class CustomerDrift:
    """EW mean/variance of a customer's window signals; z-score of the newest window."""

    windows: int = 0
    means: dict[str, EWMean] = field(default_factory=dict)
    variances: dict[str, EWVar] = field(default_factory=dict)

    def learn_one(self, signals: dict[str, float]) -> None:
        for name in DRIFT_SIGNALS:
            if name not in signals:
                continue
            value = signals[name]
            if name == "requests_per_hour":
                value = math.log1p(max(0.0, value))  # a rate is never negative
            self.means.setdefault(name, EWMean(FADING)).update(value)
            self.variances.setdefault(name, EWVar(FADING)).update(value)
        self.windows += 1

    def score_one(self, signals: dict[str, float]) -> tuple[float, str]:
        """(largest upward z-score, signal name); (0, "") until enough history."""
        if self.windows < MIN_WINDOWS:
            return (0.0, "")
        best, best_name = 0.0, ""
        means, variances = self.means, self.variances
        get, sqrt = signals.get, math.sqrt
        for name, floor, log_scaled in _SCORED:
            value = get(name)
            mean = means.get(name)
            var = variances.get(name)
            if value is None or mean is None or var is None:
                continue
            if log_scaled:
                value = math.log1p(max(0.0, value))
            v = var.sq_mean - var.mean * var.mean  # EWVar.get, inlined
            std = max(floor, sqrt(v if v > 0.0 else 0.0))
            z = (value - mean.mean) / std  # EWMean.get, inlined
            if z > best:
                best, best_name = z, name
        return (best, best_name)
