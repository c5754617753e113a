"""``streamer evaluate``: score detection on labelled simulated scenarios and write reports.

    streamer evaluate --scenario smoke            # offline replay, reports/smoke/
    streamer evaluate --all --out reports         # every shipped scenario + reports/summary.md
    streamer evaluate --scenario smoke --kafka    # also through the broker and a real worker
    streamer evaluate --heldout --readme README.md  # held-out headline (make eval)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from streamer.evaluation.heldout import FIRST_SIM_SCENARIOS
from streamer.evaluation.report import (
    SUMMARY_COLUMNS,
    TACTIC_COLUMNS,
    fmt_fixed,
    fmt_fraction,
    fmt_num,
    summary_row,
    tactic_rows,
    write_report,
    write_summary,
)
from streamer.evaluation.result import EvalResult

# Piped output (CI logs, `make eval | tee`) gets a width that fits the tables.
console = Console(width=None if sys.stdout.isatty() else 150)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="scenario to run (repeatable; default: smoke)")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument("--all", action="store_true", help="run every shipped scenario")
    parser.add_argument("--kafka", action="store_true",
                        help="also run through the Kafka broker and a real worker, and compare")
    parser.add_argument("--out", type=Path, default=Path("reports"),
                        help="report directory (default: reports)")
    parser.add_argument("--bootstrap", default=None,
                        help="Kafka bootstrap servers for --kafka (default: from the environment)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for the worker per scenario with --kafka")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--heldout", action="store_true",
                        help="held-out evaluation: every red-team scenario and both parts of "
                             "the first simulator's split, curves and the headline table")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="with --heldout: shrink red-team populations (0 < scale <= 1)")
    parser.add_argument("--first-sim", default=",".join(FIRST_SIM_SCENARIOS),
                        help="with --heldout: first-simulator scenarios evaluated per part "
                             "(comma-separated; empty for none)")
    parser.add_argument("--readme", type=Path, default=None,
                        help="also splice the summary table into this Markdown file, between "
                             "<!-- eval:start --> and <!-- eval:end -->")


def _tactic_table(result: EvalResult) -> Table:
    m = result.metrics
    table = Table(title=f"{result.name} (seed {result.seed})", title_justify="left")
    for i, col in enumerate(TACTIC_COLUMNS):
        table.add_column(col, justify="left" if i == 0 else "right")
    rows = tactic_rows(result)
    for i, row in enumerate(rows):
        table.add_row(*row, style="bold" if i == len(rows) - 1 else None)
    table.caption = (
        f"ordinary FPR ≥medium {fmt_fraction(m.ordinary_fpr.alerted, m.ordinary_fpr.total)} · "
        f"look-alike FPR {fmt_fraction(m.lookalike_fpr.alerted, m.lookalike_fpr.total)} · "
        f"precision {fmt_fixed(m.precision)} · "
        f"alerts/flagged customer {fmt_fixed(m.noise.alert_ids_per_customer.mean)}\n"
        f"{fmt_num(result.events, 0)} events, {m.customers} customers · "
        f"wall {result.wall_time_s:.1f} s ({fmt_num(result.events_per_s, 0)} events/s)"
    )
    table.caption_justify = "left"
    return table


def _summary_table(results: list[EvalResult]) -> Table:
    table = Table(title="summary", title_justify="left")
    for i, col in enumerate(SUMMARY_COLUMNS):
        table.add_column(col, justify="left" if i == 0 else "right")
    for r in results:
        table.add_row(*summary_row(r.to_json()))
    return table


def run_heldout_command(args: argparse.Namespace) -> int:
    """``--heldout``: the held-out headline, curves, report and README table."""
    from streamer.evaluation.heldout import run_heldout, write_heldout
    from streamer.sim import list_scenarios

    first = [s for s in str(args.first_sim).split(",") if s]
    unknown = [s for s in first if s not in list_scenarios()]
    if unknown:
        console.print(f"[red]unknown scenario(s): {', '.join(unknown)}[/]")
        return 2
    if not 0 < args.scale <= 1:
        console.print("[red]--scale must be in (0, 1][/]")
        return 2
    run = run_heldout(args.seed, scale=args.scale, first_sim=first,
                      progress=not args.no_progress, console=console)
    index, md = write_heldout(run, args.out)
    if args.readme is not None:
        extra = "" if args.scale == 1 else f" --scale {args.scale}"
        splice_readme(args.readme, md, args.seed,
                      command=f"streamer evaluate --heldout --seed {args.seed}{extra}")
    console.print(md)
    console.print(f"held-out report [bold]{index}[/] · total wall time {run.wall_s:.1f} s")
    return 0


def run(args: argparse.Namespace) -> int:
    from streamer.evaluation.runner import compare, evaluate_kafka, evaluate_offline
    from streamer.sim import list_scenarios

    if getattr(args, "heldout", False):
        return run_heldout_command(args)
    known = list(list_scenarios())
    scenarios = known if args.all else list(dict.fromkeys(args.scenario or ["smoke"]))
    unknown = [s for s in scenarios if s not in known]
    if unknown:
        console.print(f"[red]unknown scenario(s): {', '.join(unknown)}[/] "
                      f"(known: {', '.join(known)})")
        return 2
    progress = not args.no_progress
    out: Path = args.out
    results: list[EvalResult] = []
    started = time.perf_counter()
    for name in scenarios:
        offline = evaluate_offline(name, args.seed, progress=progress)
        results.append(offline)
        write_report(offline, out)
        console.print(_tactic_table(offline))
        if args.kafka:
            kafka = evaluate_kafka(name, args.seed, args.bootstrap, timeout_s=args.timeout,
                                   progress=progress)
            diff = compare(offline, kafka)
            kafka.extra["comparison_with_offline"] = diff.to_dict()
            results.append(kafka)
            write_report(kafka, out)
            console.print(_tactic_table(kafka))
            verdict = "[green]agree[/]" if diff.same_flagged else "[yellow]differ[/]"
            console.print(
                f"offline vs kafka: flagged customers {verdict}; "
                f"only offline {diff.flagged_only_in_first or '-'}, "
                f"only kafka {diff.flagged_only_in_second or '-'}; "
                f"severity differences: {len(diff.severity_differences)}; "
                f"kafka run outcome: {kafka.extra.get('outcome')}"
            )
    order = [n for name in known for n in (name, f"{name}-kafka")]
    summary = write_summary(out, order=order)
    if args.readme is not None:
        splice_readme(args.readme, summary.read_text(), args.seed)
    console.print(_summary_table(results))
    console.print(f"reports in [bold]{out}/[/] · summary [bold]{summary}[/] · "
                  f"total wall time {time.perf_counter() - started:.1f} s")
    return 0


START, END = "<!-- eval:start -->", "<!-- eval:end -->"


def splice_readme(readme: Path, summary_md: str, seed: int, command: str | None = None) -> None:
    """Replace the text between the eval markers of ``readme`` with ``summary_md``.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "R.md"
    >>> _ = p.write_text("a\\n<!-- eval:start -->\\nold\\n<!-- eval:end -->\\nb\\n")
    >>> splice_readme(p, "| t |", 0)
    >>> "old" in p.read_text(), "| t |" in p.read_text()
    (False, True)
    """
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    summary_md = "\n".join(line for line in summary_md.splitlines()
                           if not line.startswith("# "))  # the README has its own heading
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    command = command or f"streamer evaluate --all --seed {seed}"
    body = (f"{START}\n_Generated by `make eval` (`{command}`); "
            f"do not edit by hand._\n\n{summary_md.strip()}\n{END}")
    readme.write_text(head + body + tail)
