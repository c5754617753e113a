"""Metrics on a tiny hand-made run whose answers are worked out by hand in the comments.

Timeline (minutes after T0 = 2026-01-01T00:00Z):

* o1 ordinary "hobbyist": events 0, 10; no alert.
* o2 ordinary "startup", look-alike: event 20; medium alert at 20 -> a false positive.
* o3 ordinary "startup": event 25; low alert only -> not flagged.
* campaign c1 (tactic "harvest", start 30):
  - a1 active from 30, events 30 35 40 45 50; alert A1 low@35 -> medium@45 -> high@50.
    First flagged at/after onset: 45 -> TTD 15 min, queries = events in [30, 45] = 4.
  - a2 active from 40, events 20 40 60 80 100; B1 medium@20 (before onset and before the
    campaign start: no detection), B2 high@80 -> TTD 40 min, queries = {40, 60, 80} = 3.
  - campaign c1 first detection 45 -> campaign TTD 15 min.
* campaign c2 (tactic "probe", hydra, start 60):
  - h1 events 60 61 62; medium@62 -> TTD 2 min, queries 3.
  - h2 event 65; no alert.  h3 events 70 71; low@71 only -> not detected.
  - detected, 1 of 3 accounts -> fraction 1/3, campaign TTD 2 min.
* campaign c3 (tactic "probe", start 100): x1 events 90 100 101; medium@90 only, before the
  start -> not detected (yet x1 is a flagged customer).
"""

from __future__ import annotations

from typing import Any

import pytest

from streamer.evaluation.metrics import (
    StreamStats,
    compute_metrics,
    percentile,
)

T0 = 1_767_225_600_000
M = 60_000


def t(minutes: float) -> int:
    return T0 + int(minutes * M)


def alert(
    alert_id: str, cid: str, minute: float, severity: str, risk: float
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "customer_id": cid,
        "detected_at_ms": t(minute),
        "severity": severity,
        "risk": risk,
        "status": "open",
    }


def ordinary(archetype: str, lookalike: bool = False) -> dict[str, Any]:
    return {
        "role": "ordinary", "archetype": archetype, "lookalike": lookalike,
        "campaign_id": None, "tactic": None, "active_from_ms": T0, "active_to_ms": t(120),
    }


def account(campaign: str, tactic: str, active_from: float) -> dict[str, Any]:
    return {
        "role": "campaign", "archetype": "attacker", "lookalike": False,
        "campaign_id": campaign, "tactic": tactic,
        "active_from_ms": t(active_from), "active_to_ms": t(120),
    }


LABELS: dict[str, Any] = {
    "scenario": "tiny",
    "seed": 0,
    "start_ms": T0,
    "end_ms": t(120),
    "customers": {
        "o1": ordinary("hobbyist"),
        "o2": ordinary("startup", lookalike=True),
        "o3": ordinary("startup"),
        "a1": account("c1", "harvest", 30),
        "a2": account("c1", "harvest", 40),
        "h1": account("c2", "probe", 60),
        "h2": account("c2", "probe", 60),
        "h3": account("c2", "probe", 60),
        "x1": account("c3", "probe", 100),
    },
    "campaigns": {
        "c1": {"tactic": "harvest", "start_ms": t(30), "end_ms": t(120),
               "accounts": ["a1", "a2"], "hydra": False},
        "c2": {"tactic": "probe", "start_ms": t(60), "end_ms": t(120),
               "accounts": ["h1", "h2", "h3"], "hydra": True},
        "c3": {"tactic": "probe", "start_ms": t(100), "end_ms": t(120),
               "accounts": ["x1"], "hydra": False},
    },
}

EVENT_MINUTES = {
    "o1": [0, 10], "o2": [20], "o3": [25],
    "a1": [30, 35, 40, 45, 50], "a2": [20, 40, 60, 80, 100],
    "h1": [60, 61, 62], "h2": [65], "h3": [70, 71],
    "x1": [90, 100, 101],
}
EVENT_TIMES = {cid: [t(m) for m in ms] for cid, ms in EVENT_MINUTES.items()}

ALERTS = [
    alert("O2A", "o2", 20, "medium", 0.55),
    alert("O3A", "o3", 25, "low", 0.40),
    alert("A1", "a1", 35, "low", 0.35),
    alert("A1", "a1", 45, "medium", 0.60),
    alert("A1", "a1", 50, "high", 0.80),
    alert("B1", "a2", 20, "medium", 0.50),
    alert("B2", "a2", 80, "high", 0.75),
    alert("H1", "h1", 62, "medium", 0.65),
    alert("H3", "h3", 71, "low", 0.45),
    alert("X1", "x1", 90, "medium", 0.52),
]
FEATURES = [
    {"customer_id": "o1", "risk": 0.10, "window_end_ms": t(10)},
    {"customer_id": "h2", "risk": 0.20, "window_end_ms": t(65)},
    {"customer_id": "a1", "risk": 0.85, "window_end_ms": t(50)},
]


