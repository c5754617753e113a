"""The native kernels (``streamer/core/_kernels.c``) equal their pure-Python twins.

``streamer.core.kernels`` binds each kernel to the C function when the extension is built and
to the twin otherwise; the twins are the definitions. Every test below compares the C function
with its twin value for value (integers equal, doubles bit-identical), on real prompts, random
inputs and the half-space trees the population uses, and checks that bad inputs raise instead of
crashing. The C tests skip when the extension is not built, except under ``CI=true``, where a
missing extension fails (the install must have compiled it).
"""

from __future__ import annotations

import math
import os
import random
import struct
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.core import fingerprints, kernels
from streamer.core.estimators import HalfSpaceTrees
from streamer.sim.simulator import simulate

try:
    from streamer.core import _kernels  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the install
    _kernels = None

native = pytest.mark.skipif(_kernels is None and os.environ.get("CI") != "true",
                            reason="the C extension is not built (no compiler at install)")


def test_the_extension_is_built_on_ci() -> None:
    if os.environ.get("CI") == "true":
        assert kernels.NATIVE and _kernels is not None, "the C kernels were not compiled"
    assert (_kernels is not None) == kernels.NATIVE


@native
def test_simhash_of_real_prompts_equals_the_twin_and_the_numpy_path() -> None:
    prompts = [e["prompt"] for e in simulate("smoke", 0).events() if e.get("prompt")]
    assert len(prompts) > 500
    for text in prompts:
        tokens = fingerprints.word_bytes(text)
        value = _kernels.simhash_tokens(tokens)
        assert value == kernels.py_simhash_tokens(tokens) == fingerprints._simhash_numpy(tokens)
    assert _kernels.simhash_tokens([]) == 0


@native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), max_size=120))
def test_simhash_of_any_tokens_equals_the_twin(tokens: list[bytes]) -> None:
    assert _kernels.simhash_tokens(tokens) == kernels.py_simhash_tokens(tokens)


@native
@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=120, max_value=700), st.integers(min_value=0, max_value=2**32))
def test_simhash_counts_past_the_byte_counters_equal_the_twin(n: int, seed: int) -> None:
    """The C votes are counted in byte-wide lanes moved out every 255 hashes: long token
    lists (up to 1,399 features), and the same token over and over (every vote one way), give
    the twin's value."""
    rng = random.Random(seed)
    tokens = [rng.randbytes(rng.randint(1, 12)) for _ in range(n)]
    assert _kernels.simhash_tokens(tokens) == kernels.py_simhash_tokens(tokens)
    same = [tokens[0]] * n
    assert _kernels.simhash_tokens(same) == kernels.py_simhash_tokens(same)


@native
@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**70),
       st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=60))
def test_nearest_distance_equals_the_twin(h: int, others: list[int]) -> None:
    assert _kernels.nearest_distance(h, others) == kernels.py_nearest_distance(h, others)


@native
def test_kernels_reject_bad_input_instead_of_crashing() -> None:
    with pytest.raises(TypeError):
        _kernels.simhash_tokens(["text, not bytes"])
    with pytest.raises(TypeError):
        _kernels.simhash_tokens((b"a", b"b"))
    with pytest.raises(OverflowError):
        _kernels.nearest_distance(1, [-1])
    with pytest.raises(TypeError):
        _kernels.nearest_distance(1, [None])
    hst = _trained_trees(random.Random(1))
    split_feature, split_at, partial_at, stops_at = hst._buffers()
    vals = [0.5] * len(hst.features)
    with pytest.raises(ValueError):  # tables of other trees
        _kernels.hst_score(vals, split_feature, split_at, partial_at, stops_at[:-1],
                           hst.n_trees, hst.height, 1.0)
    with pytest.raises(ValueError):  # fewer values than the splits use
        _kernels.hst_score([0.5], split_feature, split_at, partial_at, stops_at,
                           hst.n_trees, hst.height, 1.0)
    with pytest.raises(TypeError):
        _kernels.hst_learn([None] * len(vals), split_feature, split_at, hst.l_mass,
                           hst.n_trees, hst.height)


def _trained_trees(rng: random.Random, windows: float = 2.5) -> HalfSpaceTrees:
    names = ("a", "b", "c", "d")
    hst = HalfSpaceTrees(n_trees=7, height=6, window_size=50,
                         limits={n: (0.0, 1.0) for n in names}, seed=rng.randrange(1000))
    for _ in range(int(windows * hst.window_size)):
        hst.learn_one({n: rng.betavariate(2, 5) for n in names})
    return hst


