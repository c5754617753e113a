"""Fitting the additive log-odds model on calibration data (:mod:`.collect`).

The model is ``logit(risk) = prior + Σ_j β_j · ramp_j`` with every ``β_j`` constrained to its
ramp's sign (evidence ≥ 0, trust ≤ 0), so each signal's effect is monotone and its contribution
is an explanation. It is an L2-regularised logistic regression (L-BFGS-B with bounds), with

* **sample weights** that make every ordinary customer count once (look-alikes twice: they are
  the hard negatives) and every campaign count by its accounts up to 5, whatever their volume,
  with both classes balanced;
* the **regularisation** chosen by cross-validation grouped by simulated run, from
  :data:`L2_GRID` (nothing weaker than 1e-4: weaker fits give extreme, unstable weights);
* the **prior** then placed so that *medium* (risk 0.6) is the lowest level reached by at most
  ``target_fpr`` of ordinary customers (each customer's highest score over all its scoring
  points, as an alert needs only one).

>>> rng = np.random.default_rng(0)
>>> x = rng.random((400, 2)); y = (x[:, 0] + 0.1 * rng.random(400) > 0.6).astype(float)
>>> b, beta = fit_logistic(x, y, np.full(400, 1 / 400), 1e-3, (1, 1))
>>> bool(beta[0] > 5 * beta[1]), bool(beta.min() >= 0)
(True, True)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from streamer.calibration.collect import FEATURES, Array, Dataset
from streamer.core.scoring import (
    RAMP_BY_NAME,
    SEVERITY_THRESHOLDS,
    Weights,
    logit,
)

L2_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2)  # weaker gives extreme, unstable weights
MEDIUM_LOGIT = logit(dict(SEVERITY_THRESHOLDS)["medium"])


def sample_weights(data: Dataset) -> Array:
    """Per-row weights (see module docstring), summing to 1."""
    n_cust = len(data.customers)
    rows = np.bincount(data.group, minlength=n_cust).astype(float)
    per_customer = np.zeros(n_cust)
    accounts: dict[str, list[int]] = {}
    for i, c in enumerate(data.customers):
        if rows[i] == 0:
            continue
        if c.role == "campaign" and c.campaign is not None:
            accounts.setdefault(c.campaign, []).append(i)
        else:
            per_customer[i] = 2.0 if c.lookalike else 1.0
    for members in accounts.values():
        for i in members:
            per_customer[i] = min(len(members), 5) / len(members)
    w = per_customer[data.group] / np.maximum(rows[data.group], 1.0)
    pos, neg = w[data.y == 1].sum(), w[data.y == 0].sum()
    if pos > 0 and neg > 0:
        w = np.where(data.y == 1, w * (neg / pos), w)
    total = w.sum()
    return np.asarray(w / total if total > 0 else w, dtype=np.float64)


def fit_logistic(x: Array, y: Array, w: Array, l2: float, signs: Sequence[int]
                 ) -> tuple[float, Array]:
    """Weighted, L2-regularised logistic regression with each coefficient's sign fixed."""
    k = x.shape[1]

    def objective(theta: Array) -> tuple[float, Array]:
        b, beta = theta[0], theta[1:]
        z = b + x @ beta
        loss = float(np.sum(w * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * float(beta @ beta)
        g = w * (1.0 / (1.0 + np.exp(-z)) - y)
        grad = np.concatenate([[g.sum()], x.T @ g + l2 * beta])
        return loss, grad

    bounds = [(None, None)] + [((0.0, None) if s > 0 else (None, 0.0)) for s in signs]
    theta0 = np.zeros(k + 1)
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 2000})
    theta = np.asarray(res.x, dtype=np.float64)
    return float(theta[0]), theta[1:]


def _log_loss(x: Array, y: Array, w: Array, b: float, beta: Array) -> float:
    z = b + x @ beta
    return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) / max(w.sum(), 1e-12))


def choose_l2(data: Dataset, w: Array, signs: Sequence[int], folds: int = 3
              ) -> tuple[float, dict[str, float]]:
    """The L2 strength of :data:`L2_GRID` with the best log loss, cross-validated by run."""
    fold = data.run % folds
    scores: dict[str, float] = {}
    for l2 in L2_GRID:
        losses = []
        for f in range(folds):
            train, test = fold != f, fold == f
            if not train.any() or not test.any():
                continue
            b, beta = fit_logistic(data.x[train], data.y[train], w[train], l2, signs)
            losses.append(_log_loss(data.x[test], data.y[test], w[test], b, beta))
        scores[f"{l2:g}"] = float(np.mean(losses)) if losses else math.inf
    best = min(L2_GRID, key=lambda v: scores[f"{v:g}"])
    return best, scores