@pytest.fixture(scope="module")
def m() -> Any:
    return compute_metrics(LABELS, ALERTS, EVENT_TIMES, FEATURES, thresholds=[0.0, 0.5, 0.7, 0.9])


def test_counts(m: Any) -> None:
    assert (m.customers, m.ordinary_customers, m.lookalike_customers) == (9, 3, 1)
    assert (m.campaign_accounts, m.campaigns, m.events) == (6, 3, 23)


def test_campaign_and_account_recall(m: Any) -> None:
    # c1 and c2 detected; c3's only flagged alert precedes its start.
    assert m.overall.campaigns_detected == 2
    assert m.overall.campaign_recall == pytest.approx(2 / 3)
    # a1, a2, h1 of the 6 accounts.
    assert m.overall.accounts_detected == 3
    assert m.overall.account_recall == pytest.approx(0.5)
    detected = {a.customer_id for a in m.account_outcomes if a.detected}
    assert detected == {"a1", "a2", "h1"}


def test_per_tactic(m: Any) -> None:
    harvest, probe = m.per_tactic["harvest"], m.per_tactic["probe"]
    assert (harvest.campaigns, harvest.campaigns_detected, harvest.campaign_recall) == (1, 1, 1.0)
    assert (harvest.accounts, harvest.accounts_detected, harvest.account_recall) == (2, 2, 1.0)
    assert harvest.ttd_minutes.median == pytest.approx(27.5)  # (15 + 40) / 2
    assert harvest.ttd_minutes.p90 == pytest.approx(37.5)  # 15 + 0.9 * 25
    assert (probe.campaigns, probe.campaigns_detected, probe.campaign_recall) == (2, 1, 0.5)
    assert (probe.accounts, probe.accounts_detected, probe.account_recall) == (4, 1, 0.25)
    assert probe.hydra_campaigns == 1
    assert probe.hydra_account_fraction == pytest.approx(1 / 3)
    assert harvest.hydra_campaigns == 0 and harvest.hydra_account_fraction is None


def test_campaign_outcomes(m: Any) -> None:
    c = {o.campaign_id: o for o in m.campaign_outcomes}
    assert c["c1"].detected and c["c1"].first_detection_ms == t(45)
    assert c["c1"].ttd_minutes == pytest.approx(15)
    assert c["c2"].detected and c["c2"].accounts_detected == 1
    assert c["c2"].account_fraction == pytest.approx(1 / 3)
    assert c["c2"].ttd_minutes == pytest.approx(2)
    assert not c["c3"].detected and c["c3"].ttd_minutes is None
    assert m.overall.campaign_ttd_minutes.median == pytest.approx(8.5)  # (15 + 2) / 2


def test_time_to_detect(m: Any) -> None:
    acc = {a.customer_id: a for a in m.account_outcomes}
    assert (acc["a1"].ttd_minutes, acc["a1"].ttd_queries) == (15, 4)
    assert (acc["a2"].ttd_minutes, acc["a2"].ttd_queries) == (40, 3)
    assert (acc["h1"].ttd_minutes, acc["h1"].ttd_queries) == (2, 3)
    assert acc["a1"].max_severity == "high"
    # minutes [2, 15, 40]: median 15, p90 at position 1.8 -> 15 + 0.8 * 25 = 35.
    assert m.overall.ttd_minutes.median == pytest.approx(15)
    assert m.overall.ttd_minutes.p90 == pytest.approx(35)
    # queries [3, 3, 4]: median 3, p90 -> 3 + 0.8 * 1 = 3.8.
    assert m.overall.ttd_queries.median == pytest.approx(3)
    assert m.overall.ttd_queries.p90 == pytest.approx(3.8)


def test_false_positives_and_precision(m: Any) -> None:
    assert m.false_positive_customers == ["o2"]  # o3 had only a low alert
    assert (m.ordinary_fpr.alerted, m.ordinary_fpr.total) == (1, 3)
    assert m.ordinary_fpr.rate == pytest.approx(1 / 3)
    assert (m.lookalike_fpr.alerted, m.lookalike_fpr.total, m.lookalike_fpr.rate) == (1, 1, 1.0)
    assert m.fpr_by_archetype["hobbyist"].rate == 0.0
    assert m.fpr_by_archetype["startup"].rate == pytest.approx(0.5)
    # flagged: o2 a1 a2 h1 x1; detected campaign accounts among them: a1 a2 h1.
    assert m.flagged_customers == 5
    assert m.precision == pytest.approx(3 / 5)


def test_noise(m: Any) -> None:
    # flagged ids per customer o2 1, a1 1, a2 2, h1 1, x1 1; flagged messages 1, 2, 2, 1, 1.
    assert m.noise.alerted_customers == 5
    assert m.noise.alert_ids_per_customer.mean == pytest.approx(1.2)
    assert m.noise.alert_ids_per_customer.max == 2
    assert m.noise.messages_per_customer.mean == pytest.approx(1.4)
    assert m.noise.messages_per_customer.median == 1
    # all severities: 7 customers with any alert, 10 messages.
    assert m.noise_all_severities.alerted_customers == 7
    assert m.noise_all_severities.messages_per_customer.mean == pytest.approx(10 / 7)


