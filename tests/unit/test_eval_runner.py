"""Offline runner, comparison helper and the ``streamer evaluate`` command (no broker)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from streamer.evaluation import command
from streamer.evaluation.result import EvalResult
from streamer.evaluation.runner import compare, evaluate_offline, worker_env

T0 = 1_767_225_600_000
LABELS: dict[str, Any] = {
    "start_ms": T0, "end_ms": T0 + 3_600_000,
    "customers": {
        "o1": {"role": "ordinary", "archetype": "chat_app", "lookalike": False},
        "o2": {"role": "ordinary", "archetype": "chat_app", "lookalike": False},
        "k1": {"role": "campaign", "archetype": "x", "lookalike": False, "campaign_id": "c",
               "active_from_ms": T0},
    },
    "campaigns": {"c": {"tactic": "t", "start_ms": T0, "end_ms": T0 + 3_600_000,
                        "accounts": ["k1"], "hydra": False}},
}


def _alert(cid: str, sev: str, minute: int = 5) -> dict[str, Any]:
    return {"alert_id": f"{cid}-{sev}", "customer_id": cid, "severity": sev, "risk": 0.7,
            "detected_at_ms": T0 + minute * 60_000}


def _result(alerts: list[dict[str, Any]], mode: str = "offline") -> EvalResult:
    times = {"o1": [T0], "o2": [T0], "k1": [T0, T0 + 300_000]}
    return EvalResult.build("t", 0, mode, LABELS, alerts, [], times, 4, 1.0)


def test_compare_lists_differences() -> None:
    a = _result([_alert("k1", "high"), _alert("o1", "medium"), _alert("o2", "low")])
    b = _result([_alert("k1", "critical"), _alert("o2", "medium")], "kafka")
    diff = compare(a, b)
    assert diff.flagged_only_in_first == ["o1"] and diff.flagged_only_in_second == ["o2"]
    assert not diff.same_flagged
    assert diff.severity_differences == {
        "k1": ("high", "critical"), "o1": ("medium", None), "o2": ("low", "medium"),
    }
    assert diff.campaigns_detected_first == diff.campaigns_detected_second == ["c"]
    assert compare(a, a).same_flagged
    json.dumps(diff.to_dict())


def test_worker_env_names() -> None:
    from streamer.evaluation.runner import run_settings
    from streamer.settings import Settings

    s = run_settings(Settings(), "127.0.0.1:1", "eval-t-0-abc", Path("/tmp/x"))
    env = worker_env(s)
    assert Settings.from_env(env) == s  # the worker reads back exactly these settings


@pytest.fixture(scope="module")
def smoke() -> EvalResult:
    return evaluate_offline("smoke", seed=0, progress=False)


def test_offline_smoke(smoke: EvalResult) -> None:
    m = smoke.metrics
    assert smoke.events > 0 and smoke.events == m.events
    assert m.campaigns >= 1 and m.ordinary_customers > 0
    assert smoke.detector_version
    assert smoke.wall_time_s > 0 and "simulate_s" in smoke.extra
    json.dumps(smoke.to_json(), allow_nan=False)


def test_offline_is_deterministic(smoke: EvalResult) -> None:
    again = evaluate_offline("smoke", seed=0, progress=False)
    key = [(a["alert_id"], a["severity"], a["detected_at_ms"]) for a in smoke.alerts]
    assert key == [(a["alert_id"], a["severity"], a["detected_at_ms"]) for a in again.alerts]
    assert compare(smoke, again).severity_differences == {}


def test_command_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--scenario", "smoke", "--out", str(tmp_path), "--no-progress"])
    assert command.run(args) == 0
    assert (tmp_path / "smoke" / "report.json").exists()
    assert (tmp_path / "smoke" / "report.html").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "| smoke |" in summary
    assert "all" in capsys.readouterr().out
    bad = parser.parse_args(["--scenario", "nope", "--out", str(tmp_path)])
    assert command.run(bad) == 2