def customer_max(data: Dataset, z: Array) -> Array:
    """Each customer's highest score over its rows (``-inf`` without rows)."""
    out = np.full(len(data.customers), -np.inf)
    np.maximum.at(out, data.group, z)
    return out


def medium_threshold(data: Dataset, z: Array, target_fpr: float) -> float:
    """The lowest score that at most ``target_fpr`` of ordinary customers reach."""
    top = customer_max(data, z)
    ordinary = np.array([c.role == "ordinary" for c in data.customers]) & np.isfinite(top)
    scores = np.sort(top[ordinary])[::-1]
    allowed = math.floor(target_fpr * scores.size)
    if scores.size == 0:
        return 0.0
    if allowed >= scores.size:
        return float(scores[-1])
    return float(np.nextafter(scores[allowed], np.inf))


def detection(data: Dataset, z: Array, threshold: float) -> dict[str, Any]:
    """Campaigns and accounts reaching ``threshold``; ordinary / look-alike customers too."""
    top = customer_max(data, z)
    hit = top >= threshold
    camp: dict[str, bool] = {}
    acc = [0, 0]
    ordinary = [0, 0]
    lookalike = [0, 0]
    for i, c in enumerate(data.customers):
        if not np.isfinite(top[i]):
            continue
        if c.role == "campaign" and c.campaign is not None:
            camp[c.campaign] = camp.get(c.campaign, False) or bool(hit[i])
            acc[0] += int(hit[i])
            acc[1] += 1
        else:
            ordinary[0] += int(hit[i])
            ordinary[1] += 1
            if c.lookalike:
                lookalike[0] += int(hit[i])
                lookalike[1] += 1
    return {
        "campaigns_detected": sum(camp.values()), "campaigns": len(camp),
        "accounts_detected": acc[0], "accounts": acc[1],
        "ordinary_flagged": ordinary[0], "ordinary": ordinary[1],
        "lookalikes_flagged": lookalike[0], "lookalikes": lookalike[1],
    }


@dataclass(frozen=True, slots=True)
class FitReport:
    weights: Weights
    l2: float
    cv: dict[str, float]
    before: dict[str, Any]
    after: dict[str, Any]


def fit(data: Dataset, *, seed: int, target_fpr: float = 0.005,
        reference: Weights | None = None, description: dict[str, Any] | None = None,
        today: dt.date | None = None) -> FitReport:
    """Fit the weights on ``data`` (see module docstring); ``reference`` (the weights the data
    were collected with) is measured on the same data for comparison."""
    signs = [RAMP_BY_NAME[name].sign for name in FEATURES]
    w = sample_weights(data)
    l2, cv = choose_l2(data, w, signs)
    b, beta = fit_logistic(data.x, data.y, w, l2, signs)
    z = b + data.x @ beta
    threshold = medium_threshold(data, z, target_fpr)
    prior = b + (MEDIUM_LOGIT - threshold)
    after = detection(data, z, threshold)
    before: dict[str, Any] = {}
    if reference is not None:
        ref = np.asarray([reference.weights.get(n, 0.0) for n in FEATURES])
        before = detection(data, reference.prior + data.x @ ref, MEDIUM_LOGIT)
    weights = {name: round(float(v), 4) for name, v in zip(FEATURES, beta, strict=True)}
    meta = {
        "model": "sign-constrained L2 logistic regression over evidence ramps "
                 "(streamer.calibration.fit)",
        "fitted_on": (today or dt.datetime.now(dt.UTC).date()).isoformat(),
        "seed": seed,
        "data": {**(description or {}), "rows": int(data.y.size),
                 "positive_rows": int(data.y.sum()), "customers": len(data.customers),
                 "events": data.events},
        "l2": l2, "cross_validated_log_loss": cv,
        "target_fpr": target_fpr,
        "medium_at": "the lowest score at most target_fpr of ordinary calibration customers "
                     "reach (max over each customer's scoring points)",
        "calibration": {"fitted": after, "reference": before},
    }
    return FitReport(Weights(round(prior, 4), weights, meta), l2, cv, before, after)
