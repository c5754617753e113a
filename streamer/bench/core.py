"""The offline core in the bench: throughput, per-step costs, state bytes and RSS per customer.

Times are CPU seconds of this process (``time.process_time``), so a busy machine inflates them
less than wall time; every figure is also reported as a ratio to a baseline measured in the same
run (decode only).
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from streamer.core import codec
from streamer.core.customer import compute_signals
from streamer.core.engine import Engine
from streamer.core.events import InferenceEvent, decode_event
from streamer.core.fingerprints import simhash64, template_signatures
from streamer.core.markers import prompt_markers
from streamer.core.profile import (
    CustomerProfile,
    prefetch_prompts,
    prompt_cache_clear,
    prompt_cache_stats,
)
from streamer.core.scoring import risk_of, score


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; 0 for none.

    >>> quantile([3, 1, 2, 4], 0.5), quantile([], 0.9)
    (3, 0.0)
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@cache
def scenario_events(scenario: str = "day", seed: int = 0) -> tuple[dict[str, Any], ...]:
    """The simulator's event dicts of ``scenario`` (real-shaped: ~940 bytes of JSON each)."""
    from streamer.sim import simulate

    return tuple(simulate(scenario, seed).events())


def encoded_events(limit: int, scenario: str = "day") -> list[tuple[bytes, bytes]]:
    """(key, value) of the first ``limit`` events: customer id and compact JSON."""
    return [(e["customer_id"].encode(), orjson.dumps(e)) for e in scenario_events(scenario)[:limit]]


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (Linux ``/proc``); 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu(fn: Callable[[], object]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def step_costs(events: Sequence[InferenceEvent], engine: Engine,
               limit: int = 3000) -> dict[str, float]:
    """CPU µs per event of the per-event steps, one at a time: the feature code on the first
    ``limit`` events; signals, drift and score on the replayed customers' states."""
    evs = list(events[:limit])
    prompts = [e.prompt for e in evs if e.prompt]
    n_text = max(1, len(prompts))
    out = {
        "simhash_us": _cpu(lambda: [simhash64(p) for p in prompts]) / n_text * 1e6,
        "template_signatures_us": _cpu(lambda: [template_signatures(p) for p in prompts])
        / n_text * 1e6,
        "markers_and_topic_us": _cpu(lambda: [prompt_markers(p) for p in prompts]) / n_text * 1e6,
    }
    profiles: dict[str, CustomerProfile] = {}

    def learn() -> None:
        for e in evs:
            p = profiles.get(e.customer_id)
            if p is None:
                p = profiles[e.customer_id] = CustomerProfile()
            p.learn_one(e, None)

    prompt_cache_clear()  # cold: each prompt's features computed once, as in the replay
    out["profile_learn_one_us"] = _cpu(learn) / len(evs) * 1e6
    states = [s for s in engine.customers.values() if s.profile.n >= 8]
    pop = engine.population
    reps = max(1, len(evs) // max(1, len(states)))
    calls = reps * max(1, len(states))
    out["compute_signals_us"] = _cpu(
        lambda: [compute_signals(s, pop) for _ in range(reps) for s in states]) / calls * 1e6
    sigs = [(s, compute_signals(s, pop)) for s in states]
    out["drift_score_us"] = _cpu(
        lambda: [s.drift.score_one(x) for _ in range(reps) for s, x in sigs]) / calls * 1e6
    out["score_us"] = _cpu(
        lambda: [score(x, pop.baseline) for _ in range(reps) for _, x in sigs]) / calls * 1e6
    # what the replay pays per event: the risk alone (reasons only when an alert is emitted)
    out["risk_of_us"] = _cpu(
        lambda: [risk_of(x) for _ in range(reps) for _, x in sigs]) / calls * 1e6
    return out


#: Events per batch of the batched replay (the worker's ``take``).
BATCH = 500


def _replay(events: Sequence[InferenceEvent], batch: int | None = None
            ) -> tuple[Engine, float, float]:
    """A fresh :class:`Engine` (and an emptied prompt cache) through ``events``: the engine,
    CPU and wall seconds. With ``batch``, each batch's prompt features are prefetched together
    first (as a shell taking batches can: :func:`prefetch_prompts`)."""
    engine = Engine()
    prompt_cache_clear()
    gc.collect()
    t_wall = time.perf_counter()
    t0 = time.process_time()
    step = batch or max(1, len(events))
    for i in range(0, len(events), step):
        chunk = events[i:i + step]
        if batch:
            prefetch_prompts([e.prompt for e in chunk if e.prompt])
        for ev in chunk:
            engine.process(ev)
    engine.finish()
    return engine, time.process_time() - t0, time.perf_counter() - t_wall


def offline_core(limit: int, scenario: str = "day") -> dict[str, Any]:
    """Replay ``limit`` real-shaped events through :class:`Engine`: events/s, per-step µs.

    The figure is the core's steady state, as in a worker that has run for a while: a first
    replay of *another seed's* stream warms what a process builds once (RE2's lazily built
    DFA states: its first few thousand distinct non-English prompts cost 40-170 µs each to
    match, a few µs afterwards; the interpreter's specialised bytecode), and its own rate is
    reported as the cold figure. Everything the replay owns starts empty: a fresh
    :class:`Engine` and an emptied prompt cache (no prompt of the timed stream was seen)."""
    raw = [v for _, v in encoded_events(limit, scenario)]
    decode_s = _cpu(lambda: [decode_event(r) for r in raw])
    events = [decode_event(r) for r in raw]
    # the warm-up: another seed's stream, through a throwaway engine (the cold figure)
    other = [decode_event(orjson.dumps(e)) for e in scenario_events(scenario, 1)[:limit]]
    _, other_s, _ = _replay(other)
    engine, replay_s, wall_s = _replay(events)
    n = len(events)
    cache = prompt_cache_stats()
    _, batched_s, _ = _replay(events, BATCH)
    return {
        "scenario": scenario,
        "events": n,
        "customers": len(engine.customers),
        "mean_event_bytes": statistics.mean(len(r) for r in raw),
        "decode_events_per_s": n / decode_s,
        "events_per_s": n / replay_s,
        "events_per_s_wall": n / wall_s,
        "events_per_s_cold": len(other) / max(1e-9, other_s),
        "us_per_event": replay_s / n * 1e6,
        "cost_vs_decode": replay_s / decode_s,
        "prompt_cache_hit_rate": cache["hits"] / max(1, cache["hits"] + cache["misses"]),
        # the same replay, each batch's prompt features prefetched together (as a shell
        # taking batches can: profile.prefetch_prompts); the same outputs (bench.equality)
        "batch": BATCH,
        "events_per_s_batched": n / batched_s,
        "steps_us": step_costs(events, engine),
        "_engine": engine,
    }


def state_per_customer(engine: Engine, counts: Sequence[int]) -> dict[str, Any]:
    """Encoded state bytes per customer (p50/p99), and this process's RSS per customer when
    holding ``count`` decoded customer states (the replay's states, cycled)."""
    blobs = [codec.encode(st) for st in engine.customers.values()]
    sizes = [len(b) for b in blobs]
    t0 = time.process_time()
    for st in engine.customers.values():
        codec.encode(st)
    encode_us = (time.process_time() - t0) / len(blobs) * 1e6
    out: dict[str, Any] = {
        "customers_replayed": len(blobs),
        "state_bytes_p50": quantile(sizes, 0.5),
        "state_bytes_p99": quantile(sizes, 0.99),
        "state_bytes_max": max(sizes),
        "state_budget_bytes": 20_000,
        "state_encode_us": encode_us,
        "population_bytes": len(codec.encode(engine.population)),
        "rss": {},
    }
    # Each count is held by a fresh process: in this one, the heap the replays freed would be
    # reused, and the held states would hardly move its RSS.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "states.bin"
        path.write_bytes(b"".join(len(b).to_bytes(4, "big") + b for b in blobs))
        for count in counts:
            delta = _held_rss(path, count)
            out["rss"][str(count)] = {"customers": count, "rss_delta_bytes": delta,
                                      "rss_bytes_per_customer": delta / count,
                                      "encoded_bytes_total": sum(sizes[i % len(sizes)]
                                                                 for i in range(count))}
    return out


def _held_rss(path: Path, count: int) -> int:
    """RSS growth of a fresh process that decodes and holds ``count`` of the states in
    ``path`` (cycled), from :func:`hold_states_main`."""
    code = "import sys; from streamer.bench.core import hold_states_main; hold_states_main()"
    done = subprocess.run([sys.executable, "-c", code, str(path), str(count)],
                          capture_output=True, text=True, timeout=600, check=True)
    return int(done.stdout.split()[0])


def hold_states_main() -> None:
    """Child of :func:`_held_rss`: argv is the states file and the count; prints the RSS
    growth in bytes from before decoding to holding them all."""
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    data = path.read_bytes()
    blobs, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        blobs.append(data[i + 4:i + 4 + n])
        i += 4 + n
    del data
    codec.decode(blobs[0])  # what the first decode loads is not the states' memory
    gc.collect()
    before = rss_bytes()
    held = [codec.decode(blobs[j % len(blobs)]) for j in range(count)]
    gc.collect()
    print(rss_bytes() - before, len(held))  # measured with every state still held
