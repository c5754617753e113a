"""Report files of an evaluation run.

* ``<out>/<name>/report.json`` — machine-readable: scenario, seed, counts, metrics, wall time,
  events/s, detector version (see :meth:`EvalResult.to_json`).
* ``<out>/<name>/report.html`` — human-readable, with the PNG plots next to it
  (``risk_over_time.png``, ``time_to_detect.png``, ``threshold_curve.png``) and a table per tactic.
* ``<out>/summary.md`` — one Markdown table row per ``report.json`` found under ``<out>``.

``<name>`` is the scenario, or ``<scenario>-kafka`` for the Kafka path.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from streamer.evaluation.result import EvalResult

SUMMARY_COLUMNS: tuple[str, ...] = (
    "scenario",
    "events",
    "customers",
    "campaigns detected",
    "accounts detected",
    "ordinary FPR ≥medium",
    "look-alike FPR",
    "precision",
    "TTD median / p90 (min)",
    "TTD median / p90 (queries)",
    "alerts / alerted customer",
    "wall time",
)


def fmt_num(value: float | None, digits: int = 1) -> str:
    """Compact number; ``n/a`` for ``None``.

    >>> fmt_num(None), fmt_num(3.0), fmt_num(2.345, 2), fmt_num(12345.6, 0)
    ('n/a', '3', '2.35', '12,346')
    """
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def fmt_fraction(num: int, den: int) -> str:
    """``num/den (pct)``; ``n/a`` when ``den`` is 0.

    >>> fmt_fraction(2, 3), fmt_fraction(0, 0), fmt_fraction(1, 200)
    ('2/3 (67%)', 'n/a', '1/200 (0.5%)')
    """
    if not den:
        return "n/a"
    pct = 100.0 * num / den
    text = f"{pct:.0f}" if pct == 0 or pct >= 10 or pct.is_integer() else f"{pct:.1f}"
    return f"{num}/{den} ({text}%)"


def fmt_fixed(value: float | None, digits: int = 2) -> str:
    """Fixed decimals (for ratios, so that columns line up); ``n/a`` for ``None``.

    >>> fmt_fixed(1), fmt_fixed(0.966), fmt_fixed(None)
    ('1.00', '0.97', 'n/a')
    """
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_pair(a: float | None, b: float | None) -> str:
    """
    >>> fmt_pair(1.25, 3), fmt_pair(None, None)
    ('1.2 / 3', 'n/a')
    """
    if a is None and b is None:
        return "n/a"
    return f"{fmt_num(a)} / {fmt_num(b)}"


def summary_row(report: Mapping[str, Any]) -> list[str]:
    """The ``summary.md`` cells of one ``report.json`` document."""
    m = report["metrics"]
    overall = m["overall"]
    counts = report["counts"]
    name = report["scenario"] + ("" if report.get("mode", "offline") == "offline"
                                 else f" ({report['mode']})")
    return [
        name,
        fmt_num(counts["events"], 0),
        fmt_num(counts["customers"], 0),
        fmt_fraction(overall["campaigns_detected"], overall["campaigns"]),
        fmt_fraction(overall["accounts_detected"], overall["accounts"]),
        fmt_fraction(m["ordinary_fpr"]["alerted"], m["ordinary_fpr"]["total"]),
        fmt_fraction(m["lookalike_fpr"]["alerted"], m["lookalike_fpr"]["total"]),
        fmt_fixed(m["precision"]),
        fmt_pair(overall["ttd_minutes"]["median"], overall["ttd_minutes"]["p90"]),
        fmt_pair(overall["ttd_queries"]["median"], overall["ttd_queries"]["p90"]),
        fmt_fixed(m["noise"]["alert_ids_per_customer"]["mean"]),
        f"{report['wall_time_s']:.1f} s",
    ]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; ``|`` in cells is escaped.

    >>> print(markdown_table(["a", "b"], [["1", "x|y"]]))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(header), "|" + "|".join("---" for _ in header) + "|"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def write_summary(out_dir: Path, order: Sequence[str] = ()) -> Path:
    """Write ``<out>/summary.md`` from every ``<out>/*/report.json``.

    Rows follow ``order`` (report directory names) first, then the rest alphabetically.
    """
    reports: dict[str, dict[str, Any]] = {}
    for path in sorted(out_dir.glob("*/report.json")):
        try:
            reports[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    rank = {name: i for i, name in enumerate(order)}
    names = sorted(reports, key=lambda n: (rank.get(n, len(rank)), n))
    rows = [summary_row(reports[n]) for n in names]
    text = (
        "# Evaluation summary\n\n"
        "Labelled simulated scenarios replayed through the detector (`make eval`; rows marked "
        "(kafka) went through the real broker and worker). *Flagged* = an alert of "
        "severity ≥ medium. Campaign detected = ≥1 of its accounts flagged at or after the "
        "campaign start; FPR = ordinary customers flagged; precision = detected campaign accounts "
        "/ flagged customers; TTD = event time (minutes) and the account's own queries from "
        "its onset to its first flag, over detected accounts.\n\n"
        + markdown_table(SUMMARY_COLUMNS, rows)
        + "\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "summary.md"
    path.write_text(text, encoding="utf-8")
    return path


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


TACTIC_COLUMNS = (
    "tactic", "campaigns detected", "accounts detected", "hydra: share of accounts",
    "TTD median / p90 (min)", "TTD median / p90 (queries)", "campaign TTD median / p90 (min)",
)


def tactic_rows(result: EvalResult) -> list[list[str]]:
    """One row per tactic plus ``all``."""
    rows = []
    tactics = [*result.metrics.per_tactic.values(), result.metrics.overall]
    for t in tactics:
        rows.append([
            t.tactic,
            fmt_fraction(t.campaigns_detected, t.campaigns),
            fmt_fraction(t.accounts_detected, t.accounts),
            ("n/a" if t.hydra_account_fraction is None
             else f"{100 * t.hydra_account_fraction:.0f}%"),
            fmt_pair(t.ttd_minutes.median, t.ttd_minutes.p90),
            fmt_pair(t.ttd_queries.median, t.ttd_queries.p90),
            fmt_pair(t.campaign_ttd_minutes.median, t.campaign_ttd_minutes.p90),
        ])
    return rows


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;font-size:.9em}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
code{background:#f5f5f5;padding:0 .2em}
"""


def _html(result: EvalResult, images: Mapping[str, str]) -> str:
    m = result.metrics
    e = html.escape
    overview = _table(
        ["", ""],
        [
            ["scenario / seed / path", f"{result.scenario} / {result.seed} / {result.mode}"],
            ["detector version", result.detector_version or "n/a"],
            ["events", fmt_num(result.events, 0)],
            ["customers (ordinary / look-alike)",
             f"{m.customers} ({m.ordinary_customers} / {m.lookalike_customers})"],
            ["campaigns / campaign accounts", f"{m.campaigns} / {m.campaign_accounts}"],
            ["campaigns detected", fmt_fraction(m.overall.campaigns_detected, m.campaigns)],
            ["accounts detected", fmt_fraction(m.overall.accounts_detected, m.campaign_accounts)],
            ["ordinary FPR ≥ medium", fmt_fraction(m.ordinary_fpr.alerted, m.ordinary_fpr.total)],
            ["look-alike FPR ≥ medium",
             fmt_fraction(m.lookalike_fpr.alerted, m.lookalike_fpr.total)],
            ["precision (flagged customers)", fmt_fixed(m.precision)],
            ["alert ids / messages per flagged customer (mean)",
             fmt_pair(m.noise.alert_ids_per_customer.mean, m.noise.messages_per_customer.mean)],
            ["alert messages (all severities)", fmt_num(len(result.alerts), 0)],
            ["wall time", f"{result.wall_time_s:.2f} s"],
            ["throughput", f"{fmt_num(result.events_per_s, 0)} events/s"],
        ],
    )
    archetypes = _table(
        ["archetype", "ordinary customers flagged"],
        [[a, fmt_fraction(r.alerted, r.total)] for a, r in m.fpr_by_archetype.items()],
    )
    campaigns = _table(
        ["campaign", "tactic", "hydra", "accounts detected", "first detection (min after start)"],
        [
            [c.campaign_id, c.tactic, "yes" if c.hydra else "",
             fmt_fraction(c.accounts_detected, c.accounts), fmt_num(c.ttd_minutes)]
            for c in m.campaign_outcomes
        ],
    )
    fps = ", ".join(m.false_positive_customers[:50]) or "none"
    if len(m.false_positive_customers) > 50:
        fps += f", … ({len(m.false_positive_customers)} in all)"
    imgs = "".join(
        f"<h2>{e(title)}</h2><img src=\"{e(src)}\" alt=\"{e(title)}\">"
        for title, src in images.items()
    )
    extra = ""
    if result.extra:
        extra = "<h2>Run details</h2><pre>" + e(json.dumps(result.extra, indent=2)) + "</pre>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>streamer evaluation: {e(result.name)}</title><style>{_CSS}</style></head>
<body>
<h1>Evaluation: {e(result.name)}</h1>
<p>Flagged = an alert of severity ≥ medium. A campaign is detected when one of its accounts is
flagged at or after the campaign start; an account when it is flagged at or after its own onset.
Times to detect are in event time. Definitions: <code>streamer/evaluation/metrics.py</code>;
raw numbers: <a href="report.json">report.json</a>.</p>
{overview}
<h2>Per tactic</h2>
{_table(TACTIC_COLUMNS, tactic_rows(result))}
<h2>Campaigns</h2>
{campaigns}
<h2>Ordinary customers flagged, per archetype</h2>
{archetypes}
<p>Flagged ordinary customers: {e(fps)}</p>
{imgs}
{extra}
</body></html>
"""


def write_report(result: EvalResult, out_dir: Path) -> Path:
    """Write ``report.json``, the PNG plots and ``report.html`` under ``out_dir/<name>``."""
    from streamer.evaluation import plots  # matplotlib only when a report is written

    target = out_dir / result.name
    target.mkdir(parents=True, exist_ok=True)
    (target / "report.json").write_text(
        json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    images = {
        "Risk over time": plots.plot_risk_over_time(result, target / "risk_over_time.png").name,
        "Time to detect": plots.plot_time_to_detect(result, target / "time_to_detect.png").name,
        "Precision / recall vs threshold": plots.plot_threshold_curve(
            result, target / "threshold_curve.png"
        ).name,
    }
    (target / "report.html").write_text(_html(result, images), encoding="utf-8")
    return target
