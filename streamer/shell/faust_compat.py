"""Every use of Faust internals, in one place: version-checked, pinned, unit-tested.

faust-streaming is pinned to the minor version these workarounds were written and tested
against (:data:`TESTED_MINOR`); :func:`check_version` refuses any other at start-up, so an
upgrade is a deliberate change that re-runs the tests, not a silent behaviour change.

What is here and why:

* :func:`as_current_event` — a table write goes to the partition of Faust's *current event*;
  the shell writes a batch's states after the batch, so it sets the event explicitly.
* :func:`install_consumer_patch` — Faust 0.15's consumer can commit past a record that was
  handed to a stream but never acknowledged (around rebalances and seeks), and stops
  committing after a gap of more than one offset (retention, compaction, transaction
  markers). The patch replaces its commit-offset rule by :func:`next_commit`, a pure function
  over the acknowledged, committed and handed-over offsets (unit-tested case by case); records
  fetched again after a seek are let through instead of dropped, and a record that was handed
  over but not acknowledged while later ones were is fetched again, from its offset — only
  while its partition is still assigned, and not again before it has been handed over again
  (:func:`refetch_holes`). Installed when the worker starts (Faust's
  ``on_worker_init``), never on import.
* The same patch bounds the consumer's fetch wait to :data:`FETCH_MAX_WAIT_MS`: Faust
  hard-codes 1.5 s, and aiokafka's one fetch in flight per broker, for the partitions holding
  no fetched records yet, then delayed live input by up to that long (:func:`install_fetch_wait`).
* :func:`stopped_agent` — whether an agent's actor task has ended (health), read from the
  agent's private ``_actors``.
* :func:`without_spinner` — Faust's worker draws a start-up spinner by setting the *root*
  logger to DEBUG with a handler that advances it on every record, and never sets it back: every
  ``log.debug`` of aiokafka, Faust and mode then builds a record (with a stack walk) per
  message sent or fetched, for the life of the process (2-3 % of a busy worker's CPU). The
  worker runs without it, so the root logger keeps the configured level.
* :func:`partition_items` — iterate one table partition's stored entries (timers are rebuilt
  from them after a restart or a rebalance).
* :func:`stale_partitions` — which local table partitions were persisted from another cluster
  or from changelog topics that were deleted since (Faust would otherwise crash-loop with
  ``ConsistencyError``, or silently serve stale state).

>>> next_commit(committed=None, acked=[10, 11, 12], handed={0, 1, 2, 10, 11, 12})
0
>>> next_commit(committed=10, acked=[10, 15, 16], handed={10, 15, 16})
17
"""

from __future__ import annotations

import contextvars
import logging
import time
import weakref
from collections.abc import Iterable, Iterator, Set
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streamer.errors import ConfigError

TESTED_MINOR = "0.15"
#: a record handed over, not acknowledged while later ones of its partition were, for this
#: long, is taken as dropped by Faust and fetched again
HOLE_GRACE_S = 2.0
#: a record fetched again is not fetched again a second time before it has been handed over
#: (or this long has passed): the re-fetch joins the back of the fetch queue and waits behind
#: the stream's buffer, which in a backlog takes longer than ``HOLE_GRACE_S``
REFETCH_BACKSTOP_S = 30.0
log = logging.getLogger("streamer.faust_compat")


def faust_version() -> str:
    from importlib.metadata import version

    return version("faust-streaming")


def check_version(installed: str | None = None) -> None:
    """Refuse a faust-streaming minor version the workarounds were not tested against.

    >>> check_version("0.15.3")
    >>> check_version("0.16.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    streamer.errors.ConfigError: faust-streaming 0.16.0 is installed; ... with 0.15.x only ...
    """
    v = installed if installed is not None else faust_version()
    if ".".join(v.split(".")[:2]) != TESTED_MINOR:
        raise ConfigError(f"faust-streaming {v} is installed; streamer's Faust workarounds are "
                          f"tested with {TESTED_MINOR}.x only (pyproject pins it)")


