"""The simulator's calibration / held-out split (``simulate(..., part=...)``).

With a part, every corpus is restricted with :func:`streamer.sim.split.select` and every
randomised generator parameter is drawn in that part's bands; without one, nothing changes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import orjson
import pytest

from streamer.sim import simulate
from streamer.sim.data import DataBank, get_bank, shared_data_dir
from streamer.sim.identity import parse_start
from streamer.sim.scenario import RANDOM_RANGES, random_scenario
from streamer.sim.split import Sampler, band_part, part_of

CORPORA = ("sharegpt", "banking77", "coffee", "gsm8k", "flan_cot", "humaneval", "code_alpaca",
           "alpaca_seed", "self_instruct")


def digest(sim: Any) -> str:
    h = hashlib.sha256()
    for ev in sim.events():
        h.update(orjson.dumps(ev, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


@pytest.mark.parametrize("root", ["shared", "fallback"])
def test_corpora_of_the_two_parts_are_disjoint_and_cover_the_corpus(root: str) -> None:
    path = shared_data_dir() if root == "shared" else None
    if root == "shared" and path is None:
        pytest.skip("LOUD: ../shared/data not found; only the fallback corpora are checked")
    full, cal, held = DataBank(path), DataBank(path, "calibration"), DataBank(path, "heldout")
    for name in CORPORA:
        a, b, whole = getattr(cal, name), getattr(held, name), getattr(full, name)
        if name in cal.unsplit or name in held.unsplit:
            continue  # a built-in fallback too small to split is shared (documented)
        assert a and b, name
        assert set(a).isdisjoint(b), name
        assert set(a) | set(b) == set(whole), name
    for arr in ("azure_conv", "azure_code"):
        a, b, whole = getattr(cal, arr), getattr(held, arr), getattr(full, arr)
        assert len(a) + len(b) == len(whole) and len(a) > 0 and len(b) > 0
    names_cal = {c.name for c in cal.trace_clients}
    names_held = {c.name for c in held.trace_clients}
    if "servegen" not in cal.unsplit | held.unsplit:
        assert names_cal.isdisjoint(names_held)


def test_ordinary_prompts_come_from_their_part_only() -> None:
    for part in ("calibration", "heldout"):
        sim = simulate("smoke", seed=2, part=part)
        chat = {c for c, lab in sim.labels["customers"].items() if lab["archetype"] == "chat_app"}
        sharegpt = set(get_bank(None).sharegpt)
        seen = [ev["prompt"] for ev in sim.events()
                if ev["customer_id"] in chat and ev.get("prompt") in sharegpt]
        assert len(seen) > 50
        assert {part_of(p) for p in seen} == {part}


def test_parameters_are_drawn_in_their_parts_bands() -> None:
    for part in ("calibration", "heldout"):
        sim = simulate("smoke", seed=1, part=part)
        start = sim.labels["start_ms"]
        ages: dict[str, float] = {}
        for ev in sim.events():
            lab = sim.labels["customers"][ev["customer_id"]]
            if lab["role"] == "ordinary" and lab["archetype"] != "enterprise_multi_account":
                ages[ev["customer_id"]] = (start - parse_start(ev["account"]["created_at"])) / 864e5
        assert len(ages) > 15
        for age in ages.values():
            lo, hi = (30.0, 1400.0) if age >= 30.0 else (3.0, 30.0)
            assert band_part(age, lo, hi, log=True) == part, age


def test_same_part_and_seed_same_stream_parts_differ_and_none_is_unsplit() -> None:
    a = simulate("smoke", seed=4, part="calibration")
    b = simulate("smoke", seed=4, part="calibration")
    held = simulate("smoke", seed=4, part="heldout")
    assert digest(a) == digest(b)
    assert digest(a) != digest(held)
    assert a.labels["part"] == "calibration" and "part" not in simulate("smoke", 4).labels
    # Without a part the plain draws are used: the sampler is NumPy's uniform, stream for stream.
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    assert Sampler().uniform(r1, 0.7, 1.3) == float(r2.uniform(0.7, 1.3))
    assert Sampler().integers(r1, 4, 33) == int(r2.integers(4, 33))


def test_random_scenarios_draw_every_range_in_their_part() -> None:
    for part in ("calibration", "heldout"):
        for seed in range(5):
            scn = random_scenario(seed, part)
            hours = scn.duration_ms / 3_600_000
            lo, hi, log = RANDOM_RANGES["duration_hours"]
            assert band_part(hours, lo, hi, log=log) == part
            lo, hi, log = RANDOM_RANGES["rate_per_account_per_hour"]
            for c in scn.campaigns:
                assert band_part(c.rate_per_account_per_hour, lo, hi, log=log) == part
    assert random_scenario(1, "calibration") != random_scenario(1, "heldout")
