"""The data-only state codec (:mod:`streamer.core.codec`).

* a replay resumed from encoded states gives exactly the alerts and features of an uninterrupted
  replay (customers, population and cluster tokens all go through the codec);
* nothing in a record is executed: a pickle payload is refused, its command never runs;
* decoding is total (hypothesis: random bytes, truncations, bit flips, type-wrong and hostile
  but well-formed payloads give the state or ``StateCodecError``; a state that decodes works);
* caps and size limits hold on both sides; unsupported field types fail at encode time;
* the worker's processor replaces an undecodable stored state by a fresh one and counts it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import zlib
from functools import cache
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.core import codec, customer
from streamer.core.clusters import TokenState, step_token
from streamer.core.customer import SEEN_IDS, CustomerState, next_deadline
from streamer.core.engine import Engine
from streamer.core.events import InferenceEvent, event_from_dict
from streamer.core.feedback import MAX_FEEDBACK_SIGNALS, validate_signal_names
from streamer.core.outputs import ClusterSignal, Feedback
from streamer.core.population import POPULATION_LIMITS, Population
from streamer.core.scoring import SIGNAL_BY_NAME
from streamer.errors import StateCodecError
from streamer.shell.processor import CustomerProcessor, Message
from streamer.sim.data import shared_data_dir
from streamer.sim.simulator import simulate
from tests.unit.core_streams import HOUR, T0, benign_events, extraction_events, run_customer

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def smoke_events() -> tuple[InferenceEvent, ...]:
    """Two simulated hours (the smoke scenario twice, seeds 0 and 1): in the second hour the
    population model is warm (scores) and a second campaign opens its alerts."""
    first = [event_from_dict(e) for e in simulate("smoke", seed=0).events()]
    second = [dataclasses.replace(event_from_dict(e), ts_ms=event_from_dict(e).ts_ms + HOUR)
              for e in simulate("smoke", seed=1).events()]
    return tuple(first + second)


#: where the replay is interrupted: population warm, second campaign not yet alerted
SPLIT = 2700


def _run(eng: Engine, events: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ev in events:
        out += eng.process(ev)
    return out


def _strip(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in o.items() if not k.startswith("emitted_at")} for o in outputs]


def _through_codec(eng: Engine) -> Engine:
    """A new engine whose every state went through encode/decode (what a restart reads)."""
    new = Engine()
    for cid, state in eng.customers.items():
        data = codec.encode(state)
        back = codec.decode(data, CustomerState)
        assert codec.encode(back) == data, cid
        new.driver.cache[cid] = (0, back)
        new.driver.partition(0).timers.set(cid, next_deadline(back))  # as Driver.adopt does
    new.driver.partition(0).population = codec.decode(codec.encode(eng.population), Population)
    for token, ts in eng.clusters.tokens.items():
        new.clusters.tokens[token] = codec.decode(codec.encode(ts), TokenState)
    new.driver.partition(0).meta.watermark_ms = eng.watermark_ms
    return new


def _restored_engine() -> Engine:
    eng = Engine()
    _run(eng, smoke_events()[:SPLIT])
    return _through_codec(eng)


# --- round trip after a real replay ----------------------------------------------------------


@pytest.mark.skipif(shared_data_dir() is None, reason=(
    "needs the real prompt corpora (../shared/data): the fallback corpora are too few"))
def test_resumed_replay_gives_the_same_alerts_and_features() -> None:
    events = smoke_events()
    half = SPLIT
    whole = Engine()
    first = _run(whole, events[:half])
    assert whole.population.windows_learnt > 200, "the population model would not score"
    restored = _through_codec(whole)
    assert restored.population.hst.split_at == whole.population.hst.split_at
    rest_a = _run(whole, events[half:]) + whole.finish()
    rest_b = _run(restored, events[half:]) + restored.finish()
    alerts = [o for o in first + rest_a if o["kind"] == "alert"]
    assert alerts and any(o["kind"] == "alert" for o in rest_a), "nothing to compare"
    assert _strip(rest_a) == _strip(rest_b)
    for cid, state in whole.customers.items():
        assert codec.encode(state) == codec.encode(restored.customers[cid])
    assert codec.encode(whole.population) == codec.encode(restored.population)


def test_customer_states_are_stored_unpacked_and_checksummed() -> None:
    """A customer state's record is not zlib-compressed (the worker encodes every changed state
    once per batch, and zlib was most of that cost) but carries a CRC-32: any flipped bit is
    refused, as zlib's own checksum refused it before. Records written before the checksum
    (flags 0) still decode; large records (a busy token's members) are still compressed."""
    eng = _restored_engine()
    states = list(eng.customers.values())
    assert states
    for state in states[:40]:
        data = codec.encode(state)
        assert data[6] == codec.FLAG_CRC32 and len(data) <= codec.SIZE_LIMITS[CustomerState]
        assert codec.encode(codec.decode(data, CustomerState)) == data
        for i in range(codec.HEADER, len(data), max(1, len(data) // 50)):
            flipped = bytearray(data)
            flipped[i] ^= 1 << (i % 8)
            with pytest.raises(StateCodecError):
                codec.decode(bytes(flipped))
        legacy = data[:6] + b"\x00" + data[codec.HEADER:-4]
        assert codec.encode(codec.decode(legacy, CustomerState)) == data
    both = data[:6] + bytes((codec.FLAG_ZLIB | codec.FLAG_CRC32,)) + data[codec.HEADER:]
    with pytest.raises(StateCodecError, match="flags"):
        codec.decode(both)
    crowd = TokenState()  # a token shared by 400 accounts: a large record, compressed
    for i in range(400):
        step_token(crowd, ClusterSignal("t:x", "tls_fingerprint", f"cus_{i:05d}",
                                        T0 + i * 1000, f"e{i}", 10, 0.2, 0.5))
    packed = codec.encode(crowd)
    assert packed[6] == codec.FLAG_ZLIB
    assert codec.encode(codec.decode(packed, TokenState)) == packed


def test_every_stored_kind_is_storable() -> None:
    """Contract for whoever adds a field: every field type of every stored state is supported."""
    for cls in codec.KINDS.values():
        codec.check_storable(cls)


def test_unsupported_field_types_fail_at_encode_time() -> None:
    @dataclasses.dataclass
    class WithSet:
        ids: set[int] = dataclasses.field(default_factory=set)

    @dataclasses.dataclass
    class WithObject:
        thing: object = None

    for cls in (WithSet, WithObject):
        with pytest.raises(StateCodecError, match="not supported"):
            codec.check_storable(cls)
    with pytest.raises(StateCodecError, match="not a stored state type"):
        codec.encode(WithSet())


def test_nested_containers_and_numpy_arrays_round_trip_and_are_checked() -> None:
    """Field types the states may grow (speed work may move a list to a numpy array)."""

    @dataclasses.dataclass
    class Future:
        hashes: npt.NDArray[np.uint64] = dataclasses.field(
            default_factory=lambda: np.zeros(4, dtype=np.uint64))
        grid: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((2, 3)))
        pair: tuple[int, str] = (1, "a")
        nested: dict[int, list[float]] | None = None
        level: Literal["low", "high"] = "low"
        raw: bytes = b""

    enc, dec = codec._dataclass_plan(Future)
    value = Future(nested={3: [1.5]}, level="high", raw=b"\x00\xff")
    value.hashes[1] = 2**64 - 1
    tree = msgspec.msgpack.decode(msgspec.msgpack.encode(enc(value)))
    back = dec(tree)
    assert back.hashes.dtype == np.uint64 and back.hashes[1] == 2**64 - 1
    assert np.array_equal(back.grid, value.grid) and back.pair == (1, "a")
    assert (back.nested, back.level, back.raw) == ({3: [1.5]}, "high", b"\x00\xff")
    for field, bad in (("hashes", ["<f8", [4], bytes(32)]), ("hashes", ["<u8", [5], bytes(40)]),
                       ("hashes", ["|O", [4], bytes(32)]), ("grid", ["<f8", [2, 3], b"x"]),
                       ("grid", ["<f8", [2, 3], np.full(6, np.nan).tobytes()]),
                       ("level", "medium"), ("pair", [1]), ("nested", {"3": [1.5]})):
        with pytest.raises(codec._Bad, match=field):
            dec({**tree, field: bad})


# --- nothing is executed ------------------------------------------------------------------------


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def pickle_payloads(marker: Path) -> list[bytes]:
    """Pickles that would run ``touch marker``, bare and behind every header an attacker
    could copy from real records (old v1 header, current magic/version/kind)."""
    bomb = pickle.dumps(_RunsCommand(marker))
    header = b'{"schema":1,"river":"0.26.1","kind":"CustomerState"}'
    v1 = b"STRM\x01" + len(header).to_bytes(2, "big") + header + zlib.compress(bomb)
    current = [codec.MAGIC + bytes((codec.SCHEMA_VERSION, kind, flags)) + body
               for kind in codec.KINDS for flags, body in ((0, bomb), (1, zlib.compress(bomb)))]
    return [bomb, v1, *current]


def test_a_pickle_payload_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_RunsCommand(tmp_path / "control")))
    assert (tmp_path / "control").exists(), "the payload does not work: the test proves nothing"
    for payload in pickle_payloads(marker):
        with pytest.raises(StateCodecError):
            codec.decode(payload)
    assert not marker.exists()


