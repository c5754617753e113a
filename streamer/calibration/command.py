"""``streamer calibrate``: fit the detector's weights on calibration traffic and ship them.

    streamer calibrate                      # fit, show the figures, write the package weights
    streamer calibrate --scenarios 8 --out /tmp/w.json   # a quick fit elsewhere
    streamer calibrate --dry-run            # fit and show, write nothing
    streamer calibrate --objective bag      # the per-customer (multiple-instance) objective
    streamer calibrate --compare            # also cross-validate the other objective

The fit is reproducible: the same ``--seed``, ``--scenarios``, ``--rounds`` and code give the
same weights (the date is recorded, not used).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from streamer.calibration.fit import FitReport

console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
PACKAGE_WEIGHTS = Path(__file__).resolve().parent.parent / "core" / "weights" / \
    "detector-weights.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="fit seed (default 0)")
    parser.add_argument("--scenarios", type=int, default=20,
                        help="randomised calibration scenarios per round (default 20)")
    parser.add_argument("--shipped", action="append", metavar="NAME", default=None,
                        help="shipped scenario to add, on its calibration side with another "
                             "seed (repeatable; default: lookalikes)")
    parser.add_argument("--no-shipped", action="store_true",
                        help="randomised scenarios only (no shipped scenario)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="collect/fit rounds; a round collects with the previous fit "
                             "(default 2)")
    parser.add_argument("--objective", choices=("bag", "point"), default="point",
                        help="bag: per-customer multiple-instance loss (a customer scored by a "
                             "smooth max of its scoring points, as the alert rule does); point: "
                             "the per-scoring-point loss (default point)")
    parser.add_argument("--compare", action="store_true",
                        help="in the last round, also cross-validate the other objective on "
                             "the same data (figures recorded in the weights' metadata)")
    parser.add_argument("--target-fpr", type=float, default=0.005,
                        help="share of ordinary calibration customers allowed at medium "
                             "(default 0.005)")
    parser.add_argument("--out", type=Path, default=PACKAGE_WEIGHTS,
                        help="where to write the weights (default: the package's)")
    parser.add_argument("--dry-run", action="store_true", help="do not write the weights")
    parser.add_argument("--weights", type=Path, default=None,
                        help="with --measure: measure these weights instead of the package's")
    parser.add_argument("--measure", type=int, default=0, metavar="N",
                        help="only measure the current weights on N fresh calibration "
                             "scenarios (seeds apart from the fit's) and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _figures(title: str, d: dict[str, Any]) -> str:
    if not d:
        return f"{title}: -"
    return (f"{title}: campaigns {d['campaigns_detected']}/{d['campaigns']}, accounts "
            f"{d['accounts_detected']}/{d['accounts']}, ordinary flagged "
            f"{d['ordinary_flagged']}/{d['ordinary']}, look-alikes flagged "
            f"{d['lookalikes_flagged']}/{d['lookalikes']}")


def run(args: argparse.Namespace) -> int:
    from streamer.core import scoring

    started = time.perf_counter()
    if args.measure:
        return _measure(args)
    shipped = () if args.no_shipped else (
        tuple(args.shipped) if args.shipped is not None else ("lookalikes",))
    reference = scoring.WEIGHTS
    try:
        report = _rounds(args, shipped)
    finally:
        scoring.use_weights(reference)  # this process scores with the package weights again
    table = Table(title="fitted weights (log-odds at full ramp)", title_justify="left")
    table.add_column("signal")
    table.add_column("before", justify="right")
    table.add_column("fitted", justify="right")
    for name, w in report.weights.weights.items():
        table.add_row(name, f"{reference.weights.get(name, 0.0):+.2f}", f"{w:+.2f}")
    table.add_row("prior", f"{reference.prior:+.2f}", f"{report.weights.prior:+.2f}",
                  style="bold")
    console.print(table)
    console.print(f"fit time {time.perf_counter() - started:.0f} s")
    if not args.dry_run:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.weights.to_json(), indent=1) + "\n",
                            encoding="utf-8")
        console.print(f"weights written to [bold]{args.out}[/]")
    return 0


def _rounds(args: argparse.Namespace, shipped: tuple[str, ...]) -> FitReport:
    """Collect and fit ``args.rounds`` times, each round collecting with the previous fit."""
    from streamer.calibration.collect import collect, default_specs
    from streamer.calibration.fit import fit
    from streamer.core import scoring

    # Round 1 always collects with the hand-set bootstrap table, so the fit does not depend on
    # whichever weights happen to be installed.
    scoring.use_weights(scoring.load_weights(scoring.BOOTSTRAP_RESOURCE))
    report: FitReport | None = None
    for r in range(max(1, args.rounds)):
        console.print(f"[bold]round {r + 1}/{args.rounds}[/]: collecting with "
                      f"{scoring.WEIGHTS.meta.get('model', 'the shipped weights')}")
        specs = default_specs(args.seed + r, args.scenarios, shipped)
        data = collect(specs, progress=not args.no_progress)
        description = {
            "generator": "streamer.sim (calibration part: streamer.sim.split)",
            "scenarios": [f"random_scenario(seed, 'calibration') x {args.scenarios}",
                          *[f"{name} (calibration part)" for name in shipped]],
            "seeds": sorted({s.seed for s in specs}),
            "rounds": args.rounds,
        }
        last = r == max(1, args.rounds) - 1
        report = fit(data, seed=args.seed, target_fpr=args.target_fpr,
                     reference=scoring.WEIGHTS, description=description,
                     objective=args.objective, compare=args.compare and last)
        temperature = "" if report.temperature is None else f", T {report.temperature:g}"
        console.print(f"  {data.y.size:,} scoring points from {data.events:,} events, "
                      f"{len(data.customers):,} customers; objective {report.objective}, "
                      f"L2 {report.l2:g}{temperature}")
        for objective, grid in {report.objective: report.cv, **report.compared}.items():
            for key, d in grid.items():
                console.print(f"    CV {objective} {key}: campaigns "
                              f"{d['campaigns_detected']:.0f}/{d['campaigns']:.0f}, accounts "
                              f"{d['accounts_detected']:.0f}/{d['accounts']:.0f}, ordinary "
                              f"{d['ordinary_flagged']:.0f}/{d['ordinary']:.0f}"
                              + (f", point log loss {d['point_log_loss']:.4f}"
                                 if "point_log_loss" in d else ""))
        console.print("  " + _figures("collected-with weights at medium", report.before))
        console.print("  " + _figures("fitted weights at medium", report.after))
        scoring.use_weights(report.weights)
    assert report is not None
    return report


#: Seeds of the measurement scenarios: far from those any fit uses (seed * 10_000 + k).
MEASURE_SEED = 9_999


def _measure(args: argparse.Namespace) -> int:
    """Detection of the current weights on fresh calibration traffic (exactly as the core
    alerts: a customer counts as flagged when one scoring point reaches *medium*)."""
    import numpy as np

    from streamer.calibration.collect import FEATURES, collect, default_specs
    from streamer.calibration.fit import MEDIUM_LOGIT, detection
    from streamer.core import scoring

    shipped = () if args.no_shipped else (
        tuple(args.shipped) if args.shipped is not None else ("lookalikes",))
    if args.weights is not None:
        scoring.use_weights(scoring.Weights.from_json(json.loads(args.weights.read_text())))
    data = collect(default_specs(MEASURE_SEED, args.measure, shipped),
                   progress=not args.no_progress)
    w = np.asarray([scoring.SIGNAL_BY_NAME[n].weight for n in FEATURES])
    d = detection(data, scoring.PRIOR + data.x @ w, MEDIUM_LOGIT)
    console.print(f"{scoring.WEIGHTS.meta.get('model')}: {data.events:,} events")
    console.print(_figures("at medium", d))
    print(json.dumps(d))
    return 0
