"""The population view: what "normal" looks like across all customers.

A brand-new account has no history of its own; it is judged against everyone. The population
view holds

* half-space trees over per-window signal vectors of all customers (one instance for the whole
  population, so their cost is paid once, not per customer),
* running P² medians of every signal — the ``baseline`` shown in alert reasons,
* when each model name was first seen, to recognise traffic moving to a newly released model.

In the Kafka shell there is one population view per input partition (customers are hashed to
partitions uniformly, so each partition's view is a random sample of the population).

Only windows that were *not* flagged are learnt (never learn from what you flag).

The models are River's ``anomaly.HalfSpaceTrees`` and ``stats.Quantile`` in behaviour, kept as
the plain-data equivalents of :mod:`streamer.core.estimators` so that stored state is numbers
only (same scores for the same inputs; tested against River).

>>> pop = Population()
>>> for i in range(50):
...     pop.learn_window({"requests_per_hour": 10.0 + i % 5}, ts_ms=i)
>>> round(pop.baseline("requests_per_hour"))
12
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from streamer.core.estimators import HalfSpaceTrees, Quantile
from streamer.core.kernels import clamped as _clamped
from streamer.core.scoring import LearntOffsets

#: Signals the population model sees, with the range used to scale them into [0, 1].
POPULATION_LIMITS: dict[str, tuple[float, float]] = {
    "requests_per_hour": (0.0, 2000.0),
    "harvest_rate": (0.0, 1.0),
    "cot_rate": (0.0, 1.0),
    "rubric_rationale_rate": (0.0, 1.0),
    "self_instruct_rate": (0.0, 1.0),
    "logprob_probe_rate": (0.0, 1.0),
    "novel_rate": (0.0, 1.0),
    "mean_log_output": (0.0, 9.0),
    "mean_log_input": (0.0, 11.0),
    "topic_entropy": (0.0, 3.2),
    "settings_entropy": (0.0, 3.6),
    "inter_arrival_cv": (0.0, 3.0),
    "active_hours_last_day": (0.0, 24.0),
}
#: The model's feature order (sorted names, as the trees take them) with their ranges.
_SORTED_NAMES = tuple(sorted(POPULATION_LIMITS))
_SORTED_LIMITS = tuple((name, *POPULATION_LIMITS[name]) for name in _SORTED_NAMES)
MODEL_NEW_AFTER_WATCHING_MS = 3_600_000
MAX_MODELS = 64


@dataclass(slots=True)
class Population:
    """Population-level models (see module docstring)."""

    seed: int = 7
    hst: HalfSpaceTrees = field(init=False)
    medians: dict[str, Quantile] = field(init=False)
    windows_learnt: int = 0
    started_ms: int | None = None
    model_first_seen: dict[str, int] = field(default_factory=dict)
    #: Shared scoring corrections taught by analyst verdicts (plain data; see scoring).
    learnt: LearntOffsets = field(default_factory=LearntOffsets)

    def __post_init__(self) -> None:
        self.hst = HalfSpaceTrees(
            n_trees=15, height=8, window_size=200, limits=dict(POPULATION_LIMITS), seed=self.seed
        )
        self.medians = {name: Quantile(0.5) for name in POPULATION_LIMITS}

    def _vector(self, signals: dict[str, float]) -> dict[str, float]:
        out = {}
        for name, (lo, hi) in POPULATION_LIMITS.items():
            out[name] = min(hi, max(lo, signals.get(name, lo)))
        return out

    def score_window(self, signals: dict[str, float]) -> float:
        """Population anomaly score of one window's signals in [0, 1] (0 until warmed up)."""
        if self.windows_learnt < 200:
            return 0.0
        hst = self.hst
        if hst.features != _SORTED_NAMES:  # pragma: no cover - trees of another layout
            return float(hst.score_one(self._vector(signals)))
        return float(hst.score_values(self._values(signals)))

    def _values(self, signals: dict[str, float]) -> list[float | None]:
        """:meth:`_vector` as a list in the trees' feature order (a kernel:
        :func:`streamer.core.kernels.clamped`)."""
        return cast("list[float | None]", _clamped(signals, _SORTED_LIMITS))

    def learn_window(self, signals: dict[str, float], ts_ms: int) -> None:
        if self.hst.features == _SORTED_NAMES:
            self.hst.learn_values(self._values(signals))
        else:  # the first window: the trees take their features from it
            self.hst.learn_one(self._vector(signals))
        for name, q in self.medians.items():
            if name in signals:
                q.update(signals[name])
        self.windows_learnt += 1

    def baseline(self, name: str) -> float:
        """Population median of a signal (0 when unknown)."""
        q = self.medians.get(name)
        value = q.get() if q is not None else None
        return float(value) if value is not None else 0.0

    def observe_model(self, model: str, ts_ms: int) -> int | None:
        """Record a request to ``model``; return its age in ms if it is *newly released*.

        A model counts as newly released only if it first appeared after the population had
        been watching for an hour (otherwise every model looks new at start-up).
        """
        if self.started_ms is None:
            self.started_ms = ts_ms
        first = self.model_first_seen.get(model)
        if first is None:
            if len(self.model_first_seen) >= MAX_MODELS:
                oldest = min(self.model_first_seen, key=self.model_first_seen.__getitem__)
                del self.model_first_seen[oldest]
            self.model_first_seen[model] = first = ts_ms
        if first - self.started_ms < MODEL_NEW_AFTER_WATCHING_MS:
            return None
        return max(0, ts_ms - first)
