"""The ``streamer`` command. Each sub-command lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only when used, so
``streamer kafka up`` does not import Faust and nothing does I/O at import time.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from streamer.errors import StreamerError

COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("streamer.shell.worker", "run the Faust worker (consume, detect, emit alerts)"),
    "simulate": ("streamer.sim.command", "produce a labelled simulated traffic stream"),
    "tail": ("streamer.shell.tail", "print alerts from the extraction-risk topic as they arrive"),
    "evaluate": ("streamer.evaluation.command", "score detection on simulated scenarios"),
    "calibrate": ("streamer.calibration.command",
                  "fit the detector's weights on calibration traffic (writes package data)"),
    "demo": ("streamer.shell.demo", "broker + worker + attack simulation, alerts shown live"),
    "kafka": ("streamer.shell.localkafka", "start/stop/check the local Kafka broker"),
    "topics": ("streamer.shell.topics", "create the topics streamer uses"),
    "feedback": ("streamer.shell.feedback", "send an analyst verdict to the feedback topic"),
    "alertmanager": ("streamer.integrations.alertmanager",
                     "forward extraction-risk alerts to Alertmanager (v2 API)"),
    "webhook": ("streamer.integrations.webhook",
                "forward extraction-risk alerts to an HTTP endpoint, HMAC-SHA256 signed"),
    "feast-push": ("streamer.integrations.feast_push",
                   "push customer-features records to a Feast push source (online + offline)"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser; only the chosen sub-command's module is imported."""
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="streamer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == chosen:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a sub-command. A deliberate :class:`StreamerError` (bad settings, rejected
    credentials, no broker) ends it with one ``error:`` line and exit code 2, not a traceback
    (``STREAMER_TRACEBACK=1`` shows the traceback too)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args))
    except StreamerError as exc:
        if os.environ.get("STREAMER_TRACEBACK"):
            raise
        print(f"streamer {args.command}: error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
