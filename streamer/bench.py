"""``make bench``: throughput and state-size benchmark of the pure core, with baselines.

Every figure is reported next to a baseline measured in the same run, as a ratio, so the numbers
mean something on any machine:

* core replay throughput vs. decode-and-validate only (the floor any detector pays);
* encoded per-customer state vs. River's default HalfSpaceTrees (the model the guide warns about);
* per-customer state encode time vs. pickling that same default HalfSpaceTrees.

Writes ``reports/bench.json``.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import track
from rich.table import Table
from river import anomaly

from streamer.core import codec
from streamer.core.engine import Engine
from streamer.core.events import decode_event

console = Console()


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_bench(scenario: str, limit: int) -> dict[str, Any]:
    from streamer.sim import simulate

    raw = [orjson.dumps(e) for e in simulate(scenario, 0).events()][:limit]
    t0 = time.perf_counter()
    events = [decode_event(r) for r in raw]
    decode_s = time.perf_counter() - t0

    engine = Engine()
    t0 = time.perf_counter()
    for ev in track(events, description=f"replaying {len(events)} events of {scenario}",
                    console=console, transient=True):
        engine.process(ev)
    engine.finish()
    replay_s = time.perf_counter() - t0

    sizes = [len(codec.encode(st)) for st in engine.customers.values()]
    states = list(engine.customers.values())
    t0 = time.perf_counter()
    for st in states:
        codec.encode(st)
    encode_us = (time.perf_counter() - t0) / len(states) * 1e6

    hst = anomaly.HalfSpaceTrees(seed=1)
    for ev in events[:2000]:
        hst.learn_one({"x": min(1.0, ev.output_tokens / 4000),
                       "y": min(1.0, ev.input_tokens / 8000)})
    hst_bytes = len(pickle.dumps(hst))
    t0 = time.perf_counter()
    for _ in range(20):
        pickle.dumps(hst)
    hst_us = (time.perf_counter() - t0) / 20 * 1e6

    return {
        "scenario": scenario,
        "events": len(events),
        "customers": len(states),
        "decode_events_per_s": len(events) / decode_s,
        "core_events_per_s": len(events) / replay_s,
        "core_us_per_event": replay_s / len(events) * 1e6,
        "core_cost_vs_decode": replay_s / decode_s,
        "state_bytes_median": statistics.median(sizes),
        "state_bytes_p95": _quantile(sizes, 0.95),
        "state_bytes_max": max(sizes),
        "state_budget_bytes": 20_000,
        "default_hst_bytes": hst_bytes,
        "state_vs_default_hst": statistics.median(sizes) / hst_bytes,
        "state_encode_us": encode_us,
        "default_hst_pickle_us": hst_us,
        "encode_vs_hst_pickle": encode_us / hst_us,
        "population_bytes": len(codec.encode(engine.population)),
        "customers_at_p95_per_worker_gb": 100_000 * _quantile(sizes, 0.95) / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="day")
    parser.add_argument("--limit", type=int, default=60_000)
    parser.add_argument("--out", default="reports/bench.json")
    args = parser.parse_args(argv)
    result = run_bench(args.scenario, args.limit)
    table = Table("measure", "value", "baseline (same run)", "ratio", title="streamer core bench")
    table.add_row("throughput (events/s)", f"{result['core_events_per_s']:,.0f}",
                  f"decode only: {result['decode_events_per_s']:,.0f}",
                  f"{result['core_cost_vs_decode']:.1f}x the decode cost")
    table.add_row("state per customer (bytes, median / p95 / max)",
                  f"{result['state_bytes_median']:,.0f} / {result['state_bytes_p95']:,.0f} / "
                  f"{result['state_bytes_max']:,.0f}",
                  f"default HalfSpaceTrees: {result['default_hst_bytes']:,}",
                  f"{result['state_vs_default_hst']:.4f}x")
    table.add_row("state encode (µs per customer)", f"{result['state_encode_us']:.0f}",
                  f"pickle default HST: {result['default_hst_pickle_us']:.0f}",
                  f"{result['encode_vs_hst_pickle']:.3f}x")
    table.add_row("population view (bytes, per partition)", f"{result['population_bytes']:,}",
                  "", "")
    table.add_row("100k customers at p95 state (GB)",
                  f"{result['customers_at_p95_per_worker_gb']:.2f}", "budget: 2.00", "")
    console.print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    console.print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
