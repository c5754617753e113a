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

import asyncio
import contextvars
import time
import weakref
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event

from streamer.errors import ConfigError
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


def _patch_faust_consumer() -> None:
    """Make Faust 0.15's consumer lose no record around rebalances (idempotent).

    Found by ``tests/durability/test_rebalance.py`` (one to three events lost in about half
    the runs): around a rebalance or a seek, Faust's consumer hands a record to the stream
    which is then neither processed nor acked (flow suspended, fetch cut short), and its
    offset bookkeeping lets the commit pass it:

    1. after a seek the read offset is the *next* offset, so a record fetched before the seek
       and delivered after it looks like a jump, and the offsets in between are recorded as
       a "gap" (offsets without records) and counted as acked; gaps also include one offset
       too many, which acks it twice and then slows every commit to one offset;
    2. ``_new_offset`` lets a commit pass one offset that was never acked (meant for offsets
       without a record, such as transaction markers, it also skips a real one);
    3. on revocation ``_committed_offset`` is dropped before the final commit, which is then
       computed without a baseline and jumps over anything not acked yet;
    4. a record below the read offset is dropped, so the copy fetched again is thrown away.

    Here: no gaps are recorded (input and internal topics have no offsets without records
    except transaction markers, single offsets still passed by rule 2 when no record with
    that offset was ever handed over); a commit never passes a record that was handed over
    but not acked — the partition is fetched again from there instead, and processing is
    idempotent per customer (:class:`~streamer.shell.processor.CustomerProcessor` also takes
    a record that arrives after later ones); the last known committed offset stands in
    while Faust has none; records fetched again are let through.
    """
    import logging

    from faust.transport.consumer import Consumer

    if getattr(Consumer.getmany, "_streamer_patched", False):
        return
    log = logging.getLogger("streamer.consumer")
    original_getmany = Consumer.getmany

    def handed_over(self: Any) -> dict[Any, set[int]]:
        """Offsets per partition handed to the stream and not yet committed, this generation."""
        generation = self.app.consumer_generation_id
        if self.__dict__.get("_streamer_generation") != generation:
            self.__dict__["_streamer_generation"] = generation
            self.__dict__["_streamer_handed_over"] = {}
        seen: dict[Any, set[int]] = self.__dict__["_streamer_handed_over"]
        return seen

    async def getmany(self: Any, timeout: float) -> Any:
        read_offset = self._read_offset
        changelogs = self.app.tables.changelog_topics
        seen = handed_over(self)
        async for tp, message in original_getmany(self, timeout):
            if tp.topic not in changelogs:
                last = read_offset.get(tp)
                if last is not None and message.offset < last:
                    read_offset[tp] = message.offset  # fetched again: let it through (4)
                seen.setdefault(tp, set()).add(message.offset)
            yield tp, message

    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        return None  # (1)

    def _new_offset(self: Any, tp: Any) -> int | None:
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        acked[:] = sorted(set(acked))
        known: dict[Any, int] = self.__dict__.setdefault("_streamer_committed", {})
        committed = self._committed_offset[tp]
        if committed is None:
            committed = known.get(tp)  # (3)
        else:
            known[tp] = committed
        seen = handed_over(self).setdefault(tp, set())
        if committed is not None and acked[0] > committed:
            if committed in seen or self._committed_offset[tp] is None:
                if committed in seen:  # a real record, handed over, never acked (2)
                    _fetch_again(self, tp, committed)
                return None
            if acked[0] - committed > 1:
                return None
        end = 1
        while end < len(acked) and acked[end] == acked[end - 1] + 1:
            end += 1
        batch = acked[:end]
        del acked[:end]
        self._acked_index[tp].difference_update(batch)
        new = batch[-1] + 1
        if committed is not None and new <= committed:
            return None
        known[tp] = new
        seen.difference_update([o for o in seen if o < new])
        return new

    def _fetch_again(self: Any, tp: Any, offset: int) -> None:
        holes: dict[Any, tuple[int, float]] = self.__dict__.setdefault("_streamer_holes", {})
        now = time.monotonic()
        if holes.get(tp, (-1, 0.0))[0] == offset and now - holes[tp][1] < 5.0:
            return
        holes[tp] = (offset, now)
        log.warning("%s offset %d was handed to the stream but never processed: fetching "
                    "the partition again from there", tp, offset)
        self.add_future(self.seek(tp, offset))

    getmany._streamer_patched = True  # type: ignore[attr-defined]
    Consumer.getmany = getmany
    Consumer._add_gap = _add_gap
    Consumer._new_offset = _new_offset


