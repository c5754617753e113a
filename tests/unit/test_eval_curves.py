"""Curves, pooled figures and the held-out report, on small hand-made streams whose answers
are derived in the comments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streamer.evaluation import command
from streamer.evaluation.curves import (
    auc,
    average_precision,
    detection_points,
    param,
    ranking,
    roc_points,
)
from streamer.evaluation.heldout import (
    HeldoutRun,
    Pooled,
    curves,
    run_heldout,
    tactic_table,
    write_heldout,
)
from streamer.evaluation.result import EvalResult

T0 = 1_767_225_600_000
MIN = 60_000


def _alert(cid: str, sev: str, minute: int, risk: float = 0.7) -> dict[str, Any]:
    return {"alert_id": f"{cid}-{minute}", "customer_id": cid, "severity": sev, "risk": risk,
            "detected_at_ms": T0 + minute * MIN}


def _intensity_result() -> EvalResult:
    """Four single-account campaigns of tactic ``t`` at rates 10 and 100 (two each), one of
    tactic ``u`` at rate 10, three ordinary customers (one of them a look-alike).

    * a1 (t, 10/h) flagged at minute 5: detected; its events at minutes 0, 2, 5, 9, so
      3 queries to detect (0, 2 and the triggering one at 5).
    * a2 (t, 10/h) only a *low* alert: not detected.
    * a3, a4 (t, 100/h) flagged at minutes 1 and 3: detected, 2 and 4 queries.
    * a5 (u, 10/h) flagged at minute 2, but its onset is minute 4: the alert is before the
      onset, so not detected.
    * o1 flagged (medium): one false positive out of 3 ordinary customers; o3 is a look-alike
      with a *low* alert, not flagged.
    """
    customers: dict[str, Any] = {
        "o1": {"role": "ordinary", "archetype": "chat", "lookalike": False},
        "o2": {"role": "ordinary", "archetype": "chat", "lookalike": False},
        "o3": {"role": "ordinary", "archetype": "eval", "lookalike": True},
    }
    campaigns: dict[str, Any] = {}
    specs = [("a1", "t", 10, 0), ("a2", "t", 10, 0), ("a3", "t", 100, 0), ("a4", "t", 100, 0),
             ("a5", "u", 10, 4)]
    for cid, tactic, rate, onset in specs:
        customers[cid] = {"role": "campaign", "archetype": "campaign", "lookalike": False,
                          "campaign_id": f"C-{cid}", "tactic": tactic,
                          "active_from_ms": T0 + onset * MIN}
        campaigns[f"C-{cid}"] = {"tactic": tactic, "start_ms": T0 + onset * MIN,
                                 "end_ms": T0 + 60 * MIN, "accounts": [cid], "hydra": False,
                                 "params": {"rate": rate}}
    labels = {"start_ms": T0, "end_ms": T0 + 60 * MIN, "customers": customers,
              "campaigns": campaigns}
    times = {
        "a1": [T0 + m * MIN for m in (0, 2, 5, 9)],
        "a2": [T0 + m * MIN for m in (0, 1)],
        "a3": [T0, T0 + 1 * MIN],
        "a4": [T0 + m * MIN for m in (0, 1, 2, 3)],
        "a5": [T0 + m * MIN for m in (4, 5)],
        "o1": [T0], "o2": [T0], "o3": [T0],
    }
    alerts = [_alert("a1", "high", 5, 0.9), _alert("a2", "low", 3, 0.4),
              _alert("a3", "medium", 1, 0.65), _alert("a4", "critical", 3, 0.97),
              _alert("a5", "high", 2, 0.88), _alert("o1", "medium", 7, 0.62),
              _alert("o3", "low", 8, 0.35)]
    return EvalResult.build("rt-intensity", 0, "offline", labels, alerts, [], times, 16, 1.0)


def test_detection_against_a_parameter_per_tactic() -> None:
    pts = detection_points([_intensity_result()], param("rate", lambda c: c["tactic"]))
    got = {(p.series, p.x): (p.detected, p.campaigns, p.median_queries) for p in pts}
    # t@10: a1 detected (3 queries), a2 not; t@100: both, queries 2 and 4 -> median 3;
    # u@10: a5's only alert precedes its onset.
    assert got == {("t", 10.0): (1, 2, 3.0), ("t", 100.0): (2, 2, 3.0),
                   ("u", 10.0): (0, 1, None)}
    assert [p.recall for p in pts] == [0.5, 1.0, 0.0]


def test_roc_and_pr_from_customer_max_risk() -> None:
    rk = ranking([_intensity_result()])
    # Scores: campaign a1 .9, a2 .4, a3 .65, a4 .97, a5 .88; ordinary o1 .62, o3 .35, o2 0.
    # Descending: a4 a1 a5 a3 o1 a2 o3 o2 -> the ROC path climbs to tpr 4/5 with no FP, then
    # o1 (fpr 1/3), a2 (tpr 1), then o3, o2.  AUC = 4/5 * 1/3 + 1 * 2/3 = 14/15.
    assert rk.positives == 5 and rk.negatives == 3
    assert rk.roc_auc == pytest.approx(14 / 15)
    # AP: precision 1 for the first four positives (0.2 recall each) = 0.8, then a2 at
    # precision 5/6 adds 0.2 * 5/6.
    assert rk.pr_auc == pytest.approx(0.8 + 0.2 * 5 / 6)


def test_roc_ties_move_together() -> None:
    pts = roc_points([0.5, 0.5, 0.1], [True, False, False])
    assert [(p.fpr, p.tpr) for p in pts] == [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]
    assert auc([p.fpr for p in pts], [p.tpr for p in pts]) == pytest.approx(0.75)
    assert average_precision(pts) == pytest.approx(0.5)


def test_pooled_and_tactic_table() -> None:
    r = _intensity_result()
    p = Pooled.of([r, r])
    # Per run: 3 of 5 campaigns detected, 1 of 3 ordinary flagged, 0 of 1 look-alike.
    assert (p.campaigns_detected, p.campaigns) == (6, 10)
    assert (p.ordinary_flagged, p.ordinary, p.lookalike_flagged) == (2, 6, 0)
    # Detected accounts a1 (5 min, 3 q), a3 (1 min, 2 q), a4 (3 min, 4 q), twice: medians 3, 3.
    assert (p.ttd_minutes, p.ttd_queries) == (3.0, 3.0)
    md, rows = tactic_table([r])
    assert [row["tactic"] for row in rows] == ["u", "t"]  # weakest first
    assert rows[1]["median_queries"] == 3.0 and "| u | 0/1 (0%)" in md


def _tiny_run() -> HeldoutRun:
    r = _intensity_result()
    return HeldoutRun(0, {"rt-intensity": r}, {("smoke", "heldout"): r,
                                                ("smoke", "calibration"): r}, 2.0)


def test_write_heldout_report(tmp_path: Path) -> None:
    index, md = write_heldout(_tiny_run(), tmp_path)
    target = tmp_path / "heldout"
    assert index == target / "index.html"
    for png in ("intensity.png", "roc_pr.png", "weakest_tactic.png"):
        assert (target / png).stat().st_size > 5_000, png
    doc = json.loads((target / "heldout.json").read_text())
    assert doc["tactics"][0]["tactic"] == "u"
    assert doc["curves"]["intensity"][0] == {
        "series": "t", "x": 10.0, "campaigns": 2, "detected": 1, "accounts": 2,
        "accounts_detected": 1, "median_queries": 3.0, "median_minutes": 5.0}
    # The table leads with held-out columns, calibration beside them.
    header = next(line for line in md.splitlines() if line.startswith("|  | target"))
    assert header.index("held-out: red team") < header.index("calibration: first simulator")
    assert "| campaign recall | ≥ 95 % | 3/5 (60%)" in md
    assert "Weakest tactic: **t**" in md  # u has fewer than 3 campaigns
    assert (tmp_path / "rt-intensity" / "report.html").exists()
    assert [c.key for c in curves(_tiny_run())] == ["intensity"]


def test_heldout_end_to_end_small(tmp_path: Path) -> None:
    run = run_heldout(3, scale=0.05, first_sim=(), redteam=("rt-mixing",), progress=False)
    res = run.redteam["rt-mixing"]
    assert res.events > 0 and res.extra["generator"] == "redteam"
    # Every share of the sweep is a point of the mixing curve.
    mixing = next(c for c in curves(run) if c.key == "mixing")
    assert [p.x for p in mixing.points] == [5.0, 10.0, 25.0, 50.0]
    index, _ = write_heldout(run, tmp_path)
    assert (index.parent / "mixing.png").exists()


def test_command_rejects_bad_heldout_arguments(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    bad = parser.parse_args(["--heldout", "--first-sim", "nope", "--out", str(tmp_path)])
    assert command.run(bad) == 2
    bad = parser.parse_args(["--heldout", "--scale", "0", "--out", str(tmp_path)])
    assert command.run(bad) == 2
