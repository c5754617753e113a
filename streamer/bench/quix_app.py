"""The peer: a Quix Streams app running the same pure per-customer core.

Per-customer :class:`~streamer.core.customer.CustomerState` lives in Quix's own state (RocksDB
with a changelog topic), serialised with the project's codec (``streamer.core.codec``); one
:class:`~streamer.core.population.Population` per partition in memory, as in the worker. Alerts
go to ``BENCH_ALERTS_TOPIC``. The cross-account cluster stage and quiet-time ticks are not
wired (the per-event hot path is what is compared).

Run by ``make bench`` as ``python -m streamer.bench.quix_app``; configured by ``BENCH_APP_ID``
(consumer group), ``BENCH_TOPIC``, ``BENCH_ALERTS_TOPIC``, ``BENCH_DATA_DIR``,
``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import os
import time
from typing import Any


def _dumps(value: Any) -> bytes:
    """Quix serialises state *keys* (the message key as a prefix, the state name) with the same
    ``dumps`` as values: strings as UTF-8, states with the project's codec (values are only
    ever loaded back, keys never)."""
    from streamer.core import codec

    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    return codec.encode(value)


def main() -> None:
    from quixstreams import Application
    from quixstreams.context import message_context
    from quixstreams.state.rocksdb import RocksDBOptions

    from streamer.core import codec, customer
    from streamer.core.customer import CustomerState
    from streamer.core.events import decode_event
    from streamer.core.outputs import Alert
    from streamer.core.population import Population
    from streamer.errors import InvalidEvent

    app = Application(
        broker_address=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
        consumer_group=os.environ.get("BENCH_APP_ID", "bench-quix"),
        auto_offset_reset="earliest",
        state_dir=os.environ.get("BENCH_DATA_DIR", ".local/bench-quix"),
        commit_interval=1.0,
        rocksdb_options=RocksDBOptions(dumps=_dumps, loads=codec.decode),
        loglevel="WARNING",
    )
    events = app.topic(os.environ.get("BENCH_TOPIC", "bench-quix"), value_deserializer="bytes",
                       key_deserializer="str")
    alerts = app.topic(os.environ.get("BENCH_ALERTS_TOPIC", "bench-quix-alerts"),
                       value_serializer="json", key_serializer="str")
    populations: dict[int, Population] = {}
    watermarks: dict[int, int] = {}

    def detect(value: bytes, state: Any) -> list[dict[str, Any]]:
        try:
            event = decode_event(value)
        except InvalidEvent:
            return []
        ctx = message_context()
        part = ctx.partition
        watermarks[part] = max(watermarks.get(part, 0), event.ts_ms)
        st = state.get("customer") or CustomerState(event.customer_id)
        pop = populations.get(part)
        if pop is None:
            pop = populations[part] = Population()
        st, outs = customer.step(st, event, pop, offset=ctx.offset,
                                 watermark_ms=watermarks[part])
        state.set("customer", st)
        now_ms = int(time.time() * 1000)
        return [o.to_dict(emitted_at_ms=now_ms) for o in outs if isinstance(o, Alert)]

    sdf = app.dataframe(events).apply(detect, stateful=True, expand=True)
    sdf.to_topic(alerts)
    app.run()


if __name__ == "__main__":
    main()