def test_processor_replaces_a_bad_stored_state_and_counts_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bomb = pickle_payloads(marker)[1]
    store: dict[str, bytes] = {"c1": bomb, "__population__/0": bomb}
    proc = CustomerProcessor(input_topic="in", verdicts_topic="v", feedback_topic="fb",
                             alerts_topic="a", features_topic="f", dlq_topic="d",
                             signals_topic="s", max_message_bytes=1 << 20, get=store.get)
    events = [msgspec.json.encode({"event_id": f"e{i}", "ts": T0 + i * 1000, "customer_id": "c1",
                                   "model": "m", "input_tokens": 5, "output_tokens": 9})
              for i in range(3)]
    msgs = [Message("in", 0, i, b"c1", v) for i, v in enumerate(events)]
    result = proc.process_batch(msgs, now_ms=T0)
    errors = proc.driver.counters
    assert result.events == 3 and errors["state_decode_errors"] == 2
    assert not marker.exists()
    written = codec.decode(result.writes["c1"][1], CustomerState)
    assert written.events_total == 3
    # a valid record stored under another customer's key is refused as well
    store["c2"] = codec.encode(CustomerState("someone_else", events_total=99))
    assert proc.customer_summary("c2", store.get) is None


# --- totality -------------------------------------------------------------------------------


