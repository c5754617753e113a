"""The red-team generator: deterministic, labelled without leaks, independent of the first
simulator's corpora, covering every tactic, look-alike and API setting it promises."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from streamer.core.events import event_from_dict, parse_ts
from streamer.sim.data import DataBank, shared_data_dir
from streamer.sim.redteam import SCENARIOS, TACTICS, generate
from streamer.sim.redteam.actors import arrivals, rng
from streamer.sim.redteam.benign import ARCHETYPES, Context, build_ordinary
from streamer.sim.redteam.corpora import Corpora, get_corpora
from streamer.sim.redteam.scenarios import RedteamStream
from streamer.sim.redteam.tactics import Catalogue, draw_style, make_request

SCALE = 0.05
T0 = 1_772_409_600_000


@pytest.fixture(scope="module")
def evasion() -> RedteamStream:
    return generate("rt-evasion", seed=4, scale=SCALE)


@pytest.fixture(scope="module")
def intensity() -> RedteamStream:
    return generate("rt-intensity", seed=4, scale=SCALE)


def _digest(stream: RedteamStream) -> str:
    h = hashlib.sha256()
    for ev in stream.events():
        h.update(json.dumps(ev, sort_keys=True).encode())
    h.update(json.dumps(stream.labels, sort_keys=True).encode())
    return h.hexdigest()


def test_same_seed_same_stream_other_seed_other_stream(evasion: RedteamStream) -> None:
    assert _digest(generate("rt-evasion", seed=4, scale=SCALE)) == _digest(evasion)
    other = generate("rt-evasion", seed=5, scale=SCALE)
    assert _digest(other) != _digest(evasion)
    assert set(other.labels["customers"]).isdisjoint(evasion.labels["customers"])


def test_independent_of_pythonhashseed(evasion: RedteamStream) -> None:
    code = ("import hashlib, json\n"
            "from streamer.sim.redteam import generate\n"
            f"s = generate('rt-evasion', seed=4, scale={SCALE})\n"
            "h = hashlib.sha256()\n"
            "for ev in s.events(): h.update(json.dumps(ev, sort_keys=True).encode())\n"
            "h.update(json.dumps(s.labels, sort_keys=True).encode())\n"
            "print(h.hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == _digest(evasion)


def test_events_are_valid_native_contract_and_sorted(evasion: RedteamStream) -> None:
    times = []
    for ev in evasion.events():
        parsed = event_from_dict(ev)  # raises InvalidEvent on anything off-contract
        times.append(parsed.ts_ms)
    assert times == sorted(times)
    assert len({ev["event_id"] for ev in evasion.events()}) == len(evasion)


def test_labels_are_consistent(evasion: RedteamStream) -> None:
    labels = evasion.labels
    customers = labels["customers"]
    seen = Counter(ev["customer_id"] for ev in evasion.events())
    assert set(seen) == set(customers)  # every customer labelled, every label has events
    first: dict[str, int] = {}
    for ev in evasion.events():
        first.setdefault(ev["customer_id"], parse_ts(ev["ts"]))
    members = set()
    for cid, camp in labels["campaigns"].items():
        assert camp["accounts"], cid
        assert camp["start_ms"] <= camp["end_ms"]
        for acc in camp["accounts"]:
            info = customers[acc]
            assert info["role"] == "campaign" and info["campaign_id"] == cid
            assert info["active_from_ms"] <= first[acc]
            assert camp["start_ms"] <= first[acc] <= camp["end_ms"]
            members.add(acc)
    ordinary = {c for c, i in customers.items() if i["role"] == "ordinary"}
    assert ordinary and ordinary.isdisjoint(members)
    assert members | ordinary == set(customers)


def test_no_field_leaks_a_label(evasion: RedteamStream) -> None:
    labels = evasion.labels
    secrets = set(labels["campaigns"]) | set(TACTICS) | set(ARCHETYPES)
    secrets |= {"campaign", "hydra", "reseller_mix", "lookalike", "evasion"}
    for ev in evasion.events():
        visible = {k: v for k, v in ev.items() if k != "prompt"}
        text = json.dumps(visible).lower()
        assert not [s for s in secrets if s.lower() in text], ev["event_id"]


def test_every_tactic_with_its_api_settings(intensity: RedteamStream) -> None:
    tactics = Counter(c["tactic"] for c in intensity.labels["campaigns"].values())
    assert set(tactics) == set(TACTICS)
    by_customer = {c: i.get("tactic") for c, i in intensity.labels["customers"].items()}
    seen: dict[str, list[dict[str, object]]] = {}
    for ev in intensity.events():
        tactic = by_customer[ev["customer_id"]]
        if tactic:
            seen.setdefault(tactic, []).append(ev)
    scrape = seen["logprob_scrape"]
    assert all(e["logprobs"] is True and e["max_tokens"] <= 3 for e in scrape)
    assert all(1 <= e["top_logprobs"] <= 20 for e in scrape)
    sweep = seen["sampling_sweep"]
    assert len({e.get("temperature") for e in sweep}) >= 2
    assert len({e.get("max_tokens") for e in sweep}) >= 2
    release = seen["release_rush"]
    assert {e["model"] for e in release} == {Catalogue.default().release}
    zh = seen["zh_instruct"]
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in e["prompt"]) for e in zh) > len(zh) / 2


def test_logit_bias_and_n_sweeps_are_drawn() -> None:
    corp = Corpora(None)
    cat = Catalogue.default()
    biases, ns = set(), set()
    for i in range(40):
        st = draw_style(rng(1, "style", i), "logprob_scrape", cat, mixed=False)
        biases.add(make_request(rng(1, "req", i), corp, st).logit_bias_count)
        st = draw_style(rng(1, "sweep", i), "sampling_sweep", cat, mixed=False)
        ns.add(make_request(rng(1, "req2", i), corp, st).n)
    assert None in biases and any(b and b >= 50 for b in biases)
    assert any(n and n >= 8 for n in ns)


def test_every_archetype_builds_and_lookalikes_are_marked() -> None:
    ctx = Context(2, T0, T0 + 2 * 3_600_000, Corpora(None), Catalogue.default())
    for arch, lookalike in ARCHETYPES.items():
        built = build_ordinary(ctx, arch, 0)
        assert built and all(b.events for b in built), arch
        assert all(b.label["lookalike"] is lookalike for b in built)
    fleet = build_ordinary(ctx, "enterprise_fleet", 0)
    assert len(fleet) >= 6
    assert len({b.events[0]["account"]["payment_fingerprint"] for b in fleet}) == 1
    harness = build_ordinary(ctx, "eval_harness", 1)[0].events
    prompts = Counter(e["prompt"] for e in harness)
    assert prompts.most_common(1)[0][1] >= 2  # benchmark items are re-run


def test_hydra_shares_infrastructure_unless_evading(evasion: RedteamStream) -> None:
    camps = evasion.labels["campaigns"]
    first_event: dict[str, dict[str, object]] = {}
    for ev in evasion.events():
        first_event.setdefault(ev["customer_id"], ev)

    def payments(cid: str) -> set[object]:
        return {first_event[a]["account"]["payment_fingerprint"]  # type: ignore[index]
                for a in camps[cid]["accounts"]}

    plain, evading = camps["RE-hydra-0"], camps["RE-hydra-3"]
    assert len(payments("RE-hydra-0")) < len(plain["accounts"])
    assert len(payments("RE-hydra-3")) == len(evading["accounts"])


def test_pacing_styles_differ() -> None:
    def cv(ts: list[int]) -> float:
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        mean = sum(gaps) / len(gaps)
        return float((sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5 / mean)

    machine = arrivals(rng(0, "m"), 0, 4 * 3_600_000, 200.0, "machine")
    human = arrivals(rng(0, "h"), 0, 4 * 3_600_000, 200.0, "human")
    assert cv(machine) < 0.35 < cv(human)
    assert 0.5 < len(human) / 800 < 2.0


def test_fallback_without_shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STREAMER_SHARED_DATA", str(tmp_path / "absent"))
    assert get_corpora().source == "fallback"
    s = generate("rt-mixing", seed=1, scale=SCALE)
    assert s.data_source == "fallback" and len(s) > 0
    for ev in s.events():
        event_from_dict(ev)


@pytest.mark.skipif(shared_data_dir() is None, reason="shared data folder absent")
def test_prompts_never_come_from_the_first_simulators_corpora() -> None:
    ours = set(get_corpora().all_texts())
    assert get_corpora().source == "shared" and len(ours) > 20_000
    bank = DataBank(shared_data_dir())
    theirs: set[str] = set()
    for name in ("sharegpt", "banking77", "flan_cot", "humaneval", "code_alpaca", "alpaca_seed",
                 "self_instruct"):
        theirs.update(t.strip() for t in getattr(bank, name))
    theirs.update(q.strip() for q, _ in bank.gsm8k)
    assert len(theirs) > 10_000
    assert not ours & theirs


def test_scenarios_and_arguments() -> None:
    assert set(SCENARIOS) == {"rt-mix", "rt-intensity", "rt-mixing", "rt-hydra", "rt-evasion"}
    with pytest.raises(KeyError):
        generate("nope")
    with pytest.raises(ValueError):
        generate("rt-mix", scale=0)
