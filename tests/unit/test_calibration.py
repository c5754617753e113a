"""``streamer calibrate``: data collection, the constrained fit, threshold placement, and the
weights shipped in the package."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamer.calibration.collect import FEATURES, CollectSpec, CustomerInfo, Dataset, collect
from streamer.calibration.fit import (
    detection,
    fit,
    fit_logistic,
    medium_threshold,
    sample_weights,
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
