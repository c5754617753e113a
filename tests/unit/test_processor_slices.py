"""A batch processed in slices (the worker gives the event loop a turn between them) gives the
same sends and state writes as the batch processed in one go, on real attack traffic."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from streamer.shell.metrics import Metrics, measure_loop_lag
from streamer.shell.processor import BatchResult, CustomerProcessor, Message, run_steps
from streamer.sim import simulate

TOPICS = {"input_topic": "in", "verdicts_topic": "verdicts", "feedback_topic": "fb",
          "alerts_topic": "alerts", "features_topic": "features", "dlq_topic": "dlq",
          "signals_topic": "signals"}


def messages() -> list[Message]:
    events = list(simulate("smoke", seed=0).events())[:1200]
    return [Message("in", 0, i, str(e["customer_id"]).encode(), orjson.dumps(e))
            for i, e in enumerate(events)] + [Message("in", 0, 1200, b"k", b"{not json")]


def replay(slice_s: float | None, clock: Any = None) -> tuple[list[BatchResult], int]:
    store: dict[str, bytes] = {}
    proc = CustomerProcessor(**TOPICS, max_message_bytes=1_000_000, get=store.get)
    msgs, results, yields = messages(), [], 0
    for start in range(0, len(msgs), 500):
        kwargs = {} if clock is None else {"clock": clock}
        steps = proc.process_batch_steps(msgs[start:start + 500], 1_767_225_600_000,
                                         slice_s=slice_s, **kwargs)
        while True:
            try:
                next(steps)
                yields += 1
            except StopIteration as done:
                results.append(done.value)
                break
        for key, (_, value) in results[-1].writes.items():
            store[key] = value
    return results, yields


def test_sliced_batches_send_and_write_what_whole_batches_do() -> None:
    whole, none = replay(None)
    ticks = iter(range(10**9))
    sliced, yields = replay(0.5, clock=lambda: float(next(ticks)))  # a slice per record
    assert none == 0 and yields > 1000
    for a, b in zip(whole, sliced, strict=True):
        assert [(s.topic, s.key, s.value) for s in a.sends] == \
            [(s.topic, s.key, s.value) for s in b.sends]
        assert a.writes == b.writes and a.events == b.events and a.invalid == b.invalid
    assert sum(r.invalid for r in whole) == 1
    assert any(s.topic == "features" for r in whole for s in r.sends)


def test_each_slice_hands_over_a_prefix_of_the_batch_sends() -> None:
    """The worker gives the producer each slice's outputs as the slice ends (an alert does not
    wait for the batch's last record): what a yield shows is a prefix of the final sends, and
    the alerts among them are there before the batch ends."""
    proc = CustomerProcessor(**TOPICS, max_message_bytes=1_000_000)
    ticks = iter(range(10**9))
    steps = proc.process_batch_steps(messages()[:1000], 1_767_225_600_000, slice_s=0.5,
                                     clock=lambda: float(next(ticks)))
    seen: list[list[tuple[str, bytes, bytes]]] = []
    while True:
        try:
            so_far = next(steps)
        except StopIteration as done:
            final = [(s.topic, s.key, s.value) for s in done.value.sends]
            break
        seen.append([(s.topic, s.key, s.value) for s in so_far.sends])
    assert len(seen) > 100
    for early in seen:
        assert final[:len(early)] == early
    alerts = [i for i, (topic, _, _) in enumerate(final) if topic == "alerts"]
    assert alerts and any(len(early) > alerts[0] for early in seen[:-1])


def test_run_steps_is_process_batch() -> None:
    proc = CustomerProcessor(**TOPICS, max_message_bytes=1_000_000)
    result = run_steps(proc.process_batch_steps(messages()[:50], 1_767_225_600_000))
    assert result.events == 50 and result.writes


def test_loop_lag_probe_tells_a_blocked_loop_from_a_waiting_one() -> None:
    """A 150 ms stretch without a turn for the loop shows in the probe's worst lag (real
    clock); only a stretch of running code counts as on-CPU lag, a blocking sleep does not."""
    import time

    def probe(block: Any) -> Metrics:
        m = Metrics()

        async def main() -> None:
            task = asyncio.ensure_future(measure_loop_lag(m, interval_s=0.01))
            await asyncio.sleep(0.05)
            block()
            await asyncio.sleep(0.05)
            task.cancel()

        asyncio.run(main())
        return m

    def spin() -> None:
        end = time.thread_time() + 0.15
        while time.thread_time() < end:
            pass

    busy, asleep = probe(spin), probe(lambda: time.sleep(0.15))
    assert busy.loop_lag_max() >= 0.1 and busy.loop_lag_max(on_cpu=True) >= 0.1
    assert asleep.loop_lag_max() >= 0.1 and asleep.loop_lag_max(on_cpu=True) < 0.05
