"""Fitting the additive log-odds model on calibration data (:mod:`.collect`).

The model is ``logit(risk) = prior + Σ_j β_j · ramp_j`` with every ``β_j`` constrained to its
ramp's sign (evidence ≥ 0, trust ≤ 0), so each signal's effect is monotone and its contribution
is an explanation. Two objectives fit the ``β`` (L-BFGS-B with bounds, analytic gradients):

* ``bag`` — a **multiple-instance** logistic loss that matches the decision rule
  (a customer is alerted on when *any* of its scoring points reaches medium): each customer is
  a bag scored by a smooth maximum of its points' log-odds,
  ``s = T · log Σ_r exp(z_r / T)`` (log-sum-exp with temperature ``T``; ``T → 0`` is the max),
  and the bag's label is whether the customer is a campaign account. A campaign account's early
  points, before evidence has built up, are then not penalised for being low, and an ordinary
  customer's single worst point is what counts against it;
* ``point`` (the default, and the shipped weights) — the earlier per-point logistic
  regression: every scoring point of a campaign account labelled positive, every point of an
  ordinary customer negative. ``bag`` cross-validates slightly better on calibration data, but
  its weights lean on the per-account signals (``account_risk``) and break documented
  behaviour (a hydra head or a single signal alone reaching medium), so it is not the
  default;

both with

* **sample weights** that make every ordinary customer count once (look-alikes twice: they are
  the hard negatives) and every campaign count by its accounts up to 5, whatever their volume,
  with both classes balanced;
* the **regularisation** chosen by cross-validation grouped by simulated run, from
  :data:`L2_GRID` (nothing weaker than 1e-4: weaker fits give extreme, unstable weights), and
  for ``bag`` the temperature from :data:`TEMPERATURE_GRID`, by the per-customer decision:
  campaigns detected on the held-back runs with medium placed at ``target_fpr`` of their
  ordinary customers (ties: accounts detected, then the stronger L2 and the higher
  temperature). ``point`` keeps its earlier choice, by per-point log loss, so it reproduces the
  earlier weights; the decision figures are computed for it too;
* the **prior** then placed so that *medium* (risk 0.6) is the lowest level reached by at most
  ``target_fpr`` of ordinary customers (each customer's highest score over all its scoring
  points, as an alert needs only one).

>>> rng = np.random.default_rng(0)
>>> x = rng.random((400, 2)); y = (x[:, 0] + 0.1 * rng.random(400) > 0.6).astype(float)
>>> b, beta = fit_logistic(x, y, np.full(400, 1 / 400), 1e-3, (1, 1))
>>> bool(beta[0] > 5 * beta[1]), bool(beta.min() >= 0)
(True, True)
>>> group = np.arange(400) // 4; bag_y = np.bincount(group, y) > 0
>>> b, beta = fit_bag(x, group, bag_y.astype(float), np.full(100, 1 / 100), 1e-3, (1, 1), 0.5)
>>> bool(beta[0] > 5 * beta[1]), bool(beta.min() >= 0)
(True, True)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit

from streamer.calibration.collect import FEATURES, Array, Dataset
from streamer.core.scoring import (
    RAMP_BY_NAME,
    SEVERITY_THRESHOLDS,
    Weights,
    logit,
)

L2_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2)  # weaker gives extreme, unstable weights
#: Temperatures of the bag objective's smooth maximum (lower: closer to the max).
TEMPERATURE_GRID: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
OBJECTIVES: tuple[str, ...] = ("bag", "point")
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


def bag_weights(data: Dataset, w: Array) -> tuple[Array, Array]:
    """Per-customer labels (campaign account or not) and weights (the sum of its rows' ``w``:
    the same customer counts of :func:`sample_weights`)."""
    n = len(data.customers)
    bag_y = np.array([float(c.role == "campaign") for c in data.customers])
    return bag_y, np.bincount(data.group, weights=w, minlength=n).astype(np.float64)


def _bags(group: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                                  npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows ordered by bag: the order, each bag's first position, its row count and its id."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]])) if g.size else \
        np.zeros(0, dtype=np.int64)
    counts = np.diff(np.concatenate([starts, [g.size]]))
    return order, starts, counts, g[starts]


def smooth_max(z: Array, group: npt.NDArray[np.int64], temperature: float
               ) -> tuple[Array, npt.NDArray[np.int64]]:
    """Each bag's ``T · log Σ exp(z / T)`` over its rows, with the bag ids (those with rows).

    >>> s, ids = smooth_max(np.array([0.0, 5.0, 1.0]), np.array([0, 0, 1]), 0.1)
    >>> [round(float(v), 3) for v in s], ids.tolist()
    ([5.0, 1.0], [0, 1])
    """
    order, starts, counts, ids = _bags(group)
    u = z[order] / temperature
    m = np.maximum.reduceat(u, starts)
    total = np.add.reduceat(np.exp(u - np.repeat(m, counts)), starts)
    return temperature * (m + np.log(total)), ids


def bag_objective(x: Array, group: npt.NDArray[np.int64], bag_y: Array, bag_w: Array,
                  l2: float, temperature: float) -> Callable[[Array], tuple[float, Array]]:
    """The multiple-instance loss of ``theta = (b, β)`` and its gradient (see module docstring):
    ``Σ_bags w · (log(1 + e^s) - y · s) + l2/2 · |β|²`` with ``s`` the bag's smooth maximum;
    ``∂s/∂z_r`` is the softmax of the bag's ``z / T``."""
    order, starts, counts, ids = _bags(group)
    xs = x[order]
    yb, wb = bag_y[ids], bag_w[ids]

    def objective(theta: Array) -> tuple[float, Array]:
        b, beta = theta[0], theta[1:]
        u = (b + xs @ beta) / temperature
        m = np.maximum.reduceat(u, starts)
        e = np.exp(u - np.repeat(m, counts))
        total = np.add.reduceat(e, starts)
        s = temperature * (m + np.log(total))
        loss = float(np.sum(wb * (np.logaddexp(0.0, s) - yb * s))) \
            + 0.5 * l2 * float(beta @ beta)
        gs = wb * (expit(s) - yb)
        g = np.repeat(gs / total, counts) * e
        grad = np.concatenate([[g.sum()], xs.T @ g + l2 * beta])
        return loss, grad

    return objective


