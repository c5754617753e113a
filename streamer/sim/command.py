"""``streamer simulate``: generate a labelled scenario to files or to Kafka.

Examples::

    streamer simulate --list
    streamer simulate --scenario day --seed 7 --out day.jsonl --labels day.labels.json
    streamer simulate --scenario smoke --kafka --speedup 60
    streamer simulate --scenario hydra --kafka --asap --topic my-events
"""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console

from streamer.errors import StreamerError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="smoke", metavar="NAME|PATH",
                        help="built-in scenario name or a TOML file (default: smoke)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--list", action="store_true", help="list the built-in scenarios")
    parser.add_argument("--out", metavar="FILE.jsonl", help="write events as JSON Lines")
    parser.add_argument("--labels", metavar="FILE.json", help="write the ground-truth labels")
    parser.add_argument("--kafka", action="store_true",
                        help="produce to Kafka (bootstrap and topic from the settings)")
    parser.add_argument("--topic", help="topic to produce to (default: the input topic)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speedup", type=float, default=None, metavar="X",
                      help="replay event time X times faster than real time")
    pace.add_argument("--asap", action="store_true", help="produce as fast as possible (default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    from streamer.sim.scenario import describe, list_scenarios

    if args.list:
        for name in list_scenarios():
            print(f"{name:12s} {describe(name)}")
        return 0
    if not args.out and not args.kafka and not args.labels:
        console.print("[red]nothing to do:[/] give --out/--labels and/or --kafka (or --list)")
        return 2
    from streamer.sim.simulator import simulate
    from streamer.sim.writers import produce_to_kafka, write_jsonl, write_labels

    try:
        t0 = time.perf_counter()
        with console.status(f"generating scenario {args.scenario!r} (seed {args.seed})"):
            sim = simulate(args.scenario, seed=args.seed)
        labels = sim.labels
        console.print(
            f"[bold]{sim.scenario.name}[/]: {len(sim):,} events, "
            f"{len(labels['customers']):,} customers, {len(labels['campaigns'])} campaigns "
            f"in {time.perf_counter() - t0:.1f}s (data: {sim.data_source})")
        if args.out:
            write_jsonl(sim, args.out, args.labels, progress=not args.quiet)
            console.print(f"events -> {args.out}")
        elif args.labels:
            write_labels(sim, args.labels)
        if args.labels:
            console.print(f"labels -> {args.labels}")
        if args.kafka:
            from streamer.settings import Settings

            settings = Settings.from_env()
            topic = args.topic or settings.input_topic
            speedup = None if args.asap else args.speedup
            n = produce_to_kafka(sim, settings.bootstrap_servers, topic, speedup,
                                 settings.kafka_client_options(), progress=not args.quiet)
            console.print(f"{n:,} events -> {settings.bootstrap_servers} topic {topic}")
    except StreamerError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    p = argparse.ArgumentParser(prog="streamer simulate")
    add_arguments(p)
    sys.exit(run(p.parse_args()))