@contextmanager
def as_current_event(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event, so a table write goes to *its* partition."""
    from faust.streams import _current_event

    token: contextvars.Token[Any] = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


# --- offsets ------------------------------------------------------------------------------
def next_commit(committed: int | None, acked: Iterable[int], handed: Set[int]) -> int | None:
    """The offset to commit for one partition, or ``None`` when nothing new can be committed.

    ``acked``: offsets the streams acknowledged since the last commit (duplicates allowed);
    ``handed``: offsets handed to the streams (this consumer generation) and not yet below a
    commit; ``committed``: the last committed offset (``None``: none known).

    The commit goes as far as everything acknowledged, but never past a record that was
    handed over and not acknowledged. Offsets that were never handed over (no record there:
    transaction markers, compaction, retention) do not hold it back.

    >>> next_commit(None, [], set()) is None
    True
    >>> next_commit(10, [10, 10, 11], {10, 11})     # duplicate acks
    12
    >>> next_commit(10, [10, 11, 12, 14], {10, 11, 12, 13, 14})   # 13 still in flight
    13
    >>> next_commit(13, [12], {12}) is None          # nothing past the last commit
    True
    """
    done = set(acked)
    if not done:
        return None
    top = max(done) + 1
    floor = committed if committed is not None else -1
    for offset in handed:
        if offset >= floor and offset not in done and offset < top:
            top = offset
    if committed is not None and top <= committed:
        return None
    return top


def holes(acked: Iterable[int], handed: Set[int]) -> list[int]:
    """Offsets handed over and not acknowledged although a later one was.

    >>> holes([10, 12], {10, 11, 12, 13})
    [11]
    """
    done = set(acked)
    if not done:
        return []
    top = max(done)
    return sorted(o for o in handed if o < top and o not in done)


def tracked_holes(consumer: Any) -> dict[Any, tuple[int, float, bool]]:
    """Partition -> (the hole it waits for, since when, whether it was sought to and not
    handed over again since): :func:`refetch_holes` keeps it, the patched ``getmany`` clears
    the flag when the record comes again."""
    tracked: dict[Any, tuple[int, float, bool]] = consumer.__dict__.setdefault(
        "_streamer_holes", {})
    return tracked


def refetch_holes(consumer: Any, tp: Any, acked: Iterable[int], seen: Set[int],
                  now: float) -> int | None:
    """Seek ``tp`` back to a record Faust dropped (handed over, never acknowledged while
    later ones were, for ``HOLE_GRACE_S``) — only while ``tp`` is still assigned. Returns
    the offset sought to, if any.

    Once sought, the hole is not sought again until the record has been handed over again
    (and dropped again) or ``REFETCH_BACKSTOP_S`` has passed. A seek drops the partition's
    fetched records and its new fetch queues behind the other partitions' and the stream's
    buffer: in a backlog after a restart, re-seeking every ``HOLE_GRACE_S`` kept sending the
    partition to the back of the queue, and it delivered nothing for 8-30 s (measured in
    ``tests/durability/test_kill9.py``)."""
    missing = holes(acked, seen)
    tracked = tracked_holes(consumer)
    if not missing:
        tracked.pop(tp, None)
        return None
    hole, since, sought = tracked.get(tp, (missing[0], now, False))
    if hole != missing[0]:
        hole, since, sought = missing[0], now, False
    tracked[tp] = (hole, since, sought)
    if now - since < (REFETCH_BACKSTOP_S if sought else HOLE_GRACE_S):
        return None
    try:
        assigned = tp in consumer.assignment()
    except Exception:  # the consumer is being rebuilt: try again at the next commit
        return None
    if not assigned:
        tracked.pop(tp, None)
        return None
    tracked[tp] = (hole, now, True)
    log.warning("%s offset %d was handed to the stream but never processed: fetching the "
                "partition again from there", tp, hole)
    consumer.add_future(consumer.seek(tp, hole))
    return hole


def handed_again(tracked: dict[Any, tuple[int, float, bool]], tp: Any, offset: int,
                 now: float) -> None:
    """``offset`` of ``tp`` was handed over: if it is the hole sought to, a new drop of it is
    sought again ``HOLE_GRACE_S`` from now."""
    hole = tracked.get(tp)
    if hole is not None and hole[2] and hole[0] == offset:
        tracked[tp] = (offset, now, False)


def consumer_patch_installed() -> bool:
    """Is the consumer patch in place (``/stats`` reports it)?"""
    from faust.transport.consumer import Consumer

    return bool(getattr(Consumer.getmany, "_streamer_patched", False))


def install_consumer_patch() -> None:
    """Patch Faust's consumer commit bookkeeping (see module docstring); idempotent."""
    check_version()
    from faust.transport.consumer import Consumer

    if getattr(Consumer.getmany, "_streamer_patched", False):
        return
    original_getmany = Consumer.getmany

    def handed_over(self: Any) -> dict[Any, set[int]]:
        generation = self.app.consumer_generation_id
        if self.__dict__.get("_streamer_generation") != generation:
            self.__dict__["_streamer_generation"] = generation
            self.__dict__["_streamer_handed"] = {}
        seen: dict[Any, set[int]] = self.__dict__["_streamer_handed"]
        return seen

    async def getmany(self: Any, timeout: float) -> Any:
        read_offset = self._read_offset
        changelogs = self.app.tables.changelog_topics
        seen = handed_over(self)
        tracked = tracked_holes(self)
        async for tp, message in original_getmany(self, timeout):
            if tp.topic not in changelogs:
                last = read_offset.get(tp)
                if last is not None and message.offset < last:
                    read_offset[tp] = message.offset  # fetched again after a seek: let it in
                seen.setdefault(tp, set()).add(message.offset)
                if tracked:
                    handed_again(tracked, tp, message.offset, time.monotonic())
            yield tp, message

    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        return None  # offsets without records never hold a commit back (next_commit)

    def _new_offset(self: Any, tp: Any) -> int | None:
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        known: dict[Any, int] = self.__dict__.setdefault("_streamer_committed", {})
        committed = self._committed_offset[tp]
        if committed is None:
            committed = known.get(tp)
        seen = handed_over(self).setdefault(tp, set())
        new = next_commit(committed, acked, seen)
        refetch_holes(self, tp, acked, seen, time.monotonic())
        if new is None:
            return None
        acked[:] = sorted({o for o in acked if o >= new})
        self._acked_index[tp].intersection_update(acked)
        seen.difference_update([o for o in seen if o < new])
        known[tp] = new
        return new

    getmany._streamer_patched = True  # type: ignore[attr-defined]
    Consumer.getmany = getmany
    Consumer._add_gap = _add_gap
    Consumer._new_offset = _new_offset
    install_fetch_wait()


#: How long the broker may hold a fetch that finds no new records (Faust hard-codes 1,500 ms).
FETCH_MAX_WAIT_MS = 25


def install_fetch_wait(max_wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
    """Bound the consumer's fetch wait (see the module docstring): aiokafka leaves the
    partitions that still hold fetched records out of the next fetch and keeps one fetch in
    flight per broker, so while the input's records were being processed, the fetch in flight
    was the one for the idle topics (verdicts, feedback), held by the broker for Faust's fixed
    1.5 s, and new input waited behind it: seconds of event→alert latency at half load.
    Installed with the consumer patch; the bench's no-op agent installs it alone (with the
    fixed wait it idled at 30 % CPU: a throttle, not the framework's ceiling)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    original = AIOKafkaConsumerThread._create_worker_consumer
    if getattr(original, "_streamer_patched", False):
        return

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # read by the fetcher it builds at start
        return consumer

    _create_worker_consumer._streamer_patched = True  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer


# --- agents -------------------------------------------------------------------------------
def stopped_agent(agents: Iterable[Any]) -> str | None:
    """Why the first agent whose actor task has ended stopped (``None``: all running).

    Faust keeps an agent's running instances in the private ``_actors``; an ended task means
    the agent died (its exception) or was cancelled, and no record of its topics is processed.
    """
    for agent in agents:
        for actor in getattr(agent, "_actors", []):
            task = getattr(actor, "actor_task", None)
            if task is not None and task.done():
                exc = task.exception() if not task.cancelled() else None
                return f"agent {agent.name} stopped: {exc!r}"
    return None


def without_spinner(worker: Any) -> Any:
    """``worker`` (a ``faust.Worker``) without its start-up spinner (see the module docstring):
    ``Worker.spinner`` is ``None``, so its root-logger set-up keeps the configured level."""
    if not hasattr(worker, "spinner"):  # pragma: no cover - guarded by check_version
        raise ConfigError("faust.Worker has no spinner attribute: re-check faust_compat")
    worker.spinner = None
    return worker


# --- tables -------------------------------------------------------------------------------
OFFSET_KEY = b"__faust\0offset__"


def partition_items(table: Any, partition: int) -> Iterator[tuple[bytes, bytes]]:
    """The stored ``(key, value)`` entries of one partition of a table.

    RocksDB keeps a database per partition; the in-memory store has no partitions, so all of
    its entries are returned and the caller decides (it knows the partitioner).
    """
    store = table.data
    db_for = getattr(store, "_db_for_partition", None)
    if db_for is None:
        yield from ((k, v) for k, v in list(store.items()) if v is not None)
        return
    db = db_for(partition)
    for key, value in db.items():
        if key != OFFSET_KEY and value is not None:
            yield key, value


def table_partition_path(table: Any, partition: int) -> Path | None:
    """Where RocksDB keeps one partition of a table (``None`` for other stores)."""
    store = table.data
    path_of = getattr(store, "partition_path", None)
    return None if path_of is None else Path(path_of(partition))


def persisted_offset(path: Path) -> int | None:
    """The changelog offset Faust recorded in one partition database (read-only)."""
    if not path.exists():
        return None
    try:
        from rocksdict import AccessType, Rdict

        db = Rdict(str(path), access_type=AccessType.read_only())
        try:
            raw = db.get(OFFSET_KEY)
        finally:
            db.close()
    except Exception as exc:  # a database we cannot even open is stale by definition
        log.warning("cannot read %s: %s", path, exc)
        return -2
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -2


def stale_partitions(persisted: dict[int, int | None],
                     highwaters: dict[int, int]) -> list[int]:
    """Partitions whose persisted changelog offset the changelog topic cannot have written.

    Faust records the offset of the last changelog record applied. If the topic's end offset
    is not above it, the local data came from another cluster or from a topic that was
    deleted and created again. (``-2``: the database could not be read.)

    >>> stale_partitions({0: 41, 1: 7, 2: None, 3: -2}, {0: 42, 1: 5, 2: 0, 3: 9})
    [1, 3]
    """
    return sorted(p for p, off in persisted.items()
                  if off is not None and (off == -2 or off >= highwaters.get(p, 0)))