def _real_records() -> list[bytes]:
    eng = _restored_engine()
    states = sorted(eng.customers.values(), key=lambda s: -s.events_total)
    records = [codec.encode(states[0]), codec.encode(states[-1]), codec.encode(eng.population)]
    records += [codec.encode(t) for t in list(eng.clusters.tokens.values())[:2]]
    records.append(codec.encode(CustomerState("fresh")))
    return records


REAL = _real_records()


def _use(state: Any) -> None:
    """A decoded state must work: run it through the code that uses it, and re-encode it."""
    ev = event_from_dict({"event_id": "x1", "ts": T0 + 10**9, "customer_id": "c", "model": "m",
                          "input_tokens": 3, "output_tokens": 900, "prompt": "step by step"})
    if isinstance(state, CustomerState):
        pop = Population()
        for i in range(3):
            customer.step(state, dataclasses.replace(ev, event_id=f"x{i}",
                                                     ts_ms=ev.ts_ms + i), pop)
        customer.apply_feedback(state, Feedback(state.customer_id, "false_positive", ev.ts_ms))
        customer.tick(state, ev.ts_ms + 10**10, pop)
        customer.compute_signals(state, pop)
    elif isinstance(state, Population):
        sig = dict.fromkeys(POPULATION_LIMITS, 0.5)
        state.score_window(sig)
        state.learn_window(sig, ev.ts_ms)
        state.observe_model("m", ev.ts_ms)
        [state.baseline(n) for n in POPULATION_LIMITS]
    elif isinstance(state, TokenState):
        step_token(state, ClusterSignal("t:x", "tls_fingerprint", "c", ev.ts_ms, "e", 10,
                                        0.9, 0.9))
    # a hostile value may leave a state that is refused at encode time: refused, not a crash
    with contextlib.suppress(StateCodecError):
        codec.encode(state, max_bytes=codec.MAX_RECORD_BYTES)