def fit_bag(x: Array, group: npt.NDArray[np.int64], bag_y: Array, bag_w: Array, l2: float,
            signs: Sequence[int], temperature: float) -> tuple[float, Array]:
    """Sign-constrained, L2-regularised multiple-instance logistic regression: each bag (the
    rows of one ``group``) scored by the smooth maximum of its rows' log-odds.

    The loss is not convex in the positive bags (a campaign's best point depends on the
    weights): from all-zero weights the fit can settle on a signal that is high on *every*
    point of a campaign but also peaks once in ordinary customers, and never find the signal
    that only a campaign's late points show. So it starts twice, from zero and from every
    weight at ±1 (its sign), and keeps the lower loss: deterministic."""
    objective = bag_objective(x, group, bag_y, bag_w, l2, temperature)
    bounds = [(None, None)] + [((0.0, None) if s > 0 else (None, 0.0)) for s in signs]
    starts = (np.zeros(x.shape[1] + 1),
              np.concatenate([[0.0], np.where(np.asarray(signs) > 0, 1.0, -1.0)]))
    best: tuple[float, Array] | None = None
    for theta0 in starts:
        res = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 5000})
        if best is None or float(res.fun) < best[0]:
            best = (float(res.fun), np.asarray(res.x, dtype=np.float64))
    assert best is not None
    theta = best[1]
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


def _fit_rows(data: Dataset, w: Array, rows: npt.NDArray[np.bool_], signs: Sequence[int],
              objective: str, l2: float, temperature: float) -> tuple[float, Array]:
    if objective == "point":
        return fit_logistic(data.x[rows], data.y[rows], w[rows], l2, signs)
    bag_y, bag_w = bag_weights(data, w * rows)
    return fit_bag(data.x[rows], data.group[rows], bag_y, bag_w, l2, signs, temperature)


def cross_validate_decision(data: Dataset, w: Array, signs: Sequence[int], objective: str,
                            l2: float, temperature: float, target_fpr: float, folds: int = 3
                            ) -> dict[str, float]:
    """The per-customer decision, cross-validated by run: fit on the other runs, place medium
    at ``target_fpr`` of the held-back runs' ordinary customers (max over each customer's
    points), count the campaigns (any account) and accounts reaching it; pooled over folds."""
    fold = data.run % folds
    tot = {"campaigns_detected": 0, "campaigns": 0, "accounts_detected": 0, "accounts": 0,
           "ordinary_flagged": 0, "ordinary": 0}
    for f in range(folds):
        train, test = fold != f, fold == f
        if not train.any() or not test.any():
            continue
        b, beta = _fit_rows(data, w, train, signs, objective, l2, temperature)
        z = np.where(test, b + data.x @ beta, -np.inf)
        d = detection(data, z, medium_threshold(data, z, target_fpr))
        for k in tot:
            tot[k] += d[k]
    return {
        "campaign_recall": tot["campaigns_detected"] / max(tot["campaigns"], 1),
        "account_recall": tot["accounts_detected"] / max(tot["accounts"], 1),
        "ordinary_fpr": tot["ordinary_flagged"] / max(tot["ordinary"], 1),
        **{k: float(v) for k, v in tot.items()},
    }


def _key(objective: str, l2: float, temperature: float) -> str:
    return f"l2={l2:g}" if objective == "point" else f"l2={l2:g},T={temperature:g}"


