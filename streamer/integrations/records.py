"""Total parsers for the two output topics that integrations consume.

``extraction-risk`` records become :class:`RiskAlert`, ``customer-features`` records become
:class:`FeatureRow` (schemas in ``streamer/schemas/``). A parser never raises anything but
:class:`InvalidRecord`, whose ``reason`` is a short code the sinks count and log; a sink skips
the record and carries on.

>>> a = parse_risk_alert(b'{"alert_id":"xr_0123456789abcdef0123","customer_id":"c1","risk":0.9,'
...     b'"severity":"high","status":"open","detected_at":"2026-01-01T00:00:00Z",'
...     b'"emitted_at":null,"reasons":[],"tactics":["cot_coercion"],"cluster":null}')
>>> a.customer_id, a.severity, a.detected_at_ms, a.tactics
('c1', 'high', 1767225600000, ('cot_coercion',))
>>> parse_risk_alert(b'[1]')
Traceback (most recent call last):
...
streamer.integrations.records.InvalidRecord: not_an_object: the record is not a JSON object
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from streamer.core.events import parse_ts
from streamer.core.outputs import ALERT_STATUSES, SEVERITIES, FeatureRecord, Reason
from streamer.errors import InvalidEvent, StreamerError

MAX_RECORD_BYTES = 1_000_000
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 2_000
MAX_LIST_ITEMS = 1_000


class InvalidRecord(StreamerError):
    """A record on an output topic that is not what its schema says; ``reason`` is a code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RiskAlert:
    """One ``extraction-risk`` record: an episode opening, escalating or resolving."""

    alert_id: str
    customer_id: str
    risk: float
    severity: str
    status: str
    detected_at_ms: int
    emitted_at_ms: int | None
    reasons: tuple[Reason, ...]
    tactics: tuple[str, ...]
    cluster_id: str | None
    cluster_members: tuple[str, ...]
    cluster_shared: tuple[str, ...]
    window_start_ms: int | None
    window_end_ms: int | None
    events_in_window: int | None


#: a ``customer-features`` record as read back: the core's own record type
FeatureRow = FeatureRecord


# --------------------------------------------------------------------------- field helpers