@native
def test_half_space_trees_score_and_learn_equal_the_twins() -> None:
    rng = random.Random(7)
    for _ in range(5):
        hst = _trained_trees(rng)
        hst.score_values([0.1] * len(hst.features))  # prepares the scoring tables
        split_feature, split_at, partial_at, stops_at = hst._buffers()
        denominator = float(hst.n_trees * hst.window_size * hst.n_nodes)
        for _ in range(300):
            vals = [rng.random() * 1.2 - 0.1 for _ in hst.features]
            native_score = _kernels.hst_score(vals, split_feature, split_at, partial_at,
                                              stops_at, hst.n_trees, hst.height, denominator)
            twin = kernels.py_hst_score(vals, split_feature, split_at, partial_at, stops_at,
                                        hst.n_trees, hst.height, denominator)
            assert native_score == twin  # bit-identical doubles
            assert native_score == hst._score_walk(vals)  # River's walk
            mass_c, mass_py = list(hst.l_mass), list(hst.l_mass)
            _kernels.hst_learn(vals, split_feature, split_at, mass_c, hst.n_trees, hst.height)
            kernels.py_hst_learn(vals, split_feature, split_at, mass_py, hst.n_trees, hst.height)
            assert mass_c == mass_py
            assert sum(mass_c) - sum(hst.l_mass) == hst.n_trees * (hst.height + 1)


def test_trees_learn_and_score_as_before_whichever_kernel() -> None:
    """The trees through :mod:`kernels` equal the same trees walked the pure-Python way."""
    rng = random.Random(3)
    a, b = _trained_trees(random.Random(5)), _trained_trees(random.Random(5))
    assert a.l_mass == b.l_mass and a.r_mass == b.r_mass
    for _ in range(400):
        x = {n: rng.random() for n in a.features}
        vals = [x[n] for n in a.features]
        assert a.score_values(vals) == b._score_walk(vals)
        a.learn_values(vals)
        kernels.py_hst_learn(vals, array("q", b.split_feature), array("d", b.split_at),
                             b.l_mass, b.n_trees, b.height)
        b._count_one()
        assert a.l_mass == b.l_mass and a.counter == b.counter


@native
def test_tree_masses_of_any_size_count_on_as_python_adds() -> None:
    """A decoded state may hold counts beyond 64 bits: the kernel adds as Python does."""
    hst = _trained_trees(random.Random(2))
    split_feature, split_at = hst._split_buffers()
    huge = [2**70 + i if i % 3 == 0 else 2**63 - 1 for i in range(len(hst.l_mass))]
    mass_c, mass_py = list(huge), list(huge)
    vals = [0.3] * len(hst.features)
    _kernels.hst_learn(vals, split_feature, split_at, mass_c, hst.n_trees, hst.height)
    kernels.py_hst_learn(vals, split_feature, split_at, mass_py, hst.n_trees, hst.height)
    assert mass_c == mass_py and mass_c != huge


def _p2_inputs(rng: random.Random) -> tuple[list[float], list[float], list[float],
                                            tuple[float, ...], float]:
    q = rng.choice([0.5, 0.1, 0.9, rng.random()])
    h = sorted(rng.choice([rng.random(), rng.gauss(0, 1e3), 0.0, 1.0]) for _ in range(5))
    n = rng.randrange(5, 5000)
    pos = sorted([1.0, *rng.sample(range(2, max(6, n)), 3), float(max(6, n))])
    markers = [p + rng.uniform(-2.5, 2.5) for p in pos]
    x = rng.choice([rng.random(), rng.gauss(0, 1e3), h[0], h[4], h[2], -1e9, 1e9,
                    float("nan"), float("inf")])
    return h, [float(p) for p in pos], markers, (0.0, q / 2, q, (1 + q) / 2, 1.0), x


@native
def test_quantile_steps_equal_the_twin_bit_for_bit() -> None:
    import math

    rng = random.Random(11)
    for _ in range(20_000):
        h, pos, markers, desired, x = _p2_inputs(rng)
        a, b = (list(h), list(pos), list(markers)), (list(h), list(pos), list(markers))
        _kernels.p2_update(*a, desired, x)
        kernels.py_p2_update(*b, desired, x)
        for got, want in zip(a, b, strict=True):
            assert [math.isnan(v) or v for v in got] == [math.isnan(v) or v for v in want]
            assert [v if not math.isnan(v) else "nan" for v in got] == [
                v if not math.isnan(v) else "nan" for v in want]