def _decode_total(data: bytes) -> None:
    try:
        state = codec.decode(data)
    except StateCodecError:
        return
    _use(state)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _decode_total(data)
    _decode_total(REAL[0][:7] + data)


@FUZZ
@given(st.sampled_from(REAL), st.data())
def test_truncations_and_bit_flips(record: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(record)))
    _decode_total(record[:cut])
    flipped = bytearray(record)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(record) - 1))
        flipped[i] ^= 1 << data.draw(st.integers(0, 7))
    _decode_total(bytes(flipped))


def _body(record: bytes) -> Any:
    body = record[codec.HEADER:]
    if record[6] & codec.FLAG_CRC32:
        body = body[:-4]
    return msgspec.msgpack.decode(zlib.decompress(body) if record[6] & 1 else body)


def _pack(record: bytes, tree: Any) -> bytes:
    return record[:6] + b"\x00" + msgspec.msgpack.encode(tree)


def _paths(tree: Any, path: tuple[Any, ...] = (), items: int = 8) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(tree, dict):
        for k, v in list(tree.items())[:64]:
            out += _paths(v, (*path, k), items)
    elif isinstance(tree, list):
        for i, v in enumerate(tree[:items]):
            out += _paths(v, (*path, i), items)
    return out


def _replace(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {**tree, head: _replace(tree[head], rest, value)}
    return [_replace(v, rest, value) if i == head else v for i, v in enumerate(tree)]


HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, -1, 1, 2**63 - 1, -(2**63), 2**64 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, -1e300, 1e300, float("nan"), float("inf"), -float("inf")]),
    st.text(max_size=8), st.binary(max_size=16),
    st.lists(st.integers(-5, 5), max_size=6),
    st.dictionaries(st.text(max_size=4), st.integers(-(2**63), 2**63), max_size=4),
    st.just([0] * 600), st.just({str(i): 1.0 for i in range(600)}),
)


@FUZZ
@given(st.sampled_from(REAL), st.data())
def test_well_formed_but_type_wrong_or_hostile_payloads(record: bytes,
                                                        data: st.DataObject) -> None:
    tree = _body(record)
    paths = _paths(tree)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            tree = _replace(tree, path, data.draw(HOSTILE))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    _decode_total(_pack(record, tree))


def test_every_number_at_its_extremes_decodes_to_a_working_state_or_is_refused() -> None:
    """Each numeric field of real records set to extreme values of its type, one at a time."""
    ints = [-1, -(2**63), 2**64 - 1]
    floats = [-1.0, 1e15, -1e15]
    tried = 0
    for record in REAL[:3]:  # the largest and smallest customer, the population
        tree = _body(record)
        for path in _paths(tree, items=2):
            leaf = tree
            for k in path:
                leaf = leaf[k]
            if isinstance(leaf, bool) or not isinstance(leaf, int | float):
                continue
            for value in ints if isinstance(leaf, int) else floats:
                tried += 1
                _decode_total(_pack(record, _replace(tree, path, value)))
    assert tried > 300


def test_type_wrong_values_are_refused() -> None:
    record = codec.encode(run_customer(benign_events(30))[0])
    tree = _body(record)
    for field, value in (("events_total", "3"), ("events_total", 3.0), ("events_total", True),
                         ("customer_id", 7), ("risk", "0.1"), ("seen_ids", {"a": 1}),
                         ("profile", []), ("episode", None)):
        with pytest.raises(StateCodecError, match=field):
            codec.decode(_pack(record, {**tree, field: value}))
    assert codec.decode(_pack(record, tree)).events_total == 30