def test_threshold_curve(m: Any) -> None:
    # max risk: o1 .1 o2 .55 o3 .4 a1 .85 a2 .75 h1 .65 h2 .2 h3 .45 x1 .52
    pts = {p.threshold: p for p in m.threshold_curve}
    assert (pts[0.0].positives, pts[0.0].recall, pts[0.0].fpr) == (9, 1.0, 1.0)
    assert pts[0.0].precision == pytest.approx(6 / 9)
    assert pts[0.5].positives == 5
    assert pts[0.5].recall == pytest.approx(4 / 6)
    assert pts[0.5].precision == pytest.approx(4 / 5)
    assert pts[0.5].fpr == pytest.approx(1 / 3)
    assert pts[0.5].lookalike_fpr == 1.0
    assert (pts[0.7].positives, pts[0.7].precision, pts[0.7].fpr) == (2, 1.0, 0.0)
    assert pts[0.7].recall == pytest.approx(2 / 6)
    assert (pts[0.9].positives, pts[0.9].recall, pts[0.9].precision) == (0, 0.0, None)


def test_severity_floors(m: Any) -> None:
    assert m.severity_floors == {"low": 0.35, "medium": 0.5, "high": 0.75}


def test_to_dict_is_json(m: Any) -> None:
    import json

    d = json.loads(json.dumps(m.to_dict()))
    assert d["overall"]["campaigns_detected"] == 2
    assert d["per_tactic"]["probe"]["accounts"] == 4


def test_no_alerts() -> None:
    m = compute_metrics(LABELS, [], EVENT_TIMES)
    assert m.overall.campaign_recall == 0.0 and m.overall.account_recall == 0.0
    assert m.ordinary_fpr.rate == 0.0 and m.precision is None
    assert m.overall.ttd_minutes.count == 0 and m.overall.ttd_minutes.median is None
    assert m.noise.alerted_customers == 0 and m.noise.alert_ids_per_customer.mean is None


def test_no_campaigns() -> None:
    labels = {"customers": {"o1": ordinary("hobbyist"), "o2": ordinary("startup")},
              "campaigns": {}}
    m = compute_metrics(labels, [alert("X", "o2", 5, "high", 0.9)], {"o1": [t(1)], "o2": [t(5)]})
    assert m.campaigns == 0 and m.overall.campaign_recall is None
    assert m.overall.account_recall is None and m.per_tactic == {}
    assert m.ordinary_fpr.rate == 0.5
    assert m.precision == 0.0


def test_alert_before_start_and_low_severity_do_not_detect() -> None:
    labels = {
        "customers": {"a": account("c", "probe", 10)},
        "campaigns": {"c": {"tactic": "probe", "start_ms": t(10), "end_ms": t(20),
                            "accounts": ["a"], "hydra": False}},
    }
    early = alert("E", "a", 9.99, "critical", 0.99)
    low = alert("L", "a", 15, "low", 0.4)
    m = compute_metrics(labels, [early, low], {"a": [t(9), t(15)]})
    assert m.overall.campaigns_detected == 0 and m.overall.accounts_detected == 0
    # The flagged-but-early alert still makes "a" a flagged customer that is not a true positive.
    assert m.flagged_customers == 1 and m.precision == 0.0
    # The same alert exactly at the start counts; detected_at as a string works too.
    at_start = {"alert_id": "S", "customer_id": "a", "severity": "medium", "risk": 0.5,
                "detected_at": "2026-01-01T00:10:00Z"}
    m2 = compute_metrics(labels, [at_start], {"a": [t(9), t(10), t(15)]})
    assert m2.overall.campaigns_detected == 1
    acc = m2.account_outcomes[0]
    assert (acc.ttd_minutes, acc.ttd_queries) == (0.0, 1)


def test_unlabelled_customer_counts_as_ordinary() -> None:
    labels = {"customers": {"o1": ordinary("hobbyist")}, "campaigns": {}}
    m = compute_metrics(labels, [alert("Z", "ghost", 1, "medium", 0.6)], {"o1": [t(0)]})
    assert m.ordinary_fpr.total == 2 and m.ordinary_fpr.alerted == 1
    assert m.fpr_by_archetype["unlabelled"].rate == 1.0


def test_stream_stats_and_percentile() -> None:
    s = StreamStats()
    s.add_event({"customer_id": "b", "ts": "2026-01-01T00:00:02Z"})
    s.add_event({"customer_id": "a", "ts": t(0)})
    s.add_event({"customer_id": "b", "ts": "2026-01-01T00:00:01Z"})
    assert s.events == 3 and (s.first_ms, s.last_ms) == (t(0), T0 + 2000)
    assert s.times() == {"b": [T0 + 1000, T0 + 2000], "a": [T0]}
    assert percentile([5.0], 90) == 5.0
    assert percentile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90) == pytest.approx(90)