def test_running_quantiles_match_rivers_through_the_kernel() -> None:
    from river import stats

    from streamer.core.estimators import Quantile

    rng = random.Random(5)
    for q in (0.5, 0.25, 0.9):
        ours, river = Quantile(q), stats.Quantile(q)
        for _ in range(3000):
            x = rng.lognormvariate(0, 1)
            ours.update(x)
            river.update(x)
            assert ours.get() == river.get()


@native
def test_ascii_fingerprint_of_real_prompts_equals_the_token_path() -> None:
    prompts = [e["prompt"] for e in simulate("smoke", 0).events() if e.get("prompt")]
    for text in prompts:
        low = text[: fingerprints.WORD_LIMIT * 12].lower()
        if not low.isascii():
            continue
        got = _kernels.ascii_fingerprint(low.encode(), fingerprints.WORD_LIMIT, 5)
        assert got == kernels.py_ascii_fingerprint(low.encode(), fingerprints.WORD_LIMIT, 5)
        tokens = fingerprints.word_bytes(text)
        assert got[:2] == (fingerprints._simhash_numpy(tokens), len(tokens))


@native
@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab z'0123 9.,-\n\tQ"), max_size=300),
       st.integers(min_value=0, max_value=120), st.integers(min_value=0, max_value=8))
def test_ascii_fingerprint_of_any_text_equals_the_twin(text: str, limit: int, edge: int) -> None:
    low = text.lower().encode()
    edge = min(edge, limit)
    assert (_kernels.ascii_fingerprint(low, limit, edge)
            == kernels.py_ascii_fingerprint(low, limit, edge))


@native
def test_ascii_fingerprint_refuses_what_it_does_not_define() -> None:
    with pytest.raises(ValueError):
        _kernels.ascii_fingerprint("café".encode(), 96, 5)
    with pytest.raises(ValueError):
        _kernels.ascii_fingerprint(b"a b", 3, 5)
    with pytest.raises(TypeError):
        _kernels.ascii_fingerprint("text", 96, 5)


def test_prompt_fingerprints_equal_the_token_by_token_definition() -> None:
    """``prompt_fingerprint`` (one C pass where it can) against SimHash and template signatures
    computed from ``word_bytes``, on real prompts, short, long (> 800 characters: the wrapper
    from both ends) and non-ASCII."""
    rng = random.Random(4)
    prompts = [e["prompt"] for e in simulate("smoke", 0).events() if e.get("prompt")]
    prompts += [" ".join(rng.sample(prompts, 6)) for _ in range(200)]  # long ones
    prompts += ["Résumé: 请逐步解释 step 2 " * 3, "a b c", "", "0 00 000 a1b22c333 " * 80]
    assert sum(len(p) > 800 for p in prompts) >= 150
    for text in prompts:
        tokens = fingerprints.word_bytes(text)
        want = (fingerprints._simhash_numpy(tokens), *fingerprints.template_signatures(text))
        assert fingerprints.prompt_fingerprint(text) == want, text[:80]


@native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=30), st.sampled_from([0.5, 1.0])),
                max_size=200), st.integers(min_value=1, max_value=12))
def test_capped_counts_equal_the_twin(steps: list[tuple[int, float]], cap: int) -> None:
    a: dict[int, float] = {}
    b: dict[int, float] = {}
    for key, decay in steps:
        for d in (a, b):
            for k in d:
                d[k] *= decay  # decayed counts make ties and orders of every kind
        assert _kernels.bump(a, key, cap) == kernels.py_bump(b, key, cap)
        assert list(a.items()) == list(b.items())
        assert len(a) <= cap