def test_absurd_nesting_and_decompression_bombs_are_refused() -> None:
    head = codec.MAGIC + bytes((codec.SCHEMA_VERSION, 1))
    with pytest.raises(StateCodecError):
        codec.decode(head + b"\x00" + b"\x91" * 200_000 + b"\xc0")
    bomb = zlib.compress(b"\x00" * (codec.MAX_RECORD_BYTES * 4), 9)
    assert len(bomb) < 100_000
    with pytest.raises(StateCodecError, match="compressed"):
        codec.decode(head + b"\x01" + bomb)
    with pytest.raises(StateCodecError, match="MessagePack"):  # announces 4 G items, has none
        codec.decode(head + b"\x00" + b"\x81\xa8seen_ids\xdd\xff\xff\xff\xff")


def test_a_record_of_one_kind_is_not_read_as_another() -> None:
    record = codec.encode(Population())
    with pytest.raises(StateCodecError, match="expected CustomerState"):
        codec.decode(record, CustomerState)
    assert isinstance(codec.decode(record), Population)


# --- caps and size limits ----------------------------------------------------------------


def test_caps_hold_on_both_sides() -> None:
    st_ = run_customer(benign_events(30))[0]
    st_.seen_ids = list(range(SEEN_IDS + 1))
    with pytest.raises(StateCodecError, match="seen_ids"):
        codec.encode(st_)
    record = codec.encode(CustomerState("c"))
    tree = _body(record)
    with pytest.raises(StateCodecError, match=r"seen_ids.*cap"):
        codec.decode(_pack(record, {**tree, "seen_ids": list(range(SEEN_IDS + 1))}))
    with pytest.raises(StateCodecError, match=r"sums.*exactly"):  # fixed-size list
        codec.decode(_pack(record, {**tree, "profile": {**tree["profile"], "sums": [0.0]}}))
    with pytest.raises(StateCodecError, match=r"recent.*range"):  # hashes are uint64
        codec.decode(_pack(record, {**tree, "profile": {**tree["profile"], "recent": [-1]}}))
    with pytest.raises(StateCodecError, match="string"):
        codec.decode(_pack(record, {**tree, "customer_id": "x" * (codec.MAX_STR + 1)}))


def test_size_limit_is_checked_at_encode() -> None:
    state = run_customer(extraction_events(300))[0]
    size = len(codec.encode(state))
    assert size <= codec.SIZE_LIMITS[CustomerState]
    with pytest.raises(codec.StateTooLarge) as info:
        codec.encode(state, max_bytes=size - 1)
    assert info.value.size == size and info.value.limit == size - 1
    assert len(codec.encode(state, max_bytes=size)) == size


def test_feedback_signal_names_are_validated_and_capped() -> None:
    names = list(SIGNAL_BY_NAME)
    assert len(names) > MAX_FEEDBACK_SIGNALS, "the cap would never bite: test proves nothing"
    assert validate_signal_names(names + names) == tuple(names[:MAX_FEEDBACK_SIGNALS])
    assert validate_signal_names(["x" * 10_000, None, 5, "cot_rate"]) == ("cot_rate",)
    assert validate_signal_names(5) == validate_signal_names({"cot_rate": 1}) == ()
    # through the core: validated names keep the stored state small however much is sent
    state = run_customer(benign_events(30))[0]
    for i in range(5):
        spam = [f"sig{i}-{j}-" + "y" * 1000 for j in range(2000)] + ["cot_rate"]
        customer.apply_feedback(state, Feedback(state.customer_id, "false_positive", T0,
                                                signals=validate_signal_names(spam)))
    assert set(state.feedback.damped) == {"cot_rate"}
    assert len(codec.encode(state)) <= codec.SIZE_LIMITS[CustomerState]
