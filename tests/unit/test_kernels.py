"""The native kernels (``streamer/core/_kernels.c``) equal their pure-Python twins.

``streamer.core.kernels`` binds each kernel to the C function when the extension is built and
to the twin otherwise; the twins are the definitions. Every test below compares the C function
with its twin value for value (integers equal, doubles bit-identical), on real prompts, random
inputs and the half-space trees the population uses, and checks that bad inputs raise instead of
crashing. The C tests skip when the extension is not built, except under ``CI=true``, where a
missing extension fails (the install must have compiled it).
"""

from __future__ import annotations

import os
import random
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
