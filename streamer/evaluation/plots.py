"""Matplotlib (Agg) figures of one evaluation run, written as PNG files.

Each function takes an :class:`~streamer.evaluation.result.EvalResult` and a path, draws one
figure and closes it. Nothing is shown on screen.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from streamer.core.alerts import rank
from streamer.evaluation.metrics import alert_time_ms, max_risk_by_customer
from streamer.evaluation.result import EvalResult

MS_PER_HOUR = 3_600_000.0
MAX_CAMPAIGN_LINES = 12
MAX_ORDINARY_LINES = 6
_SEVERITY_COLOURS = {
    "low": "#9e9e9e", "medium": "#f0a500", "high": "#e0592a", "critical": "#b00020",
}


def severity_thresholds(result: EvalResult) -> dict[str, float]:
    """The detector's risk threshold per severity (low..critical).

    Taken from :data:`streamer.core.scoring.SEVERITY_THRESHOLDS` when the core provides it,
    otherwise estimated from the lowest risk observed per severity in this run.
    """
    with contextlib.suppress(ImportError, AttributeError, TypeError, ValueError):
        from streamer.core import scoring

        table = {str(name): float(value) for name, value in scoring.SEVERITY_THRESHOLDS}
        if table:
            return dict(sorted(table.items(), key=lambda kv: rank(kv[0])))
    return dict(result.metrics.severity_floors)


def _risk_series(result: EvalResult, customers: set[str]) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for rec in result.features:
        cid = rec.get("customer_id")
        if cid in customers and isinstance(rec.get("risk"), int | float):
            ts = rec.get("window_end_ms")
            if isinstance(ts, int):
                series[str(cid)].append((ts, float(rec["risk"])))
    for alert in result.alerts:
        cid = alert.get("customer_id")
        if cid in customers and isinstance(alert.get("risk"), int | float):
            with contextlib.suppress(Exception):
                series[str(cid)].append((alert_time_ms(alert), float(alert["risk"])))
    for points in series.values():
        points.sort()
    return series


def pick_customers(result: EvalResult) -> tuple[list[str], list[str]]:
    """Up to 12 campaign accounts (spread over campaigns, detected and missed) and the
    highest-risk ordinary customers."""
    by_campaign: dict[str, list[str]] = defaultdict(list)
    for acc in result.metrics.account_outcomes:
        by_campaign[acc.campaign_id].append(acc.customer_id)
    chosen: list[str] = []
    queues = [sorted(v) for _, v in sorted(by_campaign.items())]
    while queues and len(chosen) < MAX_CAMPAIGN_LINES:
        for q in queues:
            if q and len(chosen) < MAX_CAMPAIGN_LINES:
                chosen.append(q.pop(0))
        queues = [q for q in queues if q]
    campaign_ids = {a.customer_id for a in result.metrics.account_outcomes}
    risk = max_risk_by_customer(result.alerts, result.features)
    ordinary = sorted(
        (c for c in risk if c not in campaign_ids), key=lambda c: (-risk[c], c)
    )[:MAX_ORDINARY_LINES]
    return chosen, ordinary


def _time_unit(result: EvalResult) -> tuple[str, float]:
    """Minutes for scenarios up to 3 hours long, hours beyond."""
    start, end = result.labels.get("start_ms", 0), result.labels.get("end_ms", 0)
    span = float(end or 0) - float(start or 0)
    if span > 3 * MS_PER_HOUR:
        return "hours", MS_PER_HOUR
    return "minutes", MS_PER_HOUR / 60


def _hours(result: EvalResult, ms: float) -> float:
    """Event time relative to the scenario start, in the unit of :func:`_time_unit`."""
    start = result.labels.get("start_ms")
    origin = float(start) if isinstance(start, int | float) else 0.0
    return (ms - origin) / _time_unit(result)[1]


MAX_GANTT_ROWS = 16


def _campaign_windows(result: EvalResult) -> list[tuple[str, float, float]]:
    """(label, start, end) per campaign in plot units, by start time."""
    rows = []
    for cid, c in (result.labels.get("campaigns") or {}).items():
        tactic = str(c.get("tactic", "?"))
        label = cid if tactic in cid else f"{cid} ({tactic})"
        if c.get("hydra"):
            label += f", hydra: {len(c.get('accounts') or ())} accounts"
        rows.append((label, _hours(result, c["start_ms"]), _hours(result, c["end_ms"])))
    return sorted(rows, key=lambda r: (r[1], r[0]))


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge overlapping intervals.

    >>> _union([(3, 4), (0, 1), (0.5, 2)])
    [(0, 2), (3, 4)]
    """
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _decorate(ax: Any, windows: list[tuple[str, float, float]],
              thresholds: dict[str, float]) -> None:
    for lo, hi in _union([(w[1], w[2]) for w in windows]):
        ax.axvspan(lo, hi, color="#d62728", alpha=0.06, lw=0)
    for sev, value in thresholds.items():
        ax.axhline(value, ls="--", lw=0.8, color=_SEVERITY_COLOURS.get(sev, "grey"))
        ax.text(1.0, value, f" {sev}", transform=ax.get_yaxis_transform(), va="center",
                fontsize=7, color=_SEVERITY_COLOURS.get(sev, "grey"))
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("risk")
    ax.grid(alpha=0.25)


