"""The output-topic parsers are total: any bytes give a record or an InvalidRecord, nothing else."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.integrations.records import InvalidRecord, parse_feature_record, parse_risk_alert

ALERT: dict[str, Any] = {
    "kind": "alert", "alert_id": "xr_0123456789abcdef0123", "customer_id": "c1", "risk": 0.7,
    "severity": "high", "status": "escalated", "detected_at": "2026-01-01T00:00:00Z",
    "emitted_at": "2026-01-01T00:00:01.500Z", "window_start": "2026-01-01T00:00:00Z",
    "window_end": "2026-01-01T00:05:00Z", "events_in_window": 3,
    "reasons": [{"signal": "cot_rate", "value": 0.9, "baseline": 0.1, "contribution": 2.0,
                 "description": "d"}],
    "tactics": ["cot_coercion"],
    "cluster": {"cluster_id": "cl1", "members": ["c1", "c2"], "shared": ["asn"]},
}
FEATURES: dict[str, Any] = {
    "customer_id": "c1", "window_start": "2026-01-01T00:00:00Z",
    "window_end": "2026-01-01T00:05:00Z", "events_in_window": 3, "events_total": 9,
    "risk": 0.1, "severity": None, "features": {"cot_rate": 0.5}, "detector_version": "1",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


def test_valid_records_parse() -> None:
    alert = parse_risk_alert(orjson.dumps(ALERT))
    assert (alert.cluster_id, alert.cluster_members, alert.emitted_at_ms) == (
        "cl1", ("c1", "c2"), 1767225601500)
    assert alert.reasons[0].contribution == 2.0
    assert parse_feature_record(orjson.dumps(FEATURES)).features == {"cot_rate": 0.5}


@pytest.mark.parametrize(("change", "reason"), [
    ({"risk": 1.5}, "bad_field"), ({"risk": True}, "bad_field"), ({"severity": "meh"}, "bad_field"),
    ({"status": None}, "bad_field"), ({"alert_id": ""}, "bad_field"),
    ({"customer_id": "x" * 300}, "bad_field"), ({"detected_at": "yesterday"}, "bad_timestamp"),
    ({"detected_at": "2026-01-01T00:00:00"}, "bad_timestamp"), ({"tactics": "cot"}, "bad_field"),
    ({"reasons": [5]}, "bad_field"), ({"cluster": []}, "bad_field"),
    ({"cluster": {"cluster_id": "c"}}, "bad_field"), ({"kind": "features"}, "wrong_kind"),
])
def test_each_broken_alert_field_has_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_risk_alert(orjson.dumps({**ALERT, **change}))
    assert info.value.reason == reason


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe", b"null", b"[]", b"1e999", b"{" * 10_000])
def test_non_objects_are_invalid(raw: bytes) -> None:
    for parse in (parse_risk_alert, parse_feature_record):
        with pytest.raises(InvalidRecord):
            parse(raw)


def test_tombstones_and_huge_records_are_invalid() -> None:
    with pytest.raises(InvalidRecord, match="bad_value"):
        parse_risk_alert(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord, match="too_large"):
        parse_feature_record(b" " * 1_000_001)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes(raw: bytes) -> None:
    for parse in (parse_risk_alert, parse_feature_record):
        with contextlib.suppress(InvalidRecord):
            parse(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([ALERT, FEATURES]), st.dictionaries(
    st.sampled_from(sorted(set(ALERT) | set(FEATURES))), json_values, max_size=4))
def test_any_field_value(base: dict[str, Any], change: dict[str, Any]) -> None:
    raw = orjson.dumps({**base, **change})
    for parse in (parse_risk_alert, parse_feature_record):
        with contextlib.suppress(InvalidRecord):
            parse(raw)