#: RocksDB sizes per partition database (two tables x the partitions a worker owns). Faust's
#: defaults (64 MiB x 3 write buffers and a 2 GiB block cache *each*) let a worker's memory
#: grow with every partition it is given; these keep it bounded (~32 MiB per database). The
#: hot customer states are cached in the processor anyway.
ROCKSDB_OPTIONS: dict[str, int] = {
    "write_buffer_size": 8 * 2**20,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 * 2**20,
}


def _broker_url(bootstrap: str) -> list[str]:
    return [f"kafka://{hp.strip()}" for hp in bootstrap.split(",") if hp.strip()]


def create_app(settings: Settings) -> faust.App:
    if settings.processing_guarantee != "at_least_once":
        # Tried and refused (tests/durability): with Faust 0.15's transactions a kill -9 lost
        # counts (changelog writes fell into a later, aborted transaction than the offsets
        # they belong to; RocksDB keeps writes of aborted transactions), SIGTERM crashed with
        # IllegalOperation('Not in the middle of a transaction'), restarts took ~16 s and
        # then failed recovery with ConsistencyError (persisted offset above the
        # read-committed highwater). At least once plus per-customer offset and event-id
        # dedupe is what keeps counts exact here.
        raise ConfigError(
            f"processing_guarantee={settings.processing_guarantee!r} is not supported: use "
            "at_least_once (counts stay exact through restarts and rebalances)")
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
    _patch_faust_consumer()
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
            username=settings.sasl_username, password=settings.sasl_password.get(),
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
    table_opts: dict[str, Any] = (
        {"options": dict(ROCKSDB_OPTIONS)} if s.store.startswith("rocksdb") else {})
    states = app.Table("customer-state", partitions=s.partitions, key_type=bytes,
                       value_type=bytes, **table_opts)
    tokens = app.Table("cluster-index", partitions=s.partitions, key_type=bytes,
                       value_type=bytes, **table_opts)
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

    async def detect_batch(batch: list[Any]) -> None:
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

    async def cluster_batch(batch: list[Any]) -> None:
        messages = [_message(ev) for ev in batch]
        result = clusters.process_batch(messages, get(tokens))
        await emit(_with_events(result, messages, batch), tokens)
        health.beat()

    @app.agent(customer_in, name="detect")
    async def detect(stream: Any) -> None:
        async for batch in stream.take_events(s.batch_size, within=s.batch_within_s):
            await run_to_end(batch, detect_batch(batch), health, "detect")

    @app.agent(signals, name="cluster")
    async def cluster(stream: Any) -> None:
        async for batch in stream.take_events(s.batch_size, within=s.batch_within_s):
            await run_to_end(batch, cluster_batch(batch), health, "cluster")

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        proc.forget_partitions(tp.partition for tp in revoked)
        clusters.forget_partitions(tp.partition for tp in revoked)

    from streamer.shell.web import register_pages

    register_pages(app, proc, states, health)
    del detect, cluster, on_revoked  # registered on the app


async def run_to_end(events: list[Any], work: Coroutine[Any, Any, None], health: Health,
                     agent: str) -> None:
    """Process one batch to its end, and never let Faust commit a batch that failed.

    ``take_events`` acks every event of a batch when the agent leaves it, however it leaves,
    and offsets are committed from those acks. Two ways out would then lose events for good:

    * the agent is cancelled mid-batch (the worker is stopping): the batch runs in its own
      task and the agent waits for it through any cancellation (a worker that cannot finish
      is killed from outside, before anything is committed);
    * the batch raises (a bug, a malformed record on a trusted internal topic, a state that
      cannot be decoded): its events are marked acked *without* recording their offsets, so
      no commit passes them; the agent dies, ``/health`` answers 503 with the reason, and a
      restarted worker meets the same batch again. Failing loudly, losing nothing.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():  # the agent is being cancelled, not the batch: keep waiting
                cancelled = True
                continue
        except Exception:  # the batch's own failure, handled below
            pass
        break
    exc = None if task.cancelled() else task.exception()
    if exc is not None:
        for ev in events:
            ev.message.acked = True  # Consumer.ack skips it: the offset is never committed
        health.failure = f"agent {agent} failed: {exc!r}"
        raise exc
    if cancelled or task.cancelled():
        raise asyncio.CancelledError


def _message(ev: Any) -> Message:
    m = ev.message
    return Message(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key,
                   value=m.value if m.value is not None else b"")


def _with_events(result: BatchResult, messages: list[Message], batch: list[Any]) -> BatchResult:
    """Swap each write's :class:`Message` for the Faust event it came from (for partitioning)."""
    by_id = {id(m): ev for m, ev in zip(messages, batch, strict=True)}
    result.writes = {k: (by_id[id(m)], v) for k, (m, v) in result.writes.items()}
    return result

