"""Report files from a fake detector's output on a small hand-made stream."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from streamer.evaluation.metrics import StreamStats
from streamer.evaluation.report import SUMMARY_COLUMNS, write_report, write_summary
from streamer.evaluation.result import EvalResult

T0 = 1_767_225_600_000
M = 60_000


def _labels() -> dict[str, Any]:
    customers: dict[str, Any] = {}
    for i in range(6):
        customers[f"o{i}"] = {
            "role": "ordinary", "archetype": "chat" if i % 2 else "batch", "lookalike": i == 5,
            "campaign_id": None, "tactic": None, "active_from_ms": T0, "active_to_ms": T0 + 240 * M,
        }
    for i in range(3):
        customers[f"k{i}"] = {
            "role": "campaign", "archetype": "attacker", "lookalike": False, "campaign_id": "camp",
            "tactic": "harvest", "active_from_ms": T0 + 60 * M, "active_to_ms": T0 + 180 * M,
        }
    return {
        "scenario": "fake", "seed": 3, "start_ms": T0, "end_ms": T0 + 240 * M,
        "customers": customers,
        "campaigns": {"camp": {"tactic": "harvest", "start_ms": T0 + 60 * M,
                               "end_ms": T0 + 180 * M, "accounts": ["k0", "k1", "k2"],
                               "hydra": True}},
    }


def _events() -> list[dict[str, Any]]:
    events = []
    for i in range(6):  # ordinary: one event every 20 minutes; o5 (look-alike) every minute
        step = 1 if i == 5 else 20
        events += [{"customer_id": f"o{i}", "ts": T0 + m * M} for m in range(0, 240, step)]
    for i in range(2):  # k0, k1 busy (every 30 s) from minute 60; k2 stays quiet
        events += [{"customer_id": f"k{i}", "ts": T0 + m * M // 2} for m in range(120, 360)]
    events.append({"customer_id": "k2", "ts": T0 + 100 * M})
    return sorted(events, key=lambda e: e["ts"])


class FakeDetector:
    """Risk = events in the trailing 30 minutes / 40; one alert id per customer, re-emitted on
    each severity increase; a feature record every 10th event."""

    def __init__(self) -> None:
        self.times: dict[str, list[int]] = defaultdict(list)
        self.sev: dict[str, str] = {}

    def process(self, ev: dict[str, Any]) -> list[dict[str, Any]]:
        cid, ts = ev["customer_id"], ev["ts"]
        times = self.times[cid]
        times.append(ts)
        risk = min(1.0, sum(1 for t in times if t > ts - 30 * M) / 40)
        sev = "critical" if risk >= 0.95 else "high" if risk >= 0.85 else (
            "medium" if risk >= 0.6 else "low" if risk >= 0.3 else None)
        out: list[dict[str, Any]] = []
        if len(times) % 10 == 0:
            out.append({"kind": "features", "customer_id": cid, "window_end_ms": ts,
                        "events_total": len(times), "risk": risk, "severity": sev,
                        "detector_version": "fake/1"})
        order = ["low", "medium", "high", "critical"]
        if sev and (cid not in self.sev or order.index(sev) > order.index(self.sev[cid])):
            self.sev[cid] = sev
            out.append({"kind": "alert", "alert_id": f"A-{cid}", "customer_id": cid,
                        "risk": risk, "severity": sev, "detected_at_ms": ts,
                        "events_total": len(times), "detector_version": "fake/1"})
        return out


def _result(mode: str = "offline") -> EvalResult:
    det, stats = FakeDetector(), StreamStats()
    alerts: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    for ev in _events():
        stats.add_event(ev)
        for rec in det.process(ev):
            (alerts if rec["kind"] == "alert" else features).append(rec)
    return EvalResult.build("fake", 3, mode, _labels(), alerts, features, stats.times(),
                            stats.events, 0.5)


def test_fake_detector_result_is_plausible() -> None:
    r = _result()
    m = r.metrics
    assert m.overall.campaigns_detected == 1
    assert (m.overall.accounts_detected, m.overall.accounts) == (2, 3)
    assert m.false_positive_customers == ["o5"]
    assert r.detector_version == "fake/1"


def test_report_files(tmp_path: Path) -> None:
    r = _result()
    target = write_report(r, tmp_path)
    assert target == tmp_path / "fake"
    doc = json.loads((target / "report.json").read_text())
    assert doc["scenario"] == "fake" and doc["seed"] == 3 and doc["mode"] == "offline"
    assert doc["detector_version"] == "fake/1"
    assert doc["counts"]["events"] == r.events
    assert doc["events_per_s"] == round(r.events / 0.5, 1)
    assert doc["metrics"]["overall"]["campaign_recall"] == 1.0
    for png in ("risk_over_time.png", "time_to_detect.png", "threshold_curve.png"):
        data = (target / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    page = (target / "report.html").read_text()
    assert 'src="risk_over_time.png"' in page and "harvest" in page
    assert "o5" in page  # the flagged look-alike is listed


def test_summary_table(tmp_path: Path) -> None:
    write_report(_result(), tmp_path)
    write_report(_result("kafka"), tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text("{not json")
    text = write_summary(tmp_path, order=["fake-kafka", "fake"]).read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    assert len(lines) == 4  # header, rule, two rows
    assert lines[0].count("|") == len(SUMMARY_COLUMNS) + 1
    assert lines[2].startswith("| fake (kafka) |") and lines[3].startswith("| fake |")
    assert "1/1 (100%)" in lines[3] and "2/3 (67%)" in lines[3]


def test_report_without_alerts(tmp_path: Path) -> None:
    labels = _labels()
    stats = StreamStats()
    for ev in _events():
        stats.add_event(ev)
    r = EvalResult.build("quiet", 0, "offline", labels, [], [], stats.times(), stats.events, 0.0)
    target = write_report(r, tmp_path)
    doc = json.loads((target / "report.json").read_text())
    assert doc["metrics"]["precision"] is None and doc["events_per_s"] == 0.0
    assert (target / "time_to_detect.png").stat().st_size > 0
