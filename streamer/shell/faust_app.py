"""The Faust application: topics, tables, agents, web pages. Thin by design.

Agents decode, call the core (through :mod:`streamer.shell.processor`), store state, send.

* ``detect`` consumes the input topic together with the cluster-verdict and feedback topics
  (all keyed by customer_id and co-partitioned), so one agent is the single writer of a
  customer's state table entry.
* ``cluster`` consumes cluster signals keyed by fingerprint token and keeps the token index.

State is written once per batch of changed keys, inside the batch, before its offsets are
acknowledged; Faust flushes the producer (changelog included) before it commits offsets, so a
committed offset never runs ahead of the state that reflects it.
"""

from __future__ import annotations

import contextvars
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event

from streamer.settings import Settings
from streamer.shell.processor import (
    BatchResult,
    ClusterProcessor,
    CustomerProcessor,
    Message,
    wall_ms,
)


@contextmanager
def as_current_event(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event, so a table write goes to *its* partition."""
    token: contextvars.Token[Any] = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class Health:
    """What ``/health`` reports: agents alive and the worker consuming."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last_batch = time.monotonic()
        self.failure: str | None = None
        self.batches = 0

    def beat(self) -> None:
        self.last_batch = time.monotonic()
        self.batches += 1


def _broker_url(bootstrap: str) -> list[str]:
    return [f"kafka://{hp.strip()}" for hp in bootstrap.split(",") if hp.strip()]


def create_app(settings: Settings) -> faust.App:
    conf: dict[str, Any] = {
        "broker": _broker_url(settings.bootstrap_servers),
        "store": settings.store,
        "datadir": settings.data_dir,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "processing_guarantee": settings.processing_guarantee,
        "web_port": settings.web_port,
        "web_host": settings.web_host,
        "web_bind": settings.web_host,
        "consumer_auto_offset_reset": "earliest",
        "producer_max_request_size": max(settings.max_message_bytes * 2, 1_048_576),
        "consumer_max_fetch_size": max(settings.max_message_bytes * 2, 1_048_576),
        "stream_buffer_maxsize": 4096,
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        "table_standby_replicas": 0,
        "web_in_thread": False,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    if settings.store.startswith("rocksdb"):
        conf["table_key_index_size"] = 1000
    if settings.group_instance_id:
        conf["consumer_group_instance_id"] = settings.group_instance_id
    if settings.security_protocol != "PLAINTEXT":
        conf["broker_credentials"] = _credentials(settings)
    app = faust.App(settings.app_id, **conf)
    wire(app, settings)
    return app


def _credentials(settings: Settings) -> Any:
    import ssl

    ctx = None
    if settings.security_protocol.endswith("SSL"):
        ctx = ssl.create_default_context(cafile=settings.ssl_cafile or None)
        if settings.ssl_certfile:
            ctx.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
    if settings.sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.sasl_username, password=settings.sasl_password,
            mechanism=settings.sasl_mechanism, ssl_context=ctx,
        )
    return faust.SSLCredentials(ctx)


def wire(app: faust.App, s: Settings) -> None:
    """Declare topics, tables, agents, pages and rebalance hooks on ``app``."""
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes,
                           "key_serializer": "raw", "value_serializer": "raw"}
    signals_name, verdicts_name = f"{s.app_id}-cluster-signals", f"{s.app_id}-cluster-verdicts"
    # (``streamer worker`` creates both before starting; see shell/worker.py.)
    customer_in = app.topic(s.input_topic, verdicts_name, s.feedback_topic,
                            partitions=s.partitions, **raw)
    verdicts = app.topic(verdicts_name, partitions=s.partitions, internal=True, **raw)
    signals = app.topic(signals_name, partitions=s.partitions, internal=True, **raw)
    outputs = {name: app.topic(name, **raw) for name in
               (s.alerts_topic, s.features_topic, s.dlq_topic, signals_name, verdicts_name)}
    outputs[verdicts_name], outputs[signals_name] = verdicts, signals
    states = app.Table("customer-state", partitions=s.partitions, key_type=bytes,
                       value_type=bytes)
    tokens = app.Table("cluster-index", partitions=s.partitions, key_type=bytes,
                       value_type=bytes)
    proc = CustomerProcessor(
        input_topic=s.input_topic, verdicts_topic=verdicts_name, feedback_topic=s.feedback_topic,
        alerts_topic=s.alerts_topic, features_topic=s.features_topic, dlq_topic=s.dlq_topic,
        signals_topic=signals_name, max_message_bytes=s.max_message_bytes,
    )
    clusters = ClusterProcessor(verdicts_topic=verdicts_name)
    health = Health()
    snapshot = {"at": time.monotonic()}
    app.streamer_processor, app.streamer_health = proc, health  # for pages and tests

    async def emit(result: BatchResult, table: Any) -> None:
        # Outputs first, and only once the broker has them the states: a restart skips the
        # events a stored state already reflects, so an alert still in flight when the worker
        # dies after its state was stored (RocksDB writes are immediate) would never be sent.
        # This order makes a crash re-send instead (same alert_id: at least once).
        sent = [await outputs[out.topic].send(key=out.key, value=out.value,
                                              headers=out.headers or None)
                for out in result.sends]
        for fut in sent:
            await fut
        for key, (msg, value) in result.writes.items():
            with as_current_event(msg):
                table[key.encode()] = value
        # Hand this batch's changelog records to the producer before the batch is acked, so
        # the commit covering its offsets also covers its state (a commit flushes only what
        # was handed over; with exactly_once it flushes nothing of Faust's buffer itself).
        buffer = app.producer.buffer
        while buffer.size:
            await buffer.flush()

    def get(table: Any) -> Any:
        return lambda key: table.get(key.encode())

    @app.agent(customer_in, name="detect")
    async def detect(stream: Any) -> None:
        async for batch in stream.take_events(s.batch_size, within=s.batch_within_s):
            messages = [_message(ev) for ev in batch]
            result = proc.process_batch(messages, get(states), wall_ms())
            await emit(_with_events(result, messages, batch), states)
            if time.monotonic() - snapshot["at"] >= s.model_snapshot_interval_s:
                snapshot["at"] = time.monotonic()
                last = {m.partition: ev for m, ev in zip(messages, batch, strict=True)}
                for key, (partition, value) in proc.snapshot_populations().items():
                    if partition in last:
                        with as_current_event(last[partition]):
                            states[key.encode()] = value
            health.beat()

    @app.agent(signals, name="cluster")
    async def cluster(stream: Any) -> None:
        async for batch in stream.take_events(s.batch_size, within=s.batch_within_s):
            messages = [_message(ev) for ev in batch]
            result = clusters.process_batch(messages, get(tokens))
            await emit(_with_events(result, messages, batch), tokens)
            health.beat()

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        proc.forget_partitions(tp.partition for tp in revoked)
        clusters.forget_partitions(tp.partition for tp in revoked)

    from streamer.shell.web import register_pages

    register_pages(app, proc, states, health)
    del detect, cluster, on_revoked  # registered on the app


def _message(ev: Any) -> Message:
    m = ev.message
    return Message(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key,
                   value=m.value if m.value is not None else b"")


def _with_events(result: BatchResult, messages: list[Message], batch: list[Any]) -> BatchResult:
    """Swap each write's :class:`Message` for the Faust event it came from (for partitioning)."""
    by_id = {id(m): ev for m, ev in zip(messages, batch, strict=True)}
    result.writes = {k: (by_id[id(m)], v) for k, (m, v) in result.writes.items()}
    return result

