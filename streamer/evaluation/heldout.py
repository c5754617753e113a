"""The held-out evaluation: red-team scenarios and the first simulator's split, their curves,
the HTML report and the README table.

``run_heldout`` replays every red-team scenario (:mod:`streamer.sim.redteam`, drawn only from
the held-out corpora) and, for each chosen first-simulator scenario, its ``heldout`` and
``calibration`` parts (:mod:`streamer.sim.split`) through the offline engine. Then
``write_heldout`` draws the curves (PNG) and writes ``<out>/heldout/index.html``,
``<out>/heldout/heldout.json`` and the Markdown that ``make eval`` splices into the README.

Pooled figures add up campaigns, accounts and ordinary customers over several runs (their
customers are distinct) and take medians over the pooled detected accounts.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from streamer.evaluation.curves import DetectionPoint, Ranking, detection_points, param, ranking
from streamer.evaluation.metrics import AccountOutcome, percentile
from streamer.evaluation.report import fmt_fraction, fmt_num, markdown_table, summary_row
from streamer.evaluation.result import EvalResult

REDTEAM_SCENARIOS: tuple[str, ...] = ("rt-mix", "rt-intensity", "rt-mixing", "rt-hydra",
                                      "rt-evasion")
#: First-simulator scenarios evaluated per part by default (``day`` is added by ``--full``).
FIRST_SIM_SCENARIOS: tuple[str, ...] = ("smoke", "lookalikes", "hydra")
TARGETS = {"recall": 0.95, "fpr": 0.005, "ttd_minutes": 10.0, "ttd_queries": 150.0}
#: The MMD 2026 detector's published point: 59 % detection at a 5 % share, 1,500-query windows.
MMD_REFERENCE = (5.0, 0.59, "MMD 2026 (1,500-query windows)")


@dataclass(slots=True)
class Pooled:
    """Headline figures pooled over runs."""

    campaigns: int = 0
    campaigns_detected: int = 0
    accounts: int = 0
    accounts_detected: int = 0
    ordinary: int = 0
    ordinary_flagged: int = 0
    lookalike: int = 0
    lookalike_flagged: int = 0
    ttd_minutes: float | None = None
    ttd_queries: float | None = None
    events: int = 0
    runs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, results: Iterable[EvalResult]) -> Pooled:
        """
        >>> p = Pooled.of([])
        >>> p.campaigns, p.ttd_minutes
        (0, None)
        """
        p = cls()
        detected: list[AccountOutcome] = []
        for r in results:
            m = r.metrics
            p.runs.append(r.name)
            p.events += r.events
            p.campaigns += m.overall.campaigns
            p.campaigns_detected += m.overall.campaigns_detected
            p.accounts += m.overall.accounts
            p.accounts_detected += m.overall.accounts_detected
            p.ordinary += m.ordinary_fpr.total
            p.ordinary_flagged += m.ordinary_fpr.alerted
            p.lookalike += m.lookalike_fpr.total
            p.lookalike_flagged += m.lookalike_fpr.alerted
            detected += [a for a in m.account_outcomes if a.detected]
        p.ttd_minutes = percentile([a.ttd_minutes for a in detected if a.ttd_minutes is not None],
                                   50)
        p.ttd_queries = percentile([float(a.ttd_queries) for a in detected
                                    if a.ttd_queries is not None], 50)
        return p

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class HeldoutRun:
    """Every result of one held-out evaluation."""

    seed: int
    redteam: dict[str, EvalResult]
    first: dict[tuple[str, str], EvalResult]
    wall_s: float = 0.0

    def results(self) -> list[EvalResult]:
        return [*self.redteam.values(), *self.first.values()]


def run_heldout(
    seed: int = 0, *, scale: float = 1.0, first_sim: Sequence[str] = FIRST_SIM_SCENARIOS,
    redteam: Sequence[str] = REDTEAM_SCENARIOS, progress: bool = True,
    console: Console | None = None,
) -> HeldoutRun:
    """Replay the red-team scenarios and both parts of each first-simulator scenario."""
    from streamer.evaluation.runner import evaluate_offline, evaluate_redteam
    from streamer.sim.split import PARTS

    console = console or Console(stderr=True)
    started = time.perf_counter()
    run = HeldoutRun(seed, {}, {})
    jobs: list[tuple[str, Callable[[], EvalResult], tuple[str, str] | str]] = []
    for name in redteam:
        jobs.append((name, partial(evaluate_redteam, name, seed, progress, scale), name))
    for name in first_sim:
        for part in reversed(PARTS):  # held out first
            jobs.append((f"{name}.{part}", partial(evaluate_offline, name, seed, progress, part),
                         (name, part)))
    for i, (label, job, key) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        result = job()
        if isinstance(key, tuple):
            run.first[key] = result
        else:
            run.redteam[key] = result
        m = result.metrics
        console.print(
            f"[bold][{i}/{len(jobs)}][/] {label}: {fmt_num(result.events, 0)} events, campaigns "
            f"{fmt_fraction(m.overall.campaigns_detected, m.overall.campaigns)}, accounts "
            f"{fmt_fraction(m.overall.accounts_detected, m.overall.accounts)}, ordinary FPR "
            f"{fmt_fraction(m.ordinary_fpr.alerted, m.ordinary_fpr.total)} "
            f"({time.perf_counter() - t0:.0f} s; total {time.perf_counter() - started:.0f} s)"
        )
    run.wall_s = time.perf_counter() - started
    return run


# --------------------------------------------------------------------------- curves


@dataclass(frozen=True, slots=True)
class Curve:
    """One figure: its file, title, and points."""

    key: str
    title: str
    xlabel: str
    points: list[DetectionPoint]
    logx: bool = False
    accounts: bool = False
    reference: tuple[float, float, str] | None = None


def _tactic(c: dict[str, Any]) -> str:
    return str(c.get("tactic"))


def _content(c: dict[str, Any]) -> str:
    """The series of an evasion point: the tactic of a single account, ``hydra`` for hydras."""
    return str(c.get("tactic"))


def _sweep(which: str) -> Callable[[dict[str, Any]], tuple[str, float] | None]:
    def key(c: dict[str, Any]) -> tuple[str, float] | None:
        p = c.get("params") or {}
        if p.get("sweep") != which:
            return None
        return "hydra", float(p["x"])
    return key


def curves(run: HeldoutRun) -> list[Curve]:
    """The held-out curves of the issue, from the red-team sweep scenarios."""
    rt = run.redteam
    out: list[Curve] = []
    if "rt-intensity" in rt:
        out.append(Curve("intensity", "detection against intensity, per tactic (single accounts)",
                         "requests per hour", detection_points([rt["rt-intensity"]],
                                                               param("rate", _tactic)), logx=True))
    if "rt-mixing" in rt:
        out.append(Curve("mixing", "detection of a reseller against the share of extraction "
                         "in its traffic", "extraction share of the reseller's traffic (%)",
                         detection_points([rt["rt-mixing"]], param("share_pct")),
                         reference=MMD_REFERENCE))
    if "rt-hydra" in rt:
        content = next((str((c.get("params") or {}).get("content_tactic"))
                        for c in (rt["rt-hydra"].labels.get("campaigns") or {}).values()), "?")
        out.append(Curve("hydra_size", "hydra: share of accounts flagged against hydra size "
                         f"(15 requests per account; content: {content})",
                         "accounts in the hydra",
                         detection_points([rt["rt-hydra"]], _sweep("size")), logx=True,
                         accounts=True))
        out.append(Curve("hydra_volume", "hydra: share of accounts flagged against per-account "
                         f"volume (60 accounts; content: {content})", "requests per account",
                         detection_points([rt["rt-hydra"]], _sweep("volume")), logx=True,
                         accounts=True))
    if "rt-evasion" in rt:
        out.append(Curve("evasion", "detection under adaptive evasion (0 none, 1 paraphrase, "
                         "2 + human pacing & residential, 3 + aged accounts & ordinary cover)",
                         "evasion level", detection_points([rt["rt-evasion"]],
                                                           param("level", _content))))
    return out


def rankings(run: HeldoutRun) -> dict[str, Ranking]:
    """ROC/PR on the red-team headline, on every red-team run, and per first-sim part."""
    out: dict[str, Ranking] = {}
    if "rt-mix" in run.redteam:
        out["red team rt-mix"] = ranking([run.redteam["rt-mix"]])
    if run.redteam:
        out["red team, all"] = ranking(run.redteam.values())
    for part in ("heldout", "calibration"):
        chosen = [r for (_, p), r in run.first.items() if p == part]
        if chosen:
            out[f"first simulator {part}"] = ranking(chosen)
    return out


# --------------------------------------------------------------------------- tables


def _pct(num: int, den: int) -> str:
    return fmt_fraction(num, den)


def headline_columns(run: HeldoutRun) -> dict[str, Pooled]:
    cols: dict[str, Pooled] = {}
    if "rt-mix" in run.redteam:
        cols["held-out: red team rt-mix"] = Pooled.of([run.redteam["rt-mix"]])
    if run.redteam:
        cols["held-out: red team, all scenarios"] = Pooled.of(run.redteam.values())
    for part, title in (("heldout", "held-out: first simulator"),
                        ("calibration", "calibration: first simulator")):
        chosen = [r for (_, p), r in run.first.items() if p == part]
        if chosen:
            cols[title] = Pooled.of(chosen)
    return cols


def headline_table(run: HeldoutRun, ranks: dict[str, Ranking]) -> str:
    cols = headline_columns(run)
    rank_of = {"held-out: red team rt-mix": "red team rt-mix",
               "held-out: red team, all scenarios": "red team, all",
               "held-out: first simulator": "first simulator heldout",
               "calibration: first simulator": "first simulator calibration"}
    rows = [
        ["campaign recall", "≥ 95 %",
         *(_pct(p.campaigns_detected, p.campaigns) for p in cols.values())],
        ["account recall (hydra accounts included)", "",
         *(_pct(p.accounts_detected, p.accounts) for p in cols.values())],
        ["legit FPR ≥ medium", "≤ 0.5 %",
         *(_pct(p.ordinary_flagged, p.ordinary) for p in cols.values())],
        ["look-alike FPR ≥ medium", "", *(_pct(p.lookalike_flagged, p.lookalike)
                                          for p in cols.values())],
        ["median time to detect (event-time min)", "≤ 10",
         *(fmt_num(p.ttd_minutes) for p in cols.values())],
        ["median queries per account to detect", "≤ 150",
         *(fmt_num(p.ttd_queries) for p in cols.values())],
        ["ROC AUC / PR AUC (customer max risk)", "",
         *(f"{ranks[rank_of[c]].roc_auc:.3f} / {ranks[rank_of[c]].pr_auc:.3f}"
           if rank_of.get(c) in ranks else "n/a" for c in cols)],
        ["events", "", *(fmt_num(p.events, 0) for p in cols.values())],
    ]
    return markdown_table(["", "target", *cols], rows)


def tactic_table(results: Iterable[EvalResult]) -> tuple[str, list[dict[str, Any]]]:
    """Per tactic, pooled over ``results``; rows sorted weakest first."""
    by: dict[str, dict[str, Any]] = {}
    for r in results:
        for t, tm in r.metrics.per_tactic.items():
            row = by.setdefault(t, {"tactic": t, "campaigns": 0, "detected": 0, "accounts": 0,
                                    "accounts_detected": 0, "minutes": [], "queries": []})
            row["campaigns"] += tm.campaigns
            row["detected"] += tm.campaigns_detected
            row["accounts"] += tm.accounts
            row["accounts_detected"] += tm.accounts_detected
        for a in r.metrics.account_outcomes:
            if a.detected and a.tactic in by:
                by[a.tactic]["minutes"].append(a.ttd_minutes or 0.0)
                by[a.tactic]["queries"].append(float(a.ttd_queries or 0))
    rows = sorted(by.values(), key=lambda x: (x["detected"] / max(1, x["campaigns"]),
                                              x["accounts_detected"] / max(1, x["accounts"]),
                                              x["tactic"]))
    for row in rows:
        row["median_minutes"] = percentile(row.pop("minutes"), 50)
        row["median_queries"] = percentile(row.pop("queries"), 50)
    table = markdown_table(
        ["tactic (held-out red team)", "campaigns detected", "accounts detected",
         "median TTD (min)", "median queries/account"],
        [[r["tactic"], _pct(r["detected"], r["campaigns"]),
          _pct(r["accounts_detected"], r["accounts"]), fmt_num(r["median_minutes"]),
          fmt_num(r["median_queries"])] for r in rows],
    )
    return table, rows


def curve_markdown(c: Curve) -> str:
    """A curve as text: one line for a single series, a table (series x values) otherwise."""
    series = sorted({p.series for p in c.points})
    if len(series) <= 1:
        return _curve_line(c)
    xs = sorted({p.x for p in c.points})
    cell = {(p.series, p.x): p for p in c.points}

    def fmt(p: DetectionPoint | None) -> str:
        if p is None:
            return ""
        q = "" if p.median_queries is None else f" ({p.median_queries:.0f} q)"
        return f"{p.detected}/{p.campaigns}{q}"
    return "\n\n" + markdown_table([c.xlabel.split(" (")[0], *(fmt_num(x) for x in xs)],
                                   [[s, *(fmt(cell.get((s, x))) for x in xs)] for s in series]
                                   ) + "\n"


def _curve_line(c: Curve) -> str:
    parts = []
    for p in sorted(c.points, key=lambda p: (p.series, p.x)):
        share = (f"{p.accounts_detected}/{p.accounts}" if c.accounts
                 else f"{p.detected}/{p.campaigns}")
        q = "" if p.median_queries is None else f", {p.median_queries:.0f} q"
        prefix = "" if p.series in ("all", "hydra") else f"{p.series} "
        parts.append(f"{prefix}{fmt_num(p.x)}: {share}{q}")
    return "; ".join(parts)


def weakest_curve(run: HeldoutRun, tactic: str, all_curves: list[Curve]) -> Curve | None:
    """The curve that shows the weakest tactic: its intensity line, or the hydra / mixing
    curve for those structures."""
    if tactic == "hydra":
        return next((c for c in all_curves if c.key == "hydra_volume"), None)
    if tactic == "reseller_mix":
        return next((c for c in all_curves if c.key == "mixing"), None)
    base = next((c for c in all_curves if c.key == "intensity"), None)
    if base is None:
        return None
    pts = [p for p in base.points if p.series == tactic]
    return Curve("weakest_tactic", f"weakest tactic: {tactic}, detection against intensity",
                 base.xlabel, pts, logx=True) if pts else None


def write_heldout(run: HeldoutRun, out: Path) -> tuple[Path, str]:
    """Write the held-out report directory and every run's own report; return the report
    index and the Markdown for the README."""
    from streamer.evaluation import plots
    from streamer.evaluation.report import write_report

    target = out / "heldout"
    target.mkdir(parents=True, exist_ok=True)
    for r in run.results():
        write_report(r, out)
    all_curves = curves(run)
    images: dict[str, str] = {}
    for c in all_curves:
        path = plots.plot_detection_curves(c.points, target / f"{c.key}.png", title=c.title,
                                           xlabel=c.xlabel, logx=c.logx, accounts=c.accounts,
                                           reference=c.reference)
        images[c.key] = path.name
    ranks = rankings(run)
    if ranks:
        images["roc_pr"] = plots.plot_roc_pr(ranks, target / "roc_pr.png").name
    tactics_md, tactic_rows_ = tactic_table(run.redteam.values())
    weakest = next((r for r in tactic_rows_ if r["campaigns"] >= 3), None)
    weak_curve = weakest_curve(run, weakest["tactic"], all_curves) if weakest else None
    if weak_curve is not None:
        images["weakest_tactic"] = plots.plot_detection_curves(
            weak_curve.points, target / "weakest_tactic.png", title=weak_curve.title,
            xlabel=weak_curve.xlabel, logx=weak_curve.logx, accounts=weak_curve.accounts,
            reference=weak_curve.reference).name
    headline = headline_table(run, ranks)
    scenario_rows = [summary_row(r.to_json()) for r in run.results()]
    from streamer.evaluation.report import SUMMARY_COLUMNS

    scenarios_md = markdown_table(SUMMARY_COLUMNS, scenario_rows)
    curve_md = "\n".join(f"- **{c.key}**, {c.title} "
                         f"([`{c.key}.png`](reports/heldout/{c.key}.png)): {curve_markdown(c)}"
                         for c in all_curves)
    weak_md = "n/a"
    if weakest:
        weak_md = (f"**{weakest['tactic']}**: "
                   f"{_pct(weakest['detected'], weakest['campaigns'])} campaigns, "
                   f"{_pct(weakest['accounts_detected'], weakest['accounts'])} accounts")
        if weak_curve is not None:
            weak_md += (f"; curve [`weakest_tactic.png`](reports/heldout/weakest_tactic.png): "
                        f"{_curve_line(weak_curve)}")
    first = ", ".join(sorted({n for n, _ in run.first})) or "none"
    fp: dict[str, list[int]] = {}
    for r in run.redteam.values():
        for arch, rate in r.metrics.fpr_by_archetype.items():
            tot = fp.setdefault(arch, [0, 0])
            tot[0] += rate.alerted
            tot[1] += rate.total
    fp_md = ", ".join(f"{a} {_pct(x, n)}" for a, (x, n) in sorted(fp.items()) if x) or "none"
    md = (
        "**Held-out** = traffic the detector was not tuned on: the red-team generator "
        "(`streamer/sim/redteam/`, written independently, prompts only from the held-out "
        "corpora) and the held-out part of the first simulator's split (`streamer.sim.split`; "
        f"scenarios {first}). **Calibration** = the first simulator's calibration part. "
        "*Flagged* = an alert of severity ≥ medium; a campaign is detected when one of its "
        "accounts is flagged after its start; TTD = from an account's onset to its first flag "
        "(event time, and the account's own queries). Definitions: "
        "`streamer/evaluation/metrics.py`, `streamer/evaluation/heldout.py`.\n\n"
        f"{headline}\n\n{tactics_md}\n\n"
        f"Weakest tactic: {weak_md}.\n\n"
        f"Ordinary red-team customers flagged, by archetype: {fp_md}.\n\n"
        "Curves (x: detected/total, median queries to detect in brackets or after a comma), "
        "drawn in "
        "`reports/heldout/index.html`:\n\n"
        f"{curve_md}\n\n<details><summary>Every run</summary>\n\n{scenarios_md}\n\n</details>\n\n"
        f"Total wall time {run.wall_s:.0f} s (seed {run.seed})."
    )
    doc = {
        "seed": run.seed,
        "wall_s": round(run.wall_s, 1),
        "headline": {k: v.to_dict() for k, v in headline_columns(run).items()},
        "tactics": tactic_rows_,
        "curves": {c.key: [{"series": p.series, "x": p.x, "campaigns": p.campaigns,
                            "detected": p.detected, "accounts": p.accounts,
                            "accounts_detected": p.accounts_detected,
                            "median_queries": p.median_queries,
                            "median_minutes": p.median_minutes} for p in c.points]
                   for c in all_curves},
        "rankings": {k: {"roc_auc": v.roc_auc, "pr_auc": v.pr_auc, "positives": v.positives,
                         "negatives": v.negatives} for k, v in ranks.items()},
    }
    (target / "heldout.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n",
                                         encoding="utf-8")
    (target / "heldout.md").write_text(md + "\n", encoding="utf-8")
    index = target / "index.html"
    index.write_text(_html(md, images, run), encoding="utf-8")
    return index, md


def _html(md: str, images: dict[str, str], run: HeldoutRun) -> str:
    e = html.escape
    imgs = "".join(f'<h2>{e(k)}</h2><img src="{e(v)}" alt="{e(k)}">' for k, v in images.items())
    links = "".join(f'<li><a href="../{e(r.name)}/report.html">{e(r.name)}</a></li>'
                    for r in run.results())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>streamer held-out evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em}}
pre{{white-space:pre-wrap;background:#f7f7f7;padding:1em;font-size:.85em}}
img{{max-width:100%;border:1px solid #eee}}</style></head><body>
<h1>Held-out evaluation (seed {run.seed})</h1>
<pre>{e(md)}</pre>
{imgs}
<h2>Per-run reports</h2><ul>{links}</ul>
</body></html>
"""
