"""``streamer worker``: create the topics if needed, then run the Faust worker.

Equivalent to ``faust -A streamer.app worker`` with topic creation first. SIGTERM stops it
gracefully (Faust commits what was processed and closes the tables).
"""

from __future__ import annotations

import argparse
import logging
import sys

from streamer.settings import Settings

#: The interpreter's thread switch interval in the worker (seconds; CPython's default is 5 ms).
#: Faust runs its Kafka consumer in a thread of its own: with 5 ms, each time the event loop's
#: thread gives up the GIL for a system call (a socket send, the selector) while the consumer
#: thread has work, the loop can wait up to 5 ms to get it back. In alternating A/B runs on the
#: shared 2-core machine (too noisy for a firm figure) 1 ms gave 1,260 events/s against 1,000
#: on average over four runs each (issue 9).
SWITCH_INTERVAL_S = 0.001


def internal_topics(settings: Settings) -> dict[str, int]:
    """The worker's internal topics (cluster stage), co-partitioned with the input."""
    return dict.fromkeys(settings.cluster_topic_names(), settings.partitions)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", default=None, help="log level (default: STREAMER_LOG_LEVEL)")
    parser.add_argument("--no-create-topics", action="store_true",
                        help="do not create missing topics (a managed cluster creates them)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    loglevel = args.loglevel or settings.log_level
    logging.basicConfig(level=loglevel.upper())
    from streamer.shell.preflight import check_kafka_auth

    check_kafka_auth(settings)  # a wrong SASL password: one clear line, not a retry loop
    if not args.no_create_topics:
        from streamer.shell.topics import ensure_topics

        # The internal cluster topics too: the detect agent subscribes to the verdicts topic
        # alongside the input, and a topic created after subscribing is only seen at the next
        # metadata refresh.
        ensure_topics(settings, internal_topics(settings))
    from faust import Worker

    from streamer.shell import faust_compat

    # Faust's ``on_worker_init`` (connected in faust_app) fires for ``faust -A streamer.app
    # worker`` only; a Worker started from here never sends it, so install the patch now.
    faust_compat.install_consumer_patch()

    from streamer.app import app
    from streamer.shell.datadir import check_data_dir

    check_data_dir(settings, app)

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    worker = faust_compat.without_spinner(Worker(app, loglevel=loglevel, quiet=True))
    worker.execute_from_commandline()
    return 0
