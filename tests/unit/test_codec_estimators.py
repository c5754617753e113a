"""The plain-data estimators (:mod:`streamer.core.estimators`) behave exactly like River's.

Stored state holds these instead of River objects (whose state lives in Rust and only pickles),
so every value they return is compared, for equality, with the installed River on the same
input: means, variances, quantiles and half-space-tree scores, including the population view
the detector really uses.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import anomaly, stats

from streamer.core import estimators
from streamer.core.population import POPULATION_LIMITS, Population

VALUES = st.one_of(st.floats(-1e6, 1e6, allow_nan=False),
                   st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e-12]),
                   st.integers(-1000, 1000).map(float))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0.5, 0.1, 0.03, 1.0, 0.0]), st.lists(VALUES, max_size=200))
def test_ew_mean_and_variance_equal_river(fading: float, xs: list[float]) -> None:
    rm, rv = stats.EWMean(fading), stats.EWVar(fading)
    mm, mv = estimators.EWMean(fading), estimators.EWVar(fading)
    for x in xs:
        rm.update(x)
        mm.update(x)
        rv.update(x)
        mv.update(x)
        assert mm.get() == rm.get()
        assert mv.get() == rv.get()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0.5, 0.95, 0.05, 0.25, 0.99]), st.lists(VALUES, max_size=300))
def test_quantile_equals_river(q: float, xs: list[float]) -> None:
    rq, mq = stats.Quantile(q), estimators.Quantile(q)
    assert mq.get() is None and rq.get() is None
    for x in xs:
        rq.update(x)
        mq.update(x)
        assert mq.get() == rq.get()


def test_quantile_equals_river_on_long_skewed_streams() -> None:
    r = random.Random(5)
    for q in (0.5, 0.95):
        rq, mq = stats.Quantile(q), estimators.Quantile(q)
        for _ in range(20_000):
            x = r.lognormvariate(0, 2) if r.random() < 0.9 else r.choice([0.0, 1.0])
            rq.update(x)
            mq.update(x)
            assert mq.get() == rq.get()


@pytest.mark.parametrize("seed", [0, 7, 123])
def test_half_space_trees_equal_river(seed: int) -> None:
    r = random.Random(seed)
    limits = {f"f{i}": (0.0, float(i + 1)) for i in range(5)}
    river_hst = anomaly.HalfSpaceTrees(n_trees=6, height=5, window_size=40, limits=limits,
                                       seed=seed)
    ours = estimators.HalfSpaceTrees(n_trees=6, height=5, window_size=40, limits=limits,
                                     seed=seed)
    scores = set()
    for _ in range(300):
        x = {k: r.uniform(lo, hi * 1.3) for k, (lo, hi) in limits.items()}
        if r.random() < 0.1:
            del x["f3"]  # a missing feature follows the more visited child, as in River
        a, b = river_hst.score_one(x), ours.score_one(x)
        assert a == b
        scores.add(b)
        river_hst.learn_one(x)
        ours.learn_one(x)
    assert len(scores) > 20, "scores barely vary: the comparison would prove little"


def test_population_scores_equal_river_population() -> None:
    """The population view with River's models gives the very same scores and baselines."""
    r = random.Random(11)
    pop = Population()
    river_hst = anomaly.HalfSpaceTrees(n_trees=15, height=8, window_size=200,
                                       limits=dict(POPULATION_LIMITS), seed=pop.seed)
    river_medians = {name: stats.Quantile(0.5) for name in POPULATION_LIMITS}
    for i in range(700):
        sig = {name: r.uniform(lo, hi * 1.1) for name, (lo, hi) in POPULATION_LIMITS.items()}
        if i >= 200:
            assert pop.score_window(sig) == float(river_hst.score_one(pop._vector(sig)))
        pop.learn_window(sig, i)
        river_hst.learn_one(pop._vector(sig))
        for name, q in river_medians.items():
            q.update(sig[name])
        for name, q in river_medians.items():
            assert pop.baseline(name) == q.get()
