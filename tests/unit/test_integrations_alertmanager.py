"""Alertmanager mapping and episode bookkeeping, without a server (the real one: integration)."""

from __future__ import annotations

from dataclasses import replace

from streamer.integrations.alertmanager import ALERTNAME, Alertmanager, to_alertmanager
from streamer.integrations.records import Reason, RiskAlert

NOW = 1_767_225_600_000


def _rec(severity: str = "medium", status: str = "open", **kw: object) -> RiskAlert:
    base = RiskAlert(
        alert_id="xr_0123456789abcdef0123", customer_id="c1", risk=0.6, severity=severity,
        status=status, detected_at_ms=NOW - 5000, emitted_at_ms=NOW,
        reasons=tuple(Reason(f"s{i}", i / 10, 0.0, 3.0 - i, f"signal {i}") for i in range(5)),
        tactics=("b", "a", "b"), cluster_id=None, cluster_members=(), cluster_shared=(),
        window_start_ms=NOW - 300_000, window_end_ms=NOW, events_in_window=10)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_labels_annotations_and_times() -> None:
    alert = to_alertmanager(_rec(cluster_id="cl9", cluster_members=("c1", "c2")),
                            dashboard_url="http://d/", open_ttl_s=60)
    assert alert["labels"] == {"alertname": ALERTNAME, "alert_id": "xr_0123456789abcdef0123",
                               "customer": "c1", "severity": "medium", "tactics": "a,b",
                               "cluster": "cl9"}
    assert alert["annotations"]["reasons"].count(";") == 2  # the top three only
    assert alert["annotations"]["cluster_members"] == "c1,c2"
    assert alert["startsAt"] == "2025-12-31T23:59:55.000Z"
    assert alert["endsAt"] == "2026-01-01T00:01:00.000Z"
    assert alert["generatorURL"] == "http://d/#customer=c1"


def test_start_is_never_after_the_post_even_for_future_event_times() -> None:
    alert = to_alertmanager(_rec(detected_at_ms=NOW + 3_600_000), dashboard_url="http://d")
    assert alert["startsAt"] <= alert["endsAt"]
    assert alert["startsAt"] == "2026-01-01T00:00:00.000Z"


def test_escalation_resolves_the_old_label_set_and_keeps_the_episode_start() -> None:
    am = Alertmanager("http://am", dashboard_url="http://d")
    posts, changes = am.plan([_rec("medium"), _rec("high", "escalated",
                                                   emitted_at_ms=NOW + 60_000)], NOW)
    assert [p["labels"]["severity"] for p in posts] == ["medium", "medium", "high"]
    assert posts[1]["endsAt"] == "2026-01-01T00:01:00.000Z"  # resolved at the escalation
    assert posts[2]["startsAt"] == posts[0]["startsAt"]
    assert changes["xr_0123456789abcdef0123"] == posts[2]


def test_the_same_record_twice_posts_the_same_alert() -> None:
    am = Alertmanager("http://am", dashboard_url="http://d")
    first, changes = am.plan([_rec()], NOW)
    am.open.update(changes)  # type: ignore[arg-type]
    again, _ = am.plan([_rec()], NOW + 10_000)
    assert again == first


def test_resolution_ends_what_is_open_and_forgets_it() -> None:
    am = Alertmanager("http://am", dashboard_url="http://d")
    posts, changes = am.plan([_rec("high"), _rec("none", "resolved",
                                                 emitted_at_ms=NOW + 1000)], NOW)
    assert len(posts) == 2 and posts[1]["labels"]["severity"] == "high"
    assert posts[1]["endsAt"] == "2026-01-01T00:00:01.000Z"
    assert changes == {"xr_0123456789abcdef0123": None}
    # a resolution for an episode nobody knows posts nothing
    assert am.plan([_rec("none", "resolved")], NOW) == ([], {"xr_0123456789abcdef0123": None})


def test_open_episode_memory_is_bounded() -> None:
    am = Alertmanager("http://am", dashboard_url="http://d", max_open=3)
    for i in range(10):
        am._remember(f"xr_{i}", {"labels": {}})
    assert list(am.open) == ["xr_7", "xr_8", "xr_9"] and am.evicted == 7