def _gantt(ax: Any, windows: list[tuple[str, float, float]]) -> None:
    shown = windows[:MAX_GANTT_ROWS]
    for i, (label, lo, hi) in enumerate(shown):
        ax.barh(i, hi - lo, left=lo, height=0.6, color="#d62728", alpha=0.45)
        ax.text(lo, i, f" {label}", va="center", fontsize=7)
    ax.set_ylim(len(shown) - 0.4, -0.6)
    ax.set_yticks([])
    more = f" (first {MAX_GANTT_ROWS} of {len(windows)})" if len(windows) > len(shown) else ""
    ax.set_title(f"campaign windows{more}", fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.25)


def _with_gaps(result: EvalResult, pts: list[tuple[int, float]]) -> tuple[list[float], list[float]]:
    """Plot coordinates, with a break (NaN) where the customer was silent for more than 5% of
    the scenario, so that a line does not suggest risk values nobody computed."""
    start, end = result.labels.get("start_ms", 0), result.labels.get("end_ms", 0)
    span = float(end or 0) - float(start or 0)
    gap = 0.05 * span if span > 0 else float("inf")
    xs: list[float] = []
    ys: list[float] = []
    for i, (t, r) in enumerate(pts):
        if i and t - pts[i - 1][0] > gap:
            xs.append(float("nan"))
            ys.append(float("nan"))
        xs.append(_hours(result, t))
        ys.append(r)
    return xs, ys


def plot_risk_over_time(result: EvalResult, path: Path) -> Path:
    """Risk over event time: a timeline of the campaign windows, then campaign accounts and
    the riskiest ordinary customers, with the union of campaign windows shaded and the severity
    thresholds dashed."""
    campaign, ordinary = pick_customers(result)
    series = _risk_series(result, {*campaign, *ordinary})
    thresholds = severity_thresholds(result)
    windows = _campaign_windows(result)
    gantt_rows = max(1, min(len(windows), MAX_GANTT_ROWS))
    fig, axes = plt.subplots(
        3, 1, figsize=(11, 8 + 0.18 * gantt_rows), sharex=True,
        gridspec_kw={"height_ratios": [0.6 + 0.22 * gantt_rows, 4, 4]},
    )
    _gantt(axes[0], windows)
    outcome = {a.customer_id: a for a in result.metrics.account_outcomes}
    for ax, customers, title in (
        (axes[1], campaign, "campaign accounts (sample)"),
        (axes[2], ordinary, "ordinary customers with the highest risk"),
    ):
        _decorate(ax, windows, thresholds)
        drawn = False
        for cid in customers:
            pts = series.get(cid, [])
            if not pts:
                continue
            info = (result.labels.get("customers") or {}).get(cid) or {}
            look = ", look-alike" if info.get("lookalike") else ""
            label = f"{cid} ({info.get('archetype', '?')}{look})"
            if cid in outcome:
                acc = outcome[cid]
                label = f"{cid} ({acc.tactic}{'' if acc.detected else ', missed'})"
            xs, ys = _with_gaps(result, pts)
            ax.plot(xs, ys, marker=".", ms=3, lw=1, label=label)
            drawn = True
        ax.set_title(title, fontsize=10, loc="left")
        if drawn:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.06, 1.0), frameon=False)
    axes[2].set_xlabel(
        f"event time since scenario start ({_time_unit(result)[0]}); shaded: campaign windows"
    )
    fig.suptitle(f"{result.name}: risk over time", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_time_to_detect(result: EvalResult, path: Path) -> Path:
    """Histograms of time to detect per detected account: event-time minutes and queries."""
    detected = [a for a in result.metrics.account_outcomes if a.detected]
    minutes = [a.ttd_minutes for a in detected if a.ttd_minutes is not None]
    queries = [a.ttd_queries for a in detected if a.ttd_queries is not None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, values, xlabel in (
        (axes[0], minutes, "minutes of event time from onset to first >= medium alert"),
        (axes[1], queries, "account's queries from onset to first >= medium alert"),
    ):
        if values:
            bins: Any = min(30, max(5, len(values)))
            lo, hi = min(values), max(values)
            if lo > 0 and hi / lo > 30:  # long tail: log-spaced bins on a log axis
                bins = list(np.geomspace(lo, hi, bins + 1))
                ax.set_xscale("log")
            ax.hist(values, bins=bins, color="#3b75af", edgecolor="white")
        else:
            ax.text(0.5, 0.5, "no detected accounts", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel("accounts")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.25)
    n, total = len(detected), len(result.metrics.account_outcomes)
    fig.suptitle(f"{result.name}: time to detect ({n} of {total} campaign accounts detected)",
                 fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_threshold_curve(result: EvalResult, path: Path) -> Path:
    """Recall, precision and ordinary FPR against a threshold on each customer's max risk."""
    pts = result.metrics.threshold_curve
    xs = [p.threshold for p in pts]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for attr, colour in (("recall", "#2a9d3f"), ("precision", "#3b75af"), ("fpr", "#d62728"),
                         ("lookalike_fpr", "#e377c2")):
        ys = [getattr(p, attr) for p in pts]
        if any(y is not None for y in ys):
            ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", ms=3,
                    color=colour, label=attr.replace("_", " "))
    for sev, value in severity_thresholds(result).items():
        ax.axvline(value, ls="--", lw=0.8, color=_SEVERITY_COLOURS.get(sev, "grey"))
        ax.text(value, 1.03, sev, rotation=0, fontsize=7, ha="center",
                color=_SEVERITY_COLOURS.get(sev, "grey"))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.08)
    ax.set_xlabel("threshold on a customer's maximum risk over the run")
    ax.set_ylabel("rate")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8, loc="center left")
    ax.set_title(f"{result.name}: precision / recall vs threshold", fontsize=12, pad=16)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- held-out curves


