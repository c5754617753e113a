"""A no-op Faust agent: ``take(500)`` + orjson decode, nothing else (the framework ceiling).

Run by ``make bench`` as ``python -m streamer.bench.noop_faust worker``; configured by
``BENCH_APP_ID``, ``BENCH_TOPIC``, ``BENCH_DATA_DIR``, ``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import os
from typing import Any

import faust
import orjson

app = faust.App(
    os.environ.get("BENCH_APP_ID", "bench-noop"),
    broker=f"kafka://{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:19092')}",
    store="memory://",
    datadir=os.environ.get("BENCH_DATA_DIR", ".local/bench-noop"),
    topic_partitions=4,
    key_serializer="raw",
    value_serializer="raw",
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    web_enabled=False,
)
topic = app.topic(os.environ.get("BENCH_TOPIC", "bench-noop"), key_type=bytes, value_type=bytes)


@app.agent(topic, name="noop")  # type: ignore[untyped-decorator]  # Faust is untyped
async def noop(stream: Any) -> None:
    async for batch in stream.take(500, within=1.0):
        for value in batch:
            orjson.loads(value)


if __name__ == "__main__":
    import sys

    from faust import Worker

    from streamer.shell import faust_compat
    from streamer.shell.worker import SWITCH_INTERVAL_S

    # Run as the streamer worker runs (streamer.shell.worker), so the ceiling is Faust's best:
    # without the start-up spinner, which leaves the root logger at DEBUG for the life of the
    # process (a log record built for every message fetched), and with the same switch
    # interval. Arguments: ``worker -l LEVEL`` (as ``faust worker`` takes them).
    level = sys.argv[sys.argv.index("-l") + 1] if "-l" in sys.argv else "warn"
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    faust_compat.install_fetch_wait()
    faust_compat.without_spinner(Worker(app, loglevel=level, quiet=True)).execute_from_commandline()
