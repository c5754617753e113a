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