def _object(raw: bytes) -> dict[str, Any]:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidRecord("bad_value", "the record has no bytes value (tombstone?)")
    if len(raw) > MAX_RECORD_BYTES:
        raise InvalidRecord("too_large", f"{len(raw)} bytes > {MAX_RECORD_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord("bad_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise InvalidRecord("not_an_object", "the record is not a JSON object")
    return obj


def _str(obj: dict[str, Any], key: str, *, limit: int = MAX_ID_CHARS, required: bool = True,
         empty: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidRecord("bad_field", f"{key}: expected a string")
    if (not value and not empty) or len(value) > limit:
        raise InvalidRecord("bad_field", f"{key}: empty or longer than {limit} characters")
    return value


def _num(obj: dict[str, Any], key: str, *, lo: float = -math.inf, hi: float = math.inf,
         default: float | None = None) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord("bad_field", f"{key}: expected a number")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidRecord("bad_field", f"{key}: {value!r} outside [{lo}, {hi}]")
    return float(value)


def _int(obj: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidRecord("bad_field", f"{key}: expected a non-negative integer")
    return value


def _time(obj: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    try:
        return parse_ts(value, key)
    except InvalidEvent as exc:
        raise InvalidRecord("bad_timestamp", exc.detail) from None


def _str_list(obj: dict[str, Any], key: str, *, required: bool = False) -> tuple[str, ...]:
    value = obj.get(key) if required else obj.get(key, [])
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
        raise InvalidRecord("bad_field", f"{key}: expected a list of at most {MAX_LIST_ITEMS}")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_ID_CHARS for v in value):
        raise InvalidRecord("bad_field", f"{key}: expected non-empty strings")
    return tuple(value)


def _enum(obj: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = obj.get(key)
    if value not in choices:
        raise InvalidRecord("bad_field", f"{key}: expected one of {', '.join(choices)}")
    return str(value)


def _reasons(value: Any) -> tuple[Reason, ...]:
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
        raise InvalidRecord("bad_field", "reasons: expected a list")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidRecord("bad_field", "reasons: expected objects")
        out.append(Reason(
            signal=str(_str(item, "signal")),
            value=_num(item, "value"),
            baseline=_num(item, "baseline", default=0.0),
            contribution=_num(item, "contribution"),
            description=str(_str(item, "description", limit=MAX_TEXT_CHARS, required=False,
                                 empty=True) or ""),
        ))
    return tuple(out)


# --------------------------------------------------------------------------- parsers


def parse_risk_alert(raw: bytes) -> RiskAlert:
    """Decode one ``extraction-risk`` record; raises only :class:`InvalidRecord`."""
    obj = _object(raw)
    if obj.get("kind", "alert") != "alert":
        raise InvalidRecord("wrong_kind", "kind is not 'alert'")
    cluster = obj.get("cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise InvalidRecord("bad_field", "cluster: expected an object or null")
    return RiskAlert(
        alert_id=str(_str(obj, "alert_id")),
        customer_id=str(_str(obj, "customer_id")),
        risk=_num(obj, "risk", lo=0.0, hi=1.0),
        severity=_enum(obj, "severity", SEVERITIES),
        status=_enum(obj, "status", ALERT_STATUSES),
        detected_at_ms=int(_time(obj, "detected_at") or 0),
        emitted_at_ms=_time(obj, "emitted_at", required=False),
        reasons=_reasons(obj.get("reasons", [])),
        tactics=_str_list(obj, "tactics"),
        cluster_id=None if cluster is None else _str(cluster, "cluster_id"),
        cluster_members=() if cluster is None else _str_list(cluster, "members", required=True),
        cluster_shared=() if cluster is None else _str_list(cluster, "shared", required=True),
        window_start_ms=_time(obj, "window_start", required=False),
        window_end_ms=_time(obj, "window_end", required=False),
        events_in_window=_int(obj, "events_in_window", required=False),
    )


def parse_feature_record(raw: bytes) -> FeatureRow:
    """Decode one ``customer-features`` record; raises only :class:`InvalidRecord`.

    >>> r = parse_feature_record(b'{"customer_id":"c1","window_start":"2026-01-01T00:00:00Z",'
    ...     b'"window_end":"2026-01-01T00:05:00Z","events_in_window":3,"events_total":9,'
    ...     b'"risk":0.1,"severity":null,"features":{"cot_rate":0.5},"detector_version":"1"}')
    >>> r.window_end_ms - r.window_start_ms, r.features
    (300000, {'cot_rate': 0.5})
    """
    obj = _object(raw)
    if obj.get("kind", "features") != "features":
        raise InvalidRecord("wrong_kind", "kind is not 'features'")
    features = obj.get("features")
    if not isinstance(features, dict) or len(features) > MAX_LIST_ITEMS:
        raise InvalidRecord("bad_field", "features: expected an object of numbers")
    values = {}
    for name in features:
        if not 0 < len(name) <= MAX_ID_CHARS:
            raise InvalidRecord("bad_field", "features: bad feature name")
        values[name] = _num(features, name)
    severity = obj.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise InvalidRecord("bad_field", "severity: unknown severity")
    start = _time(obj, "window_start_ms", required=False) or _time(obj, "window_start")
    end = _time(obj, "window_end_ms", required=False) or _time(obj, "window_end")
    return FeatureRow(
        customer_id=str(_str(obj, "customer_id")),
        window_start_ms=int(start or 0),
        window_end_ms=int(end or 0),
        events_in_window=int(_int(obj, "events_in_window") or 0),
        events_total=int(_int(obj, "events_total") or 0),
        risk=_num(obj, "risk", lo=0.0, hi=1.0),
        severity=severity,
        features=values,
        detector_version=str(_str(obj, "detector_version", limit=64)),
    )