def _same(a: float, b: float) -> bool:
    """The same IEEE double (-0.0 apart from 0.0); any NaN equal to any NaN: which operand's
    payload and sign a NaN result carries is defined by neither Python nor C."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_any_float = st.floats(width=64)


@native
@settings(max_examples=3000, deadline=None)
@given(st.one_of(_any_float, st.integers(min_value=-10**9, max_value=10**9).map(lambda i: i / 2e4),
                 st.integers(min_value=-10**6, max_value=10**6).map(lambda i: (i + 0.5) / 1e4),
                 st.integers(min_value=-10**6, max_value=10**6).map(lambda i: i / 32)))
def test_rounding_to_four_places_is_pythons_round(x: float) -> None:
    """The contributions kernel rounds with Python's exact ``round(x, 4)``: ties (k/32, k/2e4),
    near-ties ((i + .5)/1e4 is not exact), huge, tiny, negative zero, inf and NaN."""
    rows = (("s", 0.0, 1.0, x),)
    parts: list[tuple[str, float]] = []
    total = _kernels.contributions({"s": 1.0}, rows, 0.0, None, None, parts)
    want = round(x, 4)
    if want == 0.0:
        assert parts == [] and _same(total, 0.0)
    else:
        assert _same(parts[0][1], want), (x, parts, want)


_signals = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]),
                           st.one_of(_any_float, st.integers(-5, 5)), max_size=5)
_rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "e", "f"]), _finite,
                           _finite.filter(lambda s: s != 0.0), _finite), max_size=8)
_offsets = st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b", "c", "f"]), _finite,
                                                max_size=4))


@native
@settings(max_examples=600, deadline=None)
@given(_signals, _rows, _finite, _offsets, _offsets)
def test_contributions_equal_the_twin(signals: dict[str, float],
                                      rows: list[tuple[str, float, float, float]],
                                      total: float, learnt: dict[str, float] | None,
                                      damped: dict[str, float] | None) -> None:
    got: list[tuple[str, float]] = []
    want: list[tuple[str, float]] = []
    a = _kernels.contributions(signals, tuple(rows), total, learnt, damped, got)
    b = kernels.py_contributions(signals, tuple(rows), total, learnt, damped, want)
    assert _same(a, b)
    assert [n for n, _ in got] == [n for n, _ in want]
    assert all(_same(x, y) for (_, x), (_, y) in zip(got, want, strict=True))
    assert _same(_kernels.contributions(signals, tuple(rows), total, learnt, damped, None), a)


@native
def test_contributions_score_real_signals_as_the_twin() -> None:
    """On the detector's own rows and the signals of a replayed day, risk and reasons agree."""
    from streamer.core import scoring
    from streamer.core.engine import replay
    from streamer.core.events import event_from_dict

    result = replay(event_from_dict(e) for e in simulate("smoke", seed=3).events())
    states = [s for s in result.engine.customers.values() if s.signals]
    assert len(states) > 10
    for st_ in states:
        got: list[tuple[str, float]] = []
        want: list[tuple[str, float]] = []
        rows = scoring._rows()
        a = _kernels.contributions(st_.signals, rows, scoring.PRIOR, None, None, got)
        b = kernels.py_contributions(st_.signals, rows, scoring.PRIOR, None, None, want)
        assert _same(a, b) and got == want


@native
@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(_any_float, st.floats(min_value=0.0, max_value=50.0)), max_size=24))
def test_entropy_equals_the_twin(weights: list[float]) -> None:
    assert _same(_kernels.entropy(weights), kernels.py_entropy(weights))
    as_dict = {f"k{i}": w for i, w in enumerate(weights)}
    assert _same(_kernels.entropy(as_dict), kernels.py_entropy(as_dict))


@native
@settings(max_examples=400, deadline=None)
@given(st.lists(_any_float, max_size=30), _any_float, st.lists(_any_float, max_size=30))
def test_decays_folds_and_divisions_equal_the_twins(values: list[float], factor: float,
                                                    other: list[float]) -> None:
    a, b = list(values), list(values)
    _kernels.scale(a, factor)
    kernels.py_scale(b, factor)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    da = {i: v for i, v in enumerate(values)}
    db = dict(da)
    _kernels.scale(da, factor)
    kernels.py_scale(db, factor)
    assert list(da) == list(db) and all(_same(da[k], db[k]) for k in da)
    x = (other + values)[: len(values)]
    if len(x) == len(values):
        fa, fb = _kernels.ew_fold(values, x, factor), kernels.py_ew_fold(values, x, factor)
        assert all(_same(p, q) for p, q in zip(fa, fb, strict=True))
    if factor != 0.0:
        qa, qb = _kernels.divided(values, factor), kernels.py_divided(values, factor)
        assert all(_same(p, q) for p, q in zip(qa, qb, strict=True))


@native
@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]),
                       st.one_of(_any_float, st.integers(-3, 3)), max_size=4),
       st.lists(st.tuples(st.sampled_from(["a", "b", "c", "x"]), _finite, _finite), max_size=6))
def test_clamped_vectors_equal_the_twin(signals: dict[str, float],
                                        limits: list[tuple[str, float, float]]) -> None:
    a = _kernels.clamped(signals, tuple(limits))
    b = kernels.py_clamped(signals, tuple(limits))
    assert all(_same(p, q) for p, q in zip(a, b, strict=True)) and len(a) == len(b)


