"""``python -m streamer.bench`` (see :mod:`streamer.bench`)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from streamer.bench import broker, hotspots, report
from streamer.bench.core import encoded_events, offline_core, scenario_events, state_per_customer
from streamer.shell.topics import delete_topics

console = Console()
#: The parts of a run, in order (``--only`` picks some; latency, recovery and the profiled run
#: need the worker part, whose rate they are paced at).
PARTS = ("offline", "ceilings", "quix", "worker", "recovery", "latency", "profile",
         "two_workers")


def _section(result: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one part; a failure is recorded (and fails the run at the end), not fatal now."""
    t0 = time.perf_counter()
    console.print(f"[bold]bench:[/bold] {name} …")
    try:
        value = fn()
    except Exception as exc:  # reported in the results and the exit code
        console.print(f"[red]bench: {name} failed: {exc!r}[/red]")
        result.setdefault("errors", {})[name] = "".join(traceback.format_exception(exc))[-2000:]
        return None
    console.print(f"  done in {time.perf_counter() - t0:.1f} s")
    return value


def _keep(runs: list[dict[str, Any]], run: dict[str, Any] | None) -> None:
    if run:
        runs.append(run)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median events/s (the lower middle of an even count), its private
    ``_`` keys left out, with every round's events/s beside it.

    >>> _median_run([{"events_per_s": 3.0}, {"events_per_s": 1.0, "_x": 0},
    ...              {"events_per_s": 2.0}])
    {'events_per_s': 2.0, 'rounds_events_per_s': [3.0, 1.0, 2.0]}
    """
    ordered = sorted(runs, key=lambda r: float(r["events_per_s"]))
    middle = ordered[(len(ordered) - 1) // 2]
    return {**{k: v for k, v in middle.items() if not k.startswith("_")},
            "rounds_events_per_s": [r["events_per_s"] for r in runs]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    rounds = max(1, args.rounds or (1 if quick else 3))
    n = args.events or (3_000 if quick else 60_000)
    n_worker = min(n, args.worker_events or (2_000 if quick else 30_000))
    load = os.getloadavg()[0]
    result: dict[str, Any] = {"quick": quick, "events": n, "scenario": args.scenario,
                              "partitions": broker.PARTITIONS, "worker_events": n_worker,
                              "machine": f"{os.cpu_count()} cores, load average {load:.1f} at "
                                         "start"}
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {sorted(unknown)}; parts: {', '.join(PARTS)}")
    result["parts"] = sorted(parts, key=PARTS.index)
    result["rounds"] = rounds
    off = _section(result, "offline core",
                   lambda: offline_core(args.offline_events or n, args.scenario)
                   ) if "offline" in parts else None
    if off:
        engine = off.pop("_engine")
        result["offline"] = off
        result["mean_event_bytes"] = off["mean_event_bytes"]
        counts = (1_000, 5_000) if quick else (10_000, 100_000)
        result["state"] = _section(result, "state per customer",
                                   lambda: state_per_customer(engine, counts))
        del engine
    if args.offline_only:
        for key in ("raw", "faust_noop", "worker", "quix"):
            result[key] = {"skipped": "--offline-only"}
        return result

    from streamer.settings import Settings
    from streamer.shell import localkafka

    bootstrap = args.bootstrap or localkafka.bootstrap_for(Settings.from_env())
    localkafka.wait_ready(bootstrap, 60)
    work = Path(tempfile.mkdtemp(prefix="streamer-bench-"))
    records = encoded_events(n, args.scenario)
    n = len(records)
    # the events after the worker's share are the ones produced after its kill -9: a stream
    # shorter than asked for (the smoke scenario on the fallback corpora: 1,784 events) keeps
    # them too, or the recovered worker had nothing to process and the run waited it out
    n_after_kill = min(500 if quick else 5_000, n // 4)
    n_worker = result["worker_events"] = min(n_worker, n - n_after_kill)
    ids = [str(e["event_id"]).encode() for e in scenario_events(args.scenario)[:n]]
    timeout = 120 if quick else 400
    try:
        topic = broker.fresh("ceilings")
        broker.create_topic(bootstrap, topic)
        broker.produce(bootstrap, topic, records)
        # The throughput runs, interleaved in rounds (raw, no-op, Quix, worker; again): on a
        # shared machine the speed drifts over minutes, and a consumer measured alone in a slow
        # minute would take the drift for its own cost. Each figure is its median over the
        # rounds; the ratios are taken between the medians.
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in ("raw", "faust_noop", "quix",
                                                                 "worker")}
        w: dict[str, Any] | None = None
        for r in range(rounds):
            tag = f" (round {r + 1} of {rounds})" if rounds > 1 else ""
            if "ceilings" in parts:
                _keep(runs["raw"], _section(result, "raw aiokafka ceiling" + tag,
                                            lambda: broker.raw_ceiling(bootstrap, topic, n)))
                _keep(runs["faust_noop"], _section(
                    result, "no-op Faust agent" + tag, lambda: broker.run_child(
                        "streamer.bench.noop_faust", bootstrap, topic, n, work, timeout,
                        "worker", "-l", "warn")))
            if "quix" in parts:
                _keep(runs["quix"], _section(
                    result, "Quix Streams peer" + tag, lambda: broker.run_child(
                        "streamer.bench.quix_app", bootstrap, topic, n_worker, work, timeout,
                        extra={"BENCH_ALERTS_TOPIC": broker.fresh("quix-alerts")})))
            if "worker" in parts:
                if w is not None:  # the last round's worker stays up: the recovery kills it
                    broker.stop_all(w, bootstrap)
                w = _section(result, "streamer worker" + tag, lambda: broker.worker_throughput(
                    bootstrap, records[:n_worker], work, timeout_s=timeout))
                _keep(runs["worker"], w)
        for key, done in runs.items():
            if done:
                result[key] = _median_run(done)
        delete_topics(bootstrap, [topic])

        spy: list[Any] = []
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("worker-flamegraph.svg", "worker-stacks.txt"):
            (out / stale).unlink(missing_ok=True)

        def profile(pid: int) -> None:
            """py-spy on the worker of the profiled run (under load, measuring nothing else)."""
            if args.no_py_spy:
                return
            secs = 4 if quick else 18
            spy.append(hotspots.record(pid, out / "worker-flamegraph.svg", secs, "flamegraph"))
            spy.append(hotspots.record(pid, out / "worker-stacks.txt", secs, "raw"))

        if w:
            more = records[n_worker: n_worker + n_after_kill]
            if "recovery" in parts:
                result["recovery"] = _section(result, "recovery after kill -9",
                                              lambda: broker.recovery(bootstrap, w, more, work))
            broker.stop_all(w, bootstrap)
            max_rate = float(result["worker"]["events_per_s"])
            lat = []
            for fraction in (0.5, 0.9) if "latency" in parts else ():
                rate = max(10.0, fraction * max_rate)
                count = min(n, int(rate * (4 if quick else 20)))

                def paced(r: float = rate, c: int = count) -> dict[str, Any]:
                    return broker.latency(bootstrap, records[:c], ids[:c], r, work)

                one = _section(result, f"latency at {fraction:.0%}", paced)
                if one:
                    lat.append({"load": fraction, **one})
            # A separate paced run at 90 % with py-spy attached: the flamegraph comes from a
            # worker under load, and no reported throughput or latency pays for the sampler.
            rate = max(10.0, 0.9 * max_rate)
            count = min(n, int(rate * (4 if quick else 20)))
            if "profile" in parts:
                result["profiled_run"] = _section(
                    result, "py-spy of the worker at 90 %", lambda: broker.latency(
                        bootstrap, records[:count], ids[:count], rate, work, profile))
            for proc in spy:
                if proc is not None:
                    proc.wait(120)
            stacks = out / "worker-stacks.txt"
            if stacks.exists():
                result["hotspots"] = hotspots.summarise(stacks)
            elif not args.no_py_spy:
                result["hotspots"] = {"skipped": "py-spy not installed or not permitted"}
            result["latency"] = lat
        two = _section(result, "two workers", lambda: broker.worker_throughput(
            bootstrap, records[:n_worker], work, n_workers=2, timeout_s=timeout)
        ) if "two_workers" in parts else None
        if two:
            result["two_workers"] = {k: v for k, v in two.items() if not k.startswith("_")}
            broker.stop_all(two, bootstrap)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamer.bench",
                                     description="streamer's benchmark (see streamer.bench)")
    parser.add_argument("--quick", action="store_true", help="small stream: a smoke run")
    parser.add_argument("--offline-only", action="store_true", help="no broker parts")
    parser.add_argument("--events", type=int, default=0, help="stream length (default 60,000)")
    parser.add_argument("--worker-events", type=int, default=0,
                        help="events for the worker runs (default 30,000)")
    parser.add_argument("--offline-events", type=int, default=0)
    parser.add_argument("--scenario", default="day", help="simulator scenario of the stream")
    parser.add_argument("--bootstrap", default="", help="default: KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--out", default="reports/bench")
    parser.add_argument("--readme", default="", help="splice the table into this README")
    parser.add_argument("--no-py-spy", action="store_true")
    parser.add_argument("--rounds", type=int, default=0,
                        help="interleaved rounds of the throughput runs (default 3; --quick 1)")
    parser.add_argument("--only", default="",
                        help="comma-separated parts to run (default: all): " + ",".join(PARTS))
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the children (workers, peers) are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.perf_counter()
    result = run(args)
    result["wall_s"] = time.perf_counter() - t0
    out = Path(args.out)
    paths = report.write(result, out)
    if any(report._rate(result, k) for k, _ in report.CONSUMERS):
        report.plot(result, out / "throughput.png")
        paths.append(out / "throughput.png")
    (out / "README.md").write_text(report.markdown(result) + "\n")
    if args.readme:
        report.splice_readme(Path(args.readme), report.markdown(result))
    report.print_table(result, console)
    console.print("written " + ", ".join(str(p) for p in paths))
    if result.get("errors"):
        console.print(f"[red]bench: {len(result['errors'])} part(s) failed: "
                      f"{', '.join(result['errors'])}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
