"""Curves from evaluation runs: detection against a campaign parameter, ROC and PR. Pure.

Detection points group the campaigns of one or more runs by a parameter their label carries
(``labels["campaigns"][id]["params"]`` or the campaign's own fields) and report, per group, the
share of campaigns detected, the share of their accounts detected (hydras), and the median
number of the account's own queries before its first flag (over detected accounts).

ROC and PR curves score each customer by its **maximum risk** over the run (alerts and feature
records; 0 when it has none): positives are campaign accounts, negatives ordinary customers.

>>> auc([0.0, 0.5, 1.0], [0.0, 1.0, 1.0])
0.75
>>> pts = roc_points([0.9, 0.8, 0.3, 0.1], [True, False, True, False])
>>> [(p.fpr, p.tpr) for p in pts]
[(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
>>> round(auc([p.fpr for p in pts], [p.tpr for p in pts]), 3)
0.75
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from streamer.evaluation.metrics import max_risk_by_customer, percentile
from streamer.evaluation.result import EvalResult


@dataclass(frozen=True, slots=True)
class DetectionPoint:
    """Detection of the campaigns sharing one (series, x)."""

    series: str
    x: float
    campaigns: int
    detected: int
    accounts: int
    accounts_detected: int
    median_queries: float | None
    median_minutes: float | None

    @property
    def recall(self) -> float:
        return self.detected / self.campaigns if self.campaigns else 0.0

    @property
    def account_recall(self) -> float:
        return self.accounts_detected / self.accounts if self.accounts else 0.0


Key = Callable[[dict[str, Any]], tuple[str, float] | None]


def detection_points(results: Iterable[EvalResult], key: Key) -> list[DetectionPoint]:
    """Group every campaign of ``results`` by ``key(campaign label)`` -> ``(series, x)``
    (``None`` skips the campaign) and measure each group, sorted by series then x."""
    groups: dict[tuple[str, float], list[tuple[Any, list[Any]]]] = defaultdict(list)
    for res in results:
        labels = res.labels.get("campaigns") or {}
        accounts: dict[str, list[Any]] = defaultdict(list)
        for acc in res.metrics.account_outcomes:
            accounts[acc.campaign_id].append(acc)
        for outcome in res.metrics.campaign_outcomes:
            k = key(labels.get(outcome.campaign_id) or {})
            if k is not None:
                groups[k].append((outcome, accounts[outcome.campaign_id]))
    points = []
    for (series, x), members in sorted(groups.items()):
        accs = [a for _, group in members for a in group]
        detected = [a for a in accs if a.detected]
        points.append(DetectionPoint(
            series=series, x=float(x), campaigns=len(members),
            detected=sum(1 for c, _ in members if c.detected),
            accounts=len(accs), accounts_detected=len(detected),
            median_queries=percentile([float(a.ttd_queries) for a in detected
                                       if a.ttd_queries is not None], 50),
            median_minutes=percentile([a.ttd_minutes for a in detected
                                       if a.ttd_minutes is not None], 50),
        ))
    return points


def param(name: str, series: str | Callable[[dict[str, Any]], str] = "all") -> Key:
    """A key reading ``params[name]`` (or the campaign field ``name``) as x; ``series`` is a
    constant or a function of the campaign label (e.g. its tactic).

    >>> param("rate", lambda c: c["tactic"])({"tactic": "t", "params": {"rate": 60}})
    ('t', 60.0)
    >>> param("rate")({"tactic": "t", "params": {}}) is None
    True
    """
    def key(camp: dict[str, Any]) -> tuple[str, float] | None:
        value = (camp.get("params") or {}).get(name, camp.get(name))
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        return (series(camp) if callable(series) else series), float(value)
    return key


@dataclass(frozen=True, slots=True)
class RocPoint:
    threshold: float
    fpr: float
    tpr: float
    precision: float


def roc_points(scores: Sequence[float], positive: Sequence[bool]) -> list[RocPoint]:
    """ROC/PR points at every distinct score (descending), from (0, 0) to (1, 1); tied
    scores move together."""
    pos = sum(1 for p in positive if p)
    neg = len(positive) - pos
    order = sorted(zip(scores, positive, strict=True), key=lambda sp: -sp[0])
    points = [RocPoint(float("inf"), 0.0, 0.0, 1.0)]
    tp = fp = 0
    i = 0
    while i < len(order):
        threshold = order[i][0]
        while i < len(order) and order[i][0] == threshold:
            tp += order[i][1]
            fp += not order[i][1]
            i += 1
        points.append(RocPoint(float(threshold), fp / neg if neg else 0.0,
                               tp / pos if pos else 0.0, tp / (tp + fp)))
    return points


def auc(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Area under a curve by the trapezoid rule (``xs`` ascending)."""
    return float(sum((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2 for i in range(1, len(xs))))


def average_precision(points: Sequence[RocPoint]) -> float:
    """Area under the PR curve as a step function (sum of precision x recall increments).

    >>> average_precision(roc_points([0.9, 0.8, 0.3, 0.1], [True, False, True, False]))
    0.8333333333333333
    """
    return float(sum((points[i].tpr - points[i - 1].tpr) * points[i].precision
                     for i in range(1, len(points))))


@dataclass(frozen=True, slots=True)
class Ranking:
    """Customer-level scores of one or more runs and their ROC/PR summary."""

    points: list[RocPoint]
    roc_auc: float
    pr_auc: float
    positives: int
    negatives: int


def customer_scores(results: Iterable[EvalResult]) -> tuple[list[float], list[bool]]:
    """Max risk per customer (0 when none) and whether it is a campaign account."""
    scores: list[float] = []
    positive: list[bool] = []
    for res in results:
        risk = max_risk_by_customer(res.alerts, res.features)
        for cid, info in (res.labels.get("customers") or {}).items():
            scores.append(risk.get(cid, 0.0))
            positive.append(info.get("role") == "campaign")
    return scores, positive


def ranking(results: Iterable[EvalResult]) -> Ranking:
    """ROC and PR over every labelled customer of ``results``.

    >>> from streamer.evaluation.result import EvalResult
    >>> labels = {"customers": {"a": {"role": "campaign"}, "b": {"role": "ordinary"}}}
    >>> r = EvalResult.build("x", 0, "offline", labels, [{"customer_id": "a", "risk": 0.9}],
    ...                      [], {}, 0, 1.0)
    >>> rk = ranking([r])
    >>> rk.roc_auc, rk.pr_auc, rk.positives, rk.negatives
    (1.0, 1.0, 1, 1)
    """
    scores, positive = customer_scores(results)
    pts = roc_points(scores, positive)
    return Ranking(pts, auc([p.fpr for p in pts], [p.tpr for p in pts]),
                   average_precision(pts), sum(positive), len(positive) - sum(positive))
