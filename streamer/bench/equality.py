"""Output digests of the offline core: the check that a speed change did not change a result.

``python -m streamer.bench.equality [--write FILE] [--check FILE] [--scenarios ...]`` replays
each scenario through :func:`streamer.core.engine.replay` (the evaluation code path: events
from :func:`~streamer.core.events.event_from_dict`) and, for the first simulator's scenarios,
a second time from compact JSON bytes through :func:`~streamer.core.events.decode_event` (the
worker's decoder). It records a SHA-256 of every alert, feature record and cluster signal, in
order, and of every customer's final encoded state. Run it on the unmodified tree with
``--write``, then after each change with ``--check``: every digest must be equal.

>>> d = digest_stream("smoke-tiny", _tiny())
>>> d["events"], sorted(k for k in d if not k.startswith("n_"))
(60, ['alerts', 'cluster_signals', 'events', 'features', 'state'])
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from streamer.core import codec
from streamer.core.clusters import ClusterIndex
from streamer.core.engine import replay
from streamer.core.events import InferenceEvent, decode_event, event_from_dict
from streamer.core.outputs import ClusterSignal, ClusterVerdict
from streamer.core.profile import prefetch_prompts, prompt_cache_clear
from streamer.errors import InvalidEvent

#: (generator, scenario, scale): first simulator ("sim") or red team ("rt").
DEFAULT: tuple[tuple[str, str, float], ...] = (
    ("sim", "smoke", 1.0), ("sim", "day", 1.0), ("sim", "hydra", 1.0),
    ("sim", "lookalikes", 1.0), ("rt", "rt-hydra", 0.1), ("rt", "rt-evasion", 0.1),
)


def _canon(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


class _Recorder:
    """Wraps :meth:`ClusterIndex.step` to record every cluster signal the replay produces."""

    def __init__(self) -> None:
        self.signals = hashlib.sha256()
        self.n = 0
        self._orig = ClusterIndex.step

    def __enter__(self) -> _Recorder:
        rec = self
        orig = self._orig

        def step(index: ClusterIndex, signal: ClusterSignal) -> list[ClusterVerdict]:
            rec.signals.update(_canon(signal.to_dict()))
            rec.n += 1
            return orig(index, signal)

        ClusterIndex.step = step  # type: ignore[method-assign, assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        ClusterIndex.step = self._orig  # type: ignore[method-assign]


def _valid(raws: Iterable[dict[str, Any]], via_bytes: bool) -> Iterator[InferenceEvent]:
    for raw in raws:
        try:
            yield decode_event(orjson.dumps(raw)) if via_bytes else event_from_dict(raw)
        except InvalidEvent:
            continue


def _prefetched(events: Iterator[InferenceEvent], batch: int = 500
                ) -> Iterator[InferenceEvent]:
    """The events, with each batch's prompt features put in the cache first (as a shell
    taking batches would, :func:`~streamer.core.profile.prefetch_prompts`)."""
    while chunk := list(itertools.islice(events, batch)):
        prefetch_prompts([e.prompt for e in chunk if e.prompt])
        yield from chunk


def digest_stream(name: str, raws: list[dict[str, Any]], via_bytes: bool = False,
                  prefetch: bool = False) -> dict[str, Any]:
    """Digest of the replay of ``raws`` (see the module docstring)."""
    prompt_cache_clear()
    events = _valid(raws, via_bytes)
    with _Recorder() as rec:
        result = replay(_prefetched(events) if prefetch else events)
    alerts, features, state = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
    for a in result.alerts:
        alerts.update(_canon(a))
    for f in result.features:
        features.update(_canon(f))
    for cid, st in sorted(result.engine.customers.items()):
        state.update(cid.encode() + b"\0" + codec.encode(st))
    return {"events": result.events, "n_alerts": len(result.alerts),
            "n_features": len(result.features), "n_cluster_signals": rec.n,
            "alerts": alerts.hexdigest(), "features": features.hexdigest(),
            "cluster_signals": rec.signals.hexdigest(), "state": state.hexdigest()}


def _tiny() -> list[dict[str, Any]]:
    return [{"event_id": f"e{i}", "ts": 1767225600000 + i * 1000, "customer_id": f"c{i % 3}",
             "model": "m", "input_tokens": 10, "output_tokens": 20,
             "prompt": f"explain step by step item {i % 7}"} for i in range(60)]


def scenario_raws(generator: str, scenario: str, scale: float, seed: int = 0
                  ) -> list[dict[str, Any]]:
    if generator == "rt":
        from streamer.sim.redteam import generate

        return list(generate(scenario, seed, scale).events())
    from streamer.sim import simulate

    return list(simulate(scenario, seed).events())


def run(cases: Iterable[tuple[str, str, float]], bytes_too: bool = True,
        prefetch: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for gen, scenario, scale in cases:
        raws = scenario_raws(gen, scenario, scale)
        for via_bytes in (False, True) if (bytes_too and gen == "sim") else (False,):
            key = f"{gen}:{scenario}:{scale}" + (":bytes" if via_bytes else "")
            t0 = time.process_time()
            out[key] = digest_stream(key, raws, via_bytes, prefetch)
            dt = time.process_time() - t0
            print(f"{key}: {out[key]['events']} events, {out[key]['n_alerts']} alerts, "
                  f"{dt:.1f} s cpu", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", type=Path)
    ap.add_argument("--check", type=Path)
    ap.add_argument("--no-state", action="store_true",
                    help="compare outputs only, not final encoded states")
    ap.add_argument("--quick", action="store_true", help="smoke, hydra and rt-hydra only")
    ap.add_argument("--prefetch", action="store_true",
                    help="prefetch each 500-event batch's prompt features (the batched path)")
    args = ap.parse_args(argv)
    cases = DEFAULT if not args.quick else tuple(
        c for c in DEFAULT if c[1] in ("smoke", "hydra", "rt-hydra"))
    got = run(cases, prefetch=args.prefetch)
    if args.write:
        args.write.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    if args.check:
        want = json.loads(args.check.read_text())
        bad = 0
        for key, digest in got.items():
            ref = want.get(key)
            if ref is None:
                print(f"{key}: no reference", file=sys.stderr)
                continue
            fields = [k for k in digest if not (args.no_state and k == "state")]
            diff = [k for k in fields if digest[k] != ref.get(k)]
            if diff:
                bad += 1
                print(f"{key}: DIFFERS in {diff}", file=sys.stderr)
            else:
                print(f"{key}: equal", file=sys.stderr)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