def choose_hyperparameters(data: Dataset, w: Array, signs: Sequence[int], objective: str,
                           target_fpr: float, folds: int = 3
                           ) -> tuple[float, float, dict[str, dict[str, float]]]:
    """L2 (and, for ``bag``, the temperature) by the cross-validated per-customer decision
    (:func:`cross_validate_decision`); ``point`` keeps its choice by per-point log loss
    (:func:`choose_l2`). Returns the choice and every grid point's figures."""
    temps = TEMPERATURE_GRID if objective == "bag" else (1.0,)
    figures: dict[str, dict[str, float]] = {}
    for l2 in L2_GRID:
        for t in temps:
            figures[_key(objective, l2, t)] = cross_validate_decision(
                data, w, signs, objective, l2, t, target_fpr, folds)
    if objective == "point":
        l2, losses = choose_l2(data, w, signs, folds)
        for v in L2_GRID:
            figures[_key("point", v, 1.0)]["point_log_loss"] = losses[f"{v:g}"]
        return l2, 1.0, figures
    best = max(((l2, t) for l2 in L2_GRID for t in temps), key=lambda c: (
        figures[_key(objective, *c)]["campaign_recall"],
        figures[_key(objective, *c)]["account_recall"], c[0], c[1]))
    return best[0], best[1], figures


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
    cv: dict[str, dict[str, float]]
    before: dict[str, Any]
    after: dict[str, Any]
    objective: str = "point"
    temperature: float | None = None
    compared: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def fit(data: Dataset, *, seed: int, target_fpr: float = 0.005,
        reference: Weights | None = None, description: dict[str, Any] | None = None,
        today: dt.date | None = None, objective: str = "point", compare: bool = False
        ) -> FitReport:
    """Fit the weights on ``data`` with ``objective`` (see module docstring); ``reference``
    (the weights the data were collected with) is measured on the same data for comparison.
    ``compare`` also cross-validates the other objective on the same data (figures only)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
    signs = [RAMP_BY_NAME[name].sign for name in FEATURES]
    w = sample_weights(data)
    l2, temperature, cv = choose_hyperparameters(data, w, signs, objective, target_fpr)
    compared = {other: choose_hyperparameters(data, w, signs, other, target_fpr)[2]
                for other in OBJECTIVES if compare and other != objective}
    b, beta = _fit_rows(data, w, np.ones(data.y.size, dtype=bool), signs, objective, l2,
                        temperature)
    z = b + data.x @ beta
    threshold = medium_threshold(data, z, target_fpr)
    prior = b + (MEDIUM_LOGIT - threshold)
    after = detection(data, z, threshold)
    before: dict[str, Any] = {}
    if reference is not None:
        ref = np.asarray([reference.weights.get(n, 0.0) for n in FEATURES])
        before = detection(data, reference.prior + data.x @ ref, MEDIUM_LOGIT)
    weights = {name: round(float(v), 4) for name, v in zip(FEATURES, beta, strict=True)}
    model = ("sign-constrained L2 logistic regression over evidence ramps "
             "(streamer.calibration.fit)") if objective == "point" else (
        "sign-constrained L2 multiple-instance logistic regression over evidence ramps, each "
        "customer scored by a log-sum-exp smooth maximum of its points (streamer.calibration.fit)")
    objective_meta: dict[str, Any] = {
        "name": objective,
        "loss": ("per scoring point: weighted log loss, every point of a campaign account "
                 "positive, every point of an ordinary customer negative") if objective == "point"
        else ("per customer (bag): weighted log loss of s = T * log(sum over the customer's "
              "scoring points of exp(logit / T)); label: campaign account or not"),
        "selection": ("L2 by 3-fold run-grouped CV of the per-point log loss" if objective ==
                      "point" else "L2 and T by 3-fold run-grouped CV of the per-customer "
                      "decision (campaign recall at target_fpr of the held-back ordinary "
                      "customers; ties: account recall, stronger L2, higher T)"),
    }
    if objective == "bag":
        objective_meta["temperature"] = temperature
    meta = {
        "model": model,
        "objective": objective_meta,
        "fitted_on": (today or dt.datetime.now(dt.UTC).date()).isoformat(),
        "seed": seed,
        "data": {**(description or {}), "rows": int(data.y.size),
                 "positive_rows": int(data.y.sum()), "customers": len(data.customers),
                 "events": data.events},
        "l2": l2, "cross_validation": {objective: cv, **compared},
        "target_fpr": target_fpr,
        "medium_at": "the lowest score at most target_fpr of ordinary calibration customers "
                     "reach (max over each customer's scoring points)",
        "calibration": {"fitted": after, "reference": before},
    }
    return FitReport(Weights(round(prior, 4), weights, meta), l2, cv, before, after, objective,
                     temperature if objective == "bag" else None, compared)