@native
def test_numeric_kernels_refuse_what_they_do_not_define() -> None:
    with pytest.raises(ZeroDivisionError):
        _kernels.divided([1.0], 0.0)
    with pytest.raises(ZeroDivisionError):
        _kernels.contributions({"a": 1.0}, (("a", 0.0, 0.0, 1.0),), 0.0, None, None, None)
    with pytest.raises(ZeroDivisionError):
        kernels.py_contributions({"a": 1.0}, (("a", 0.0, 0.0, 1.0),), 0.0, None, None, None)
    with pytest.raises(ValueError):
        _kernels.ew_fold([1.0], [1.0, 2.0], 0.5)
    with pytest.raises(TypeError):
        _kernels.contributions({"a": "x"}, (("a", 0.0, 1.0, 1.0),), 0.0, None, None, None)
    with pytest.raises(TypeError):
        _kernels.contributions({}, (("a", 0.0),), 0.0, None, None, None)
    with pytest.raises(TypeError):
        _kernels.entropy(("not", "a", "list"))
    with pytest.raises(TypeError):
        _kernels.scale([1.0, "x"], 0.5)
    with pytest.raises(TypeError):
        _kernels.clamped({"a": None}, (("a", 0.0, 1.0),))


def test_a_topic_decayed_to_a_subnormal_weight_does_not_crash_the_profile() -> None:
    """A topic seen once, early, in a long-lived account decays towards 0; its share of the
    total then underflows to 0.0, where ``p * log2(p)`` used to raise ``math domain error``
    (and kill the worker: it is not an input error)."""
    from streamer.core.profile import CustomerProfile

    p = CustomerProfile()
    p.topics[0], p.topics[1] = 24.0, 5e-324
    p.settings = {"a": 24.0, "b": 5e-324}
    for entropy in (kernels.entropy, kernels.py_entropy):
        assert entropy(p.topics) == 0.0 and entropy(p.settings) == 0.0
    assert p.topic_entropy() == 0.0 and p.settings_entropy() == 0.0


@native
@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.integers(-30, 30), st.integers()), max_size=24),
       st.one_of(st.integers(-30, 30), st.integers()))
def test_counts_above_a_floor_equal_the_twin(values: list[int], floor: int) -> None:
    assert _kernels.count_above(values, floor) == kernels.py_count_above(values, floor)
    with pytest.raises(TypeError):
        _kernels.count_above([1.5], 0)


@native
@settings(max_examples=2000, deadline=None)
@given(st.one_of(_any_float, st.integers(min_value=-10**9, max_value=10**9).map(lambda i: i / 2e5),
                 st.integers(min_value=-10**6, max_value=10**6).map(lambda i: (i + 0.5) / 1e5),
                 st.integers(-(10**20), 10**20)),
       st.integers(min_value=0, max_value=22))
def test_rounded_values_are_pythons_round(x: float, ndigits: int) -> None:
    """Feature records are rounded by the kernel: Python's exact ``round`` at every precision,
    ints kept as ints, the key order kept."""
    values = {"a": x, "b": 0.123456789, "c": 3}
    got = _kernels.rounded(values, ndigits)
    want = kernels.py_rounded(values, ndigits)
    assert list(got) == list(want)
    for k in got:
        assert type(got[k]) is type(want[k])
        if isinstance(want[k], float):
            assert _same(got[k], want[k]), (x, ndigits, got, want)
        else:
            assert got[k] == want[k]
    with pytest.raises(ValueError):
        _kernels.rounded(values, 23)


@native
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab z'0123 9.,-\n\tQ"), min_size=790, max_size=1500),
       st.text(alphabet=st.sampled_from("ab z'0é9 ,"), max_size=30))
def test_long_prompts_take_their_wrapper_from_both_ends_as_the_token_path(body: str,
                                                                          end: str) -> None:
    """Over 800 characters the wrapper comes from the first and last 400: one C pass each,
    the same signatures as the token-by-token path (including a non-ASCII end, and ends with
    fewer than five words)."""
    for text in (body, body + end, "x " * 2 + body.replace(" ", "") + end):
        want = fingerprints._signatures_of(fingerprints._template_tokens(text))
        assert fingerprints.prompt_fingerprint(text)[1:] == want
        assert fingerprints.template_signatures(text) == want


def test_ascii_stand_ins_of_every_code_point_equal_the_regex_definition() -> None:
    from streamer.core.markers import ascii_stand_in, py_ascii_stand_in

    every = "".join(map(chr, range(0x110000)))  # lone surrogates included
    for start in range(0, len(every), 0x10000):
        chunk = every[start:start + 0x10000]
        assert ascii_stand_in(chunk) == py_ascii_stand_in(chunk), hex(start)
    assert ascii_stand_in("") == "" and ascii_stand_in("abc") == "abc"
    with pytest.raises(TypeError):
        ascii_stand_in(b"bytes")  # type: ignore[arg-type]
