"""``streamer calibrate``: data collection, the constrained fit, threshold placement, and the
weights shipped in the package."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamer.calibration.collect import FEATURES, CollectSpec, CustomerInfo, Dataset, collect
from streamer.calibration.fit import (
    bag_objective,
    bag_weights,
    detection,
    fit,
    fit_bag,
    fit_logistic,
    medium_threshold,
    sample_weights,
    smooth_max,
)
from streamer.cli import main
from streamer.core import scoring
from streamer.core.scoring import RAMP_BY_NAME, WEIGHTS_FORMAT, Weights, load_weights
from streamer.sim.scenario import random_scenario


@pytest.fixture(scope="module")
def small() -> Dataset:
    specs = [CollectSpec(random_scenario(s, "calibration"), s) for s in (2,)]
    return collect(specs, progress=False)


def test_collected_rows_are_labelled_by_the_simulators_ground_truth(small: Dataset) -> None:
    assert small.x.shape == (small.y.size, len(FEATURES))
    assert ((small.x >= 0) & (small.x <= 1)).all()
    roles = np.array([small.customers[g].role for g in small.group])
    assert set(roles[small.y == 1]) == {"campaign"}
    assert set(roles[small.y == 0]) == {"ordinary"}
    assert 0 < small.y.mean() < 1
    assert [r["scenario"] for r in small.runs] == ["random-calibration-2"]


def test_sample_weights_count_customers_not_requests(small: Dataset) -> None:
    w = sample_weights(small)
    assert w.sum() == pytest.approx(1.0)
    assert w[small.y == 1].sum() == pytest.approx(w[small.y == 0].sum())
    per_customer = np.bincount(small.group, weights=w, minlength=len(small.customers))
    ordinary = [i for i, c in enumerate(small.customers)
                if c.role == "ordinary" and not c.lookalike and per_customer[i] > 0]
    assert np.allclose(per_customer[ordinary], per_customer[ordinary[0]])


def test_fit_respects_signs_and_finds_the_informative_feature() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((2000, 3))
    # Feature 0 is evidence, feature 1 noise, feature 2 an innocent explanation; the fit may
    # not give the noise a negative weight even if it would help a little.
    z = -3 + 6 * x[:, 0] - 4 * x[:, 2]
    y = (rng.random(2000) < 1 / (1 + np.exp(-z))).astype(float)
    b, beta = fit_logistic(x, y, np.full(2000, 1 / 2000), 1e-4, (1, 1, -1))
    assert beta[0] > 4 and beta[2] < -2.5 and 0 <= beta[1] < 0.6
    assert b == pytest.approx(-3, abs=0.7)


def test_medium_threshold_holds_the_target_fpr_on_the_data() -> None:
    customers = [CustomerInfo("s", f"c{i}", "ordinary", "chat_app", False, None)
                 for i in range(200)]
    group = np.repeat(np.arange(200), 3)
    z = np.random.default_rng(1).normal(size=600)
    data = Dataset(np.zeros((600, len(FEATURES))), np.zeros(600), group, np.zeros(600, int),
                   customers)
    t = medium_threshold(data, z, 0.01)
    d = detection(data, z, t)
    assert d["ordinary_flagged"] <= 2 and d["ordinary"] == 200
    assert detection(data, z, t - 1e-3)["ordinary_flagged"] >= d["ordinary_flagged"]


def test_fit_reports_and_places_medium(small: Dataset) -> None:
    report = fit(small, seed=7, target_fpr=0.05, reference=load_weights(),
                 description={"what": "test"})
    w = report.weights
    for name, value in w.weights.items():
        assert value * RAMP_BY_NAME[name].sign >= 0
    assert report.after["ordinary_flagged"] <= 0.05 * report.after["ordinary"]
    assert w.meta["seed"] == 7 and w.meta["data"]["what"] == "test"
    assert w.meta["data"]["rows"] == small.y.size
    round_trip = Weights.from_json(json.loads(json.dumps(w.to_json())))
    assert round_trip.weights == w.weights and round_trip.prior == w.prior


def test_shipped_weights_are_fitted_data_with_provenance() -> None:
    doc = json.loads((Path(scoring.__file__).parent / "weights" /
                      "detector-weights.json").read_text())
    assert doc["format"] == WEIGHTS_FORMAT
    for key in ("model", "fitted_on", "seed", "data", "target_fpr", "calibration"):
        assert key in doc, key
    assert "calibration" in " ".join(doc["data"]["scenarios"])
    assert set(doc["weights"]) == set(RAMP_BY_NAME)
    assert doc["prior"] == scoring.PRIOR
    assert {s.name: s.weight for s in scoring.SIGNALS} == doc["weights"]


def test_weights_with_a_wrong_sign_are_rejected() -> None:
    doc = load_weights().to_json()
    doc["weights"]["account_trust"] = 1.0  # trust may only lower risk
    with pytest.raises(ValueError, match="sign"):
        Weights.from_json(doc)
    with pytest.raises(ValueError):
        Weights.from_json({**doc, "format": "other"})


def test_calibrate_command_writes_reproducible_weights(tmp_path: Path) -> None:
    outs = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        assert main(["calibrate", "--scenarios", "1", "--no-shipped", "--rounds", "1",
                     "--seed", "1", "--no-progress", "--out", str(out)]) == 0
        outs.append(json.loads(out.read_text()))
    a, b = outs
    assert a["weights"] == b["weights"] and a["prior"] == b["prior"]
    assert a["seed"] == 1 and a["fitted_on"]
    # The process's scoring is back to the package weights after the command.
    assert load_weights() == scoring.WEIGHTS


# --- the multiple-instance (bag) objective ------------------------------------------------


def _random_bags(seed: int, rows: int = 300, bags: int = 40, k: int = 4
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((rows, k))
    group = rng.integers(0, bags, rows)
    group[:bags] = np.arange(bags)  # every bag has a row; some have one only
    return x, group, (rng.random(bags) < 0.5).astype(float), rng.random(bags) / bags


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_bag_gradient_matches_finite_differences(temperature: float) -> None:
    x, group, bag_y, bag_w = _random_bags(4)
    objective = bag_objective(x, group, bag_y, bag_w, 1e-2, temperature)
    rng = np.random.default_rng(5)
    for _ in range(3):
        theta = rng.normal(scale=2.0, size=x.shape[1] + 1)
        eps = 1e-6
        numeric = np.array([
            (objective(theta + eps * e)[0] - objective(theta - eps * e)[0]) / (2 * eps)
            for e in np.eye(theta.size)])
        assert objective(theta)[1] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_smooth_max_tends_to_the_max_and_bounds_it() -> None:
    x, group, _, _ = _random_bags(6)
    z = x @ np.array([3.0, -1.0, 2.0, 0.5])
    top = np.full(group.max() + 1, -np.inf)
    np.maximum.at(top, group, z)
    sharp, ids = smooth_max(z, group, 1e-3)
    assert sharp == pytest.approx(top[ids], abs=1e-2)
    soft, _ = smooth_max(z, group, 1.0)
    counts = np.bincount(group)[ids]
    assert (soft >= top[ids] - 1e-12).all() and (soft <= top[ids] + np.log(counts) + 1e-12).all()


def _toy_bags() -> tuple[Dataset, np.ndarray, np.ndarray]:
    """Campaign accounts show feature A (column 0) only at their last points, after evidence
    built up, and a moderate feature B (column 1) throughout; each ordinary customer has a
    little A and B, and one isolated B spike. Per point, B separates the classes and A looks
    useless (most campaign points have none); per customer, only A does."""
    rng = np.random.default_rng(11)
    xs, groups, customers = [], [], []
    for i in range(120):
        campaign = i < 60
        a = np.zeros(20) if campaign else rng.uniform(0.0, 0.3, 20)
        b = rng.uniform(0.4, 0.8, 20) if campaign else rng.uniform(0.0, 0.4, 20)
        if campaign:
            a[-2:] = 1.0
        else:
            b[rng.integers(20)] = 1.0
        xs.append(np.column_stack([a, b]))
        groups += [i] * 20
        customers.append(CustomerInfo("toy", f"c{i}", "campaign" if campaign else "ordinary",
                                      "x", False, f"toy/k{i}" if campaign else None))
    x = np.vstack(xs)
    group = np.asarray(groups, dtype=np.int64)
    y = np.array([float(customers[g].role == "campaign") for g in group])
    data = Dataset(x, y, group, np.zeros(y.size, dtype=np.int64), customers)
    return data, np.full(y.size, 1 / y.size), np.full(120, 1 / 120)


def test_bag_objective_gets_the_per_customer_decision_right_where_points_do_not() -> None:
    data, w, bag_w = _toy_bags()
    bag_y, _ = bag_weights(data, w)
    bp, point = fit_logistic(data.x, data.y, w, 1e-3, (1, 1))
    bb, bag = fit_bag(data.x, data.group, bag_y, bag_w, 1e-3, (1, 1), 0.25)
    assert point[1] > 3 * point[0]  # per point, B
    assert bag[0] > 3 * bag[1]  # per customer, A

    def decided(b: float, beta: np.ndarray) -> dict[str, int]:
        z = b + data.x @ beta
        return detection(data, z, medium_threshold(data, z, 0.0))

    assert decided(bb, bag)["campaigns_detected"] == 60  # all of them, no ordinary customer
    assert decided(bp, point)["campaigns_detected"] < 30


def test_bag_fit_respects_signs() -> None:
    rng = np.random.default_rng(8)
    x = rng.random((600, 3))
    group = np.arange(600) // 6
    z = 5 * x[:, 0] + 3 * x[:, 1] + 3 * x[:, 2] + rng.logistic(size=600)
    top = np.full(100, -np.inf)
    np.maximum.at(top, group, z)
    bag_y = top > np.median(top)
    # Column 1 is evidence in the data but declared a trust signal, column 2 declared evidence.
    _, beta = fit_bag(x, group, bag_y.astype(float), np.full(100, 0.01), 1e-4, (1, -1, 1), 0.5)
    assert beta[0] > 0 and beta[1] == 0.0 and beta[2] > 0
    _, beta = fit_bag(x, group, bag_y.astype(float), np.full(100, 0.01), 1e-4, (-1, -1, -1),
                      0.5)
    assert (beta <= 0).all()


def test_bag_fit_is_reproducible_and_ignores_row_order() -> None:
    x, group, bag_y, bag_w = _random_bags(9)
    first = fit_bag(x, group, bag_y, bag_w, 1e-3, (1, 1, -1, 1), 0.5)
    again = fit_bag(x, group, bag_y, bag_w, 1e-3, (1, 1, -1, 1), 0.5)
    assert first[0] == again[0] and np.array_equal(first[1], again[1])
    perm = np.random.default_rng(1).permutation(group.size)
    shuffled = fit_bag(x[perm], group[perm], bag_y, bag_w, 1e-3, (1, 1, -1, 1), 0.5)
    assert shuffled[0] == pytest.approx(first[0], abs=1e-4)
    assert shuffled[1] == pytest.approx(first[1], abs=1e-4)


def test_bag_weights_are_the_customers_shares(small: Dataset) -> None:
    w = sample_weights(small)
    bag_y, bag_w = bag_weights(small, w)
    assert bag_w.sum() == pytest.approx(1.0)
    assert bag_w[bag_y == 1].sum() == pytest.approx(0.5)
    assert {c.role for c, yv in zip(small.customers, bag_y, strict=True) if yv} == {"campaign"}


@pytest.mark.parametrize("objective", ["bag", "point"])
def test_fit_records_its_objective(small: Dataset, objective: str) -> None:
    report = fit(small, seed=3, target_fpr=0.05, objective=objective)
    meta = report.weights.meta
    assert meta["objective"]["name"] == objective == report.objective
    assert objective in meta["cross_validation"]
    assert ("temperature" in meta["objective"]) == (objective == "bag")
    for name, value in report.weights.weights.items():
        assert value * RAMP_BY_NAME[name].sign >= 0
    with pytest.raises(ValueError, match="objective"):
        fit(small, seed=3, objective="median")