def plot_detection_curves(
    points: list[Any], path: Path, *, title: str, xlabel: str, logx: bool = False,
    accounts: bool = False, reference: tuple[float, float, str] | None = None,
) -> Path:
    """Detection (share of campaigns, or of accounts with ``accounts``) against x, one line
    per series, with the median queries-to-detect annotated at each point; ``reference`` draws
    a published result as a marker ``(x, y, label)``."""
    series: dict[str, list[Any]] = defaultdict(list)
    for p in points:
        series[p.series].append(p)
    fig, ax = plt.subplots(figsize=(9, 5))
    markers = "osD^v<>px*h"
    for i, (name, pts) in enumerate(sorted(series.items())):
        pts = sorted(pts, key=lambda p: p.x)
        # Lines of several series often coincide at 0 or 1: dodge them a little vertically.
        dodge = (i - (len(series) - 1) / 2) * 0.008 if len(series) > 1 else 0.0
        ys = [(p.account_recall if accounts else p.recall) + dodge for p in pts]
        (line,) = ax.plot([p.x for p in pts], ys, marker=markers[i % len(markers)], ms=4,
                          lw=1.4, label=name)
        if len(series) <= 3:
            for p, y in zip(pts, ys, strict=True):
                q = "-" if p.median_queries is None else f"{p.median_queries:.0f}q"
                ax.annotate(f"{p.accounts_detected if accounts else p.detected}/"
                            f"{p.accounts if accounts else p.campaigns} {q}", (p.x, y),
                            textcoords="offset points", xytext=(4, 6), fontsize=7,
                            color=line.get_color())
    if reference is not None:
        ax.plot([reference[0]], [reference[1]], marker="*", ms=12, color="black", ls="none",
                label=reference[2])
    if logx:
        ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of accounts flagged ≥ medium" if accounts
                  else "share of campaigns detected (≥ medium)")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(textwrap.fill(title, 80), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_roc_pr(rankings: dict[str, Any], path: Path) -> Path:
    """ROC and PR curves (customer-level max risk as the score), one line per ranking."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for name, rk in rankings.items():
        fpr = [p.fpr for p in rk.points]
        tpr = [p.tpr for p in rk.points]
        axes[0].plot(fpr, tpr, lw=1.4, label=f"{name} (AUC {rk.roc_auc:.3f})")
        axes[1].step(tpr, [p.precision for p in rk.points], where="post", lw=1.4,
                     label=f"{name} (AP {rk.pr_auc:.3f})")
    axes[0].plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    axes[0].set_xlabel("false-positive rate (ordinary customers)")
    axes[0].set_ylabel("true-positive rate (campaign accounts)")
    axes[0].set_title("ROC", fontsize=11)
    axes[1].set_xlabel("recall (campaign accounts)")
    axes[1].set_ylabel("precision")
    axes[1].set_title("precision / recall", fontsize=11)
    for ax in axes:
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.03)
        ax.grid(alpha=0.25)
        ax.legend(fontsize=7, loc="lower right" if ax is axes[0] else "lower left")
    fig.suptitle("held-out ranking: each customer scored by its maximum risk", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
