"""Simulator building blocks: data loading, arrivals, ids, writers and the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orjson
import pytest

from streamer.cli import main
from streamer.sim import ScenarioError, load_scenario, simulate, write_jsonl
from streamer.sim.arrivals import paced_arrivals, trace_arrivals
from streamer.sim.data import DataBank, TraceClient, shared_data_dir
from streamer.sim.identity import customer_id, rng_for, ts_string
from streamer.sim.writers import paced


def test_shared_data_found_or_env_override(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("STREAMER_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv("STREAMER_SHARED_DATA", str(tmp_path / "missing"))
    assert shared_data_dir() is None


def test_real_data_loads_when_present() -> None:
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder not available")
    bank = DataBank(root)
    assert len(bank.gsm8k) > 7000 and len(bank.sharegpt) > 2000 and len(bank.banking77) > 10000
    assert bank.azure_conv.shape[0] > 10000 and bank.azure_code.shape[0] > 5000
    assert len(bank.trace_clients) > 100 and bank.trace_clients[0].rate.size == 2016
    assert not bank.used_fallback


def test_fallback_bank_has_every_corpus(tmp_path: Path) -> None:
    bank = DataBank(tmp_path)  # an empty folder: every file missing
    for corpus in (bank.sharegpt, bank.banking77, bank.coffee, bank.gsm8k, bank.flan_cot,
                   bank.humaneval, bank.code_alpaca, bank.alpaca_seed, bank.self_instruct,
                   bank.sharegpt_code, bank.trace_clients):
        assert len(corpus) > 0
    assert {"sharegpt", "gsm8k", "servegen"} <= bank.used_fallback


def test_trace_arrivals_follow_the_trace_shape() -> None:
    rate = np.where((np.arange(2016) // 72) % 2 == 0, 2.0, 0.0)  # 12 h on, 12 h off
    client = TraceClient("t", rate, np.ones(2016, dtype=np.int64), np.full(2016, 0.5))
    t = trace_arrivals(np.random.default_rng(0), client, 0.0, 86400.0, 100.0, 0.0)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 86400
    assert (t < 43200).sum() > 0 and (t >= 43200).sum() == 0
    assert 1400 < t.size < 3000  # mean 100/h over the trace -> 200/h while on


def test_paced_arrivals_are_regular() -> None:
    t = paced_arrivals(np.random.default_rng(0), 0, 36000, 360, cv=0.1)
    gaps = np.diff(t)
    assert abs(gaps.mean() - 10) < 0.5 and gaps.std() / gaps.mean() < 0.15


def test_ids_and_times_are_stable() -> None:
    assert customer_id(1, "s", "x") == customer_id(1, "s", "x") != customer_id(2, "s", "x")
    a = rng_for(3, "k").integers(0, 1 << 30, 5)
    assert list(a) == list(rng_for(3, "k").integers(0, 1 << 30, 5))
    assert ts_string(1772409600000) == "2026-03-02T00:00:00.000Z"


def test_bad_scenario_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError):
        load_scenario("no-such-scenario")
    bad = tmp_path / "bad.toml"
    bad.write_text('[customers]\nnot_an_archetype = 3\n')
    with pytest.raises(ScenarioError):
        load_scenario(bad)


def test_custom_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(
        'name = "tiny"\ndescription = "x"\nduration_hours = 0.5\n'
        '[customers]\nbatch_pipeline = 2\n'
        '[[campaigns]]\ntactic = "logprob_harvest"\naccounts = 2\n'
        'rate_per_account_per_hour = 200\n')
    s = simulate(str(path), seed=1)
    tactics = {c["tactic"] for c in s.labels["campaigns"].values()}
    assert s.labels["scenario"] == "tiny" and tactics == {"logprob_harvest"}


def test_write_jsonl_round_trip(tmp_path: Path) -> None:
    s = simulate("smoke", 0)
    n = write_jsonl(s, tmp_path / "e.jsonl", tmp_path / "l.json")
    lines = (tmp_path / "e.jsonl").read_bytes().splitlines()
    assert n == len(lines) == len(s)
    assert orjson.loads(lines[0]) == next(s.events())
    assert orjson.loads((tmp_path / "l.json").read_bytes()) == s.labels


def test_paced_sleeps_by_event_time() -> None:
    evs = [{"ts": "2026-03-02T00:00:00.000Z"}, {"ts": "2026-03-02T00:01:00.000Z"}]
    slept: list[float] = []
    assert len(list(paced(evs, 60.0, sleep=slept.append, clock=lambda: 0.0))) == 2
    assert slept == [1.0]
    assert list(paced(evs, None, sleep=slept.append)) == evs


def test_cli_list_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    assert "smoke" in out and "hydra" in out
    events, labels = tmp_path / "s.jsonl", tmp_path / "s.json"
    assert main(["simulate", "--scenario", "smoke", "--seed", "4", "--out", str(events),
                 "--labels", str(labels), "--quiet"]) == 0
    assert events.stat().st_size > 0 and orjson.loads(labels.read_bytes())["seed"] == 4
    assert main(["simulate"]) == 2
    assert main(["simulate", "--scenario", "nope", "--out", str(events)]) == 2


def test_command_module_interface() -> None:
    from streamer.sim import command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--scenario", "day", "--kafka", "--speedup", "30"])
    assert args.scenario == "day" and args.kafka and args.speedup == 30.0
