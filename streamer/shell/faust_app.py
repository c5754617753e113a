"""The Faust application: topics, tables, agents, web pages. Thin by design.

Agents decode, call the core (through :mod:`streamer.shell.processor`), store state, send.

* ``detect`` consumes the input topic together with the cluster-verdict and feedback topics
  (all keyed by customer_id and co-partitioned), so one agent is the single writer of a
  customer's state table entry.
* ``cluster`` consumes cluster signals keyed by fingerprint token and keeps the token index.

State is written once per batch of changed keys, inside the batch, before its offsets are
acknowledged; Faust flushes the producer (changelog included) before it commits offsets, so a
committed offset never runs ahead of the state that reflects it.

A batch waits at most ``STREAMER_BATCH_WITHIN_S`` (50 ms) to fill, so live traffic is not held
back, while a backlog fills it at once. A customer batch gives the event loop a turn after each
:data:`SLICE_S` of work (fetches, sends, the web pages and the loop-lag probe run in between);
a lock keeps the timer round of :func:`wire`'s ``fire_pending`` from running between the slices.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

import faust

from streamer.core.engine import partition_for
from streamer.errors import ConfigError
from streamer.settings import Settings
from streamer.shell import faust_compat
from streamer.shell.dashboard import OpsView
from streamer.shell.faust_compat import as_current_event
from streamer.shell.metrics import Metrics, freeze_start_up
from streamer.shell.processor import (
    BatchResult,
    ClusterProcessor,
    CustomerProcessor,
    Message,
    Send,
    wall_ms,
)
from streamer.shell.web import Health, web_conf

log = logging.getLogger("streamer.worker")
#: stored entries read per step while rebuilding a partition's timers after an assignment
ADOPT_CHUNK = 2_000


#: A customer batch gives the event loop a turn after at most this much work (seconds), so
#: fetching, sends, heartbeats of the web server and ``/health`` never wait behind a whole
#: batch of 500 events (issue 9: the loop must not block for more than 100 ms at a time).
SLICE_S = 0.02

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
        **web_conf(settings),  # bind/advertised host, Faust's own pages off
        "consumer_auto_offset_reset": "earliest",
        "producer_max_request_size": max(settings.max_message_bytes * 2, 1_048_576),
        "consumer_max_fetch_size": max(settings.max_message_bytes * 2, 1_048_576),
        "stream_buffer_maxsize": 4096,
        # Records handed over per fetch: Faust's fetcher drains a fetch into the streams
        # without yielding, and unbounded (aiokafka's default) a backlog's fetch of ~2 MB per
        # partition held the event loop for >100 ms.
        "broker_max_poll_records": 500,
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_s / 3),
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
    faust_compat.check_version()
    app = faust.App(settings.app_id, **conf)

    @app.on_worker_init.connect
    def _patch(sender: Any, **kwargs: Any) -> None:
        faust_compat.install_consumer_patch()

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
    signals_name, verdicts_name = s.cluster_topic_names()
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
        max_cached=s.max_cached_states, timer_budget=s.timer_budget,
        max_future_skew_ms=int(s.max_future_skew_s * 1000), key_policy=s.key_policy,
        input_format=s.input_format, redact_dlq=s.dlq_redact_prompt,
        dlq_guard_window=s.dlq_guard_window, dlq_guard_threshold=s.dlq_guard_threshold,
        get=lambda key: states.get(key.encode()),
    )
    clusters = ClusterProcessor(verdicts_topic=verdicts_name, dlq_topic=s.dlq_topic,
                                max_cached=s.max_cached_states, redact_dlq=s.dlq_redact_prompt,
                                get=lambda key: tokens.get(key.encode()))
    health = Health(stall_s=s.health_stall_s)
    metrics, view = Metrics(), OpsView()  # /metrics and the dashboard's view
    snapshot = {"at": time.monotonic()}
    #: per partition, the latest Faust event seen: table writes of timers fired between
    #: batches go to its partition
    last_event: dict[int, Any] = {}
    adopted: set[int] = set()
    #: one customer batch (or timer round) at a time, from its first record to its state
    #: writes, although a batch now gives the event loop a turn between its slices
    lock = asyncio.Lock()
    app.streamer_processor, app.streamer_health = proc, health  # for pages and tests
    app.streamer_clusters = clusters
    app.streamer_metrics = metrics

    def observe(agent: str, result: BatchResult, messages: list[Message], batch: list[Any],
                started: float) -> None:
        """Metrics, dashboard view and health progress of one finished batch."""
        now = wall_ms()
        alerts = metrics.record_batch(
            agent, result, duration_s=time.monotonic() - started, now_ms=now,
            dlq_topic=s.dlq_topic, alerts_topic=s.alerts_topic, messages=messages,
            timestamps_ms=[m.timestamp_ms or 0 for m in messages])
        if agent == "detect":
            view.record_alerts(alerts)
            view.record_states((cid, hit[1].profile.last_ts_ms, hit[1].risk)
                               for cid in result.writes if (hit := proc.cache.get(cid)))
        health.beat(agent, ((m.topic, m.partition, m.offset) for m in messages))

    declared: list[bool] = []  # the output topics were declared (at the first send)

    async def hand_over(sends: list[Send], sent: list[Any]) -> None:
        """Give ``sends`` to the producer (their delivery futures appended to ``sent``)."""
        if sends and not declared:
            for topic in outputs.values():  # what Topic.send would do on its first send
                await topic.maybe_declare()
            declared.append(True)
        # Straight to the producer (Faust's ProducerT.send: the client's send, partitioned by
        # key like Topic.send): Topic.send wraps every record in a FutureMessage, a channel hop
        # and callbacks, per record.
        # A send does not suspend, so a batch's hundreds of them would hold the loop: it gets
        # a turn every SLICE_S, as in the batch's processing.
        send = app.producer.send
        turn = time.perf_counter() + SLICE_S
        for out in sends:
            sent.append(await send(out.topic, out.key, out.value, None, None,
                                   out.headers or None))
            if time.perf_counter() >= turn:
                await asyncio.sleep(0)
                turn = time.perf_counter() + SLICE_S

    async def emit(result: BatchResult, table: Any, events: dict[int, Any],
                   handed: int = 0, sent: list[Any] | None = None) -> None:
        # Outputs first, and only once the broker has them the states: a restart skips the
        # events a stored state already reflects, so an alert still in flight when the worker
        # dies after its state was stored (RocksDB writes are immediate) would never be sent.
        # This order makes a crash re-send instead (same alert_id: at least once).
        # ``handed``: the first sends, already given to the producer slice by slice (their
        # futures in ``sent``).
        sent = [] if sent is None else sent
        await hand_over(result.sends[handed:], sent)
        turn = time.perf_counter() + SLICE_S
        for fut in sent:
            await fut
        for key, (partition, value) in result.writes.items():
            event = events.get(partition) or last_event.get(partition)
            if event is None:  # pragma: no cover - a write always follows a record of its partition
                continue
            with as_current_event(event):
                table[key.encode()] = value
            if time.perf_counter() >= turn:
                await asyncio.sleep(0)
                turn = time.perf_counter() + SLICE_S
        # Hand this batch's changelog records to the producer before the batch is acked, so
        # the commit covering its offsets also covers its state (a commit flushes only what
        # was handed over).
        buffer = app.producer.buffer
        while buffer.size:
            await buffer.flush()
        if result.writes:
            # ...and wait until the broker has them: a kill -9 then rolls a state back by at
            # most the batch in flight. (Handing over only, with small batches and a busy
            # producer, let the changelog fall seconds behind RocksDB; recovery replays the
            # changelog over RocksDB, so a crash lost more progress: counts stayed exact,
            # tests/durability/test_kill9.py caught the larger rollback.)
            await app.producer.flush()

    async def adopt(partition: int) -> None:
        """Rebuild a newly assigned partition's timers from its stored states, in steps."""
        items = faust_compat.partition_items(states, partition)
        memory = not s.store.startswith("rocksdb")
        n = 0
        while True:
            chunk = []
            for key, value in items:
                if key.startswith(b"__"):
                    continue
                if memory and partition_for(key, s.partitions) != partition:
                    continue
                chunk.append((key, value))
                if len(chunk) >= ADOPT_CHUNK:
                    break
            if not chunk:
                break
            n += proc.adopt(partition, chunk)
            await asyncio.sleep(0)
        log.info("partition %d: timers rebuilt from %d stored customer states", partition, n)

    async def detect_batch(batch: list[Any]) -> None:
        health.begin("detect")
        started = time.monotonic()
        freeze_start_up()  # once: start-up's objects out of the collector's way
        if s.test_wedge_after and health.batches >= s.test_wedge_after:
            await asyncio.Event().wait()  # TEST ONLY (STREAMER_TEST_WEDGE_AFTER)
        messages = [_message(ev) for ev in batch]
        if s.test_fail_on and any(s.test_fail_on.encode() in m.value for m in messages):
            raise RuntimeError("test-only failure (STREAMER_TEST_FAIL_ON)")  # TEST ONLY
        events = {m.partition: ev for m, ev in zip(messages, batch, strict=True)}
        last_event.update(events)
        for p in events:
            if p not in adopted:
                adopted.add(p)
                app.add_future(adopt(p))
        async with lock:
            steps = proc.process_batch_steps(messages, wall_ms(), slice_s=SLICE_S)
            handed = 0
            sent: list[Any] = []
            while True:
                try:
                    so_far = next(steps)
                except StopIteration as done:
                    result: BatchResult = done.value
                    break
                # each slice's outputs go out at once: an alert raised by the batch's first
                # records does not wait for its last ones and their state writes
                await hand_over(so_far.sends[handed:], sent)
                handed = len(so_far.sends)
                await asyncio.sleep(0)  # the event loop's turn (see SLICE_S)
            await emit(result, states, events, handed, sent)
        if time.monotonic() - snapshot["at"] >= s.model_snapshot_interval_s:
            snapshot["at"] = time.monotonic()
            for key, (partition, value) in proc.snapshot_populations().items():
                if partition in last_event:
                    with as_current_event(last_event[partition]):
                        states[key.encode()] = value
        observe("detect", result, messages, batch, started)

    async def cluster_batch(batch: list[Any]) -> None:
        health.begin("cluster")
        started = time.monotonic()
        messages = [_message(ev) for ev in batch]
        events = {m.partition: ev for m, ev in zip(messages, batch, strict=True)}
        result = clusters.process_batch(messages, wall_ms())
        await emit(result, tokens, events)
        observe("cluster", result, messages, batch, started)

    @app.agent(customer_in, name="detect")
    async def detect(stream: Any) -> None:
        async for batch in stream.take_events(s.batch_size, within=s.batch_within_s):
            await run_to_end(batch, detect_batch(batch), health, "detect")

    @app.agent(signals, name="cluster")
    async def cluster(stream: Any) -> None:
        async for batch in stream.take_events(s.batch_size, within=s.batch_within_s):
            await run_to_end(batch, cluster_batch(batch), health, "cluster")

    @app.timer(interval=1.0)
    async def fire_pending() -> None:
        """Timers left due when a batch's budget ran out, on partitions gone quiet since."""
        if not proc.pending:
            return
        async with lock:  # never between the slices of a batch (it would take its writes)
            parts = {p for p in proc.pending if p in last_event}
            started = time.monotonic()
            result = proc.process_batch([], wall_ms())
            await emit(result, states, {p: last_event[p] for p in parts})
        observe("detect", result, [], [], started)

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        parts = {tp.partition for tp in revoked}
        proc.forget_partitions(parts)
        clusters.forget_partitions(parts)
        adopted.difference_update(parts)
        for p in parts:
            last_event.pop(p, None)

    from streamer.shell.web import register_pages

    register_pages(app, proc, states, health, settings=s, metrics=metrics, view=view,
                   clusters=clusters)
    del detect, cluster, on_revoked, fire_pending  # registered on the app


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
    ts = m.timestamp
    return Message(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key,
                   value=m.value if m.value is not None else b"",
                   timestamp_ms=int(ts * 1000) if ts else None)

