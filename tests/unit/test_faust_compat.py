"""The Faust workarounds as pure functions, case by case (issue 11, item 5).

Each case failed with the consumer patch that was reverted at the time of the issue.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from streamer.errors import ConfigError
from streamer.shell import faust_compat
from streamer.shell.faust_compat import next_commit, refetch_holes, stale_partitions


def test_fresh_group_never_commits_past_records_handed_over_but_not_acked() -> None:
    # records 0..9 handed over and still in flight, 10..19 acked: committing 20 loses 0..9
    new = next_commit(None, range(10, 20), set(range(20)))
    assert new is not None and new <= 0


def test_a_gap_of_several_offsets_does_not_stop_commits() -> None:
    # 11..14 hold no records (transaction markers, compaction, retention): never handed over
    assert next_commit(10, [10, 15, 16], {10, 15, 16}) == 17
    assert next_commit(17, [40, 41], {40, 41}) == 42


def test_duplicate_acks_do_not_slow_commits_down() -> None:
    assert next_commit(10, [10, 11, 11, 12, 12, 13], {10, 11, 12, 13}) == 14


def test_a_record_dropped_in_the_middle_holds_the_commit() -> None:
    assert next_commit(0, [0, 1, 2, 4, 5], {0, 1, 2, 3, 4, 5}) == 3


class StandIn:
    """Just the consumer surface :func:`refetch_holes` uses."""

    def __init__(self, assigned: set[Any]) -> None:
        self.assigned = assigned
        self.sought: list[tuple[Any, int]] = []

    def assignment(self) -> set[Any]:
        return self.assigned

    def seek(self, tp: Any, offset: int) -> tuple[Any, int]:
        self.sought.append((tp, offset))
        return tp, offset

    def add_future(self, fut: Any) -> None:
        pass


def test_a_dropped_record_is_fetched_again_only_while_assigned() -> None:
    tp = ("t", 0)
    c = StandIn({tp})
    acked, seen = [10, 12], {10, 11, 12}
    assert refetch_holes(c, tp, acked, seen, now=100.0) is None  # within the grace period
    assert refetch_holes(c, tp, acked, seen, now=100.0 + faust_compat.HOLE_GRACE_S) == 11
    assert c.sought == [(tp, 11)]
    gone = StandIn(set())
    refetch_holes(gone, tp, acked, seen, now=0.0)
    assert refetch_holes(gone, tp, acked, seen, now=10.0) is None and gone.sought == []


def test_a_record_fetched_again_is_not_fetched_again_before_it_is_handed_over() -> None:
    """Measured in tests/durability/test_kill9.py: after a restart with a backlog, the re-fetch
    of a dropped record queued behind the other partitions and the stream's buffer for more
    than the grace period; seeking again every 2 s dropped the partition's fetched records
    each time, and it delivered nothing for 8-30 s."""
    tp = ("t", 0)
    c = StandIn({tp})
    acked, seen = [10, 12], {10, 11, 12}
    grace, backstop = faust_compat.HOLE_GRACE_S, faust_compat.REFETCH_BACKSTOP_S
    refetch_holes(c, tp, acked, seen, now=0.0)
    assert refetch_holes(c, tp, acked, seen, now=grace) == 11
    # the re-fetch has not been handed over yet: no second seek, however often asked
    for k in range(2, 10):
        assert refetch_holes(c, tp, acked, seen, now=grace * k) is None
    assert c.sought == [(tp, 11)]
    # handed over again, and dropped again: sought again after the grace period from then
    tracked = faust_compat.tracked_holes(c)
    faust_compat.handed_again(tracked, tp, 12, now=19.0)  # another record: still awaited
    assert refetch_holes(c, tp, acked, seen, now=19.0) is None and len(c.sought) == 1
    faust_compat.handed_again(tracked, tp, 11, now=20.0)
    assert refetch_holes(c, tp, acked, seen, now=20.0 + grace / 2) is None
    assert refetch_holes(c, tp, acked, seen, now=20.0 + grace) == 11
    # never handed over again (the seek was lost): sought again after the backstop
    assert refetch_holes(c, tp, acked, seen, now=20.0 + grace + backstop / 2) is None
    assert refetch_holes(c, tp, acked, seen, now=20.0 + grace + backstop) == 11
    # processed at last: nothing is tracked any more
    assert refetch_holes(c, tp, [10, 11, 12], seen, now=100.0) is None
    assert tracked == {}


def test_untested_faust_versions_are_refused() -> None:
    faust_compat.check_version("0.15.9")
    with pytest.raises(ConfigError):
        faust_compat.check_version("0.16.1")


def test_installed_faust_is_the_tested_one() -> None:
    faust_compat.check_version()


def test_patch_installs_only_when_asked_and_once() -> None:
    from faust.transport.consumer import Consumer

    import streamer.app  # noqa: F401  (creating the app must not patch anything)

    assert not getattr(Consumer.getmany, "_streamer_patched", False)
    original = Consumer._new_offset
    faust_compat.install_consumer_patch()
    patched = Consumer._new_offset
    faust_compat.install_consumer_patch()
    assert Consumer._new_offset is patched and patched is not original


def test_stale_local_partitions_are_recognised() -> None:
    assert stale_partitions({0: 99, 1: 3}, {0: 100, 1: 3}) == [1]
    assert stale_partitions({0: 5}, {}) == [0]  # the changelog was deleted and is empty


def test_a_stopped_agent_is_named_with_its_exception() -> None:
    import asyncio

    async def run() -> str | None:
        async def boom() -> None:
            raise RuntimeError("bad batch")

        async def forever() -> None:
            await asyncio.Event().wait()

        alive = SimpleNamespace(actor_task=asyncio.ensure_future(forever()))
        dead = SimpleNamespace(actor_task=asyncio.ensure_future(boom()))
        await asyncio.sleep(0.01)
        agents = [SimpleNamespace(name="cluster", _actors=[alive]),
                  SimpleNamespace(name="detect", _actors=[alive, dead])]
        first = faust_compat.stopped_agent(agents[:1])
        why = faust_compat.stopped_agent(agents)
        alive.actor_task.cancel()
        assert first is None
        return why

    assert asyncio.run(run()) == "agent detect stopped: RuntimeError('bad batch')"


def test_the_worker_keeps_the_configured_log_level() -> None:
    """Faust's spinner set the root logger to DEBUG for the life of the worker, so every
    debug call of aiokafka, Faust and mode built a log record; without it the level holds."""
    import logging

    import faust

    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    app = faust.App("compat-log-level", broker="memory://", store="memory://",
                    web_enabled=False)
    try:
        plain = faust.Worker(app, loglevel="warning", quiet=True)
        plain._setup_logging()
        assert root.level == logging.DEBUG  # what Faust does: the reason for the workaround
        root.setLevel(saved[0])
        worker = faust_compat.without_spinner(
            faust.Worker(app, loglevel="warning", quiet=True))
        worker._setup_logging()
        assert root.level == logging.WARNING
        assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


def test_the_worker_consumer_fetches_with_a_short_wait() -> None:
    """Faust creates its aiokafka consumer with a fixed 1.5 s fetch wait; after the patch the
    consumer it creates waits at most FETCH_MAX_WAIT_MS (live input is not held behind a
    fetch of idle topics)."""
    import asyncio

    import faust

    faust_compat.install_consumer_patch()
    app = faust.App("compat-fetch-wait", broker="kafka://127.0.0.1:1", store="memory://",
                    web_enabled=False)

    async def create() -> Any:
        return app.consumer._thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(create())
    assert consumer._fetch_max_wait_ms == faust_compat.FETCH_MAX_WAIT_MS < 1500
