"""Total parsers for every topic the worker reads besides the input events.

Every topic is untrusted input: anyone who can produce to the feedback topic or to the
internal cluster topics can send anything. Each parser here turns *any* bytes into either a
typed record or an :class:`~streamer.errors.InvalidEvent` with a reason (the dead-letter
reason), never another exception.

>>> fb = parse_feedback(b'{"customer_id": "c1", "verdict": "allowlisted"}', now_ms=5)
>>> fb.verdict, fb.ts_ms
('allowlisted', 5)
>>> parse_feedback(b'{"customer_id": "c1", "verdict": []}', now_ms=5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
streamer.errors.InvalidEvent: bad_verdict: verdict must be one of false_positive, confirmed, ...
>>> parse_verdict(b'{"customer_id": 5}')
Traceback (most recent call last):
...
streamer.errors.InvalidEvent: wrong_type: customer_id must be a string
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from streamer.core.events import parse_ts
from streamer.core.feedback import validate_signal_names
from streamer.core.outputs import ClusterSignal, ClusterVerdict, Feedback
from streamer.errors import InvalidEvent

VERDICTS: tuple[str, ...] = ("false_positive", "confirmed", "allowlisted")
MAX_RECORD_BYTES = 256_000
MAX_MEMBERS_LISTED = 64
MAX_ID_CHARS = 256


def _object(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_RECORD_BYTES:
        raise InvalidEvent("oversize", f"record is {len(raw)} bytes, limit {MAX_RECORD_BYTES}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("bad_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"top level is {type(obj).__name__}, not an object")
    return obj


def _str(obj: dict[str, Any], key: str, *, limit: int = MAX_ID_CHARS,
         required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if value is None:
        raise InvalidEvent("missing_field", f"required field {key!r} is missing")
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{key} must be a string")
    if required and not value:
        raise InvalidEvent("empty_field", f"{key} must not be empty")
    if len(value) > limit:
        raise InvalidEvent("field_too_long", f"{key} is longer than {limit} characters")
    return value


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent("wrong_type", f"{key} must be an integer")
    if not 0 <= value < 2**62:
        raise InvalidEvent("out_of_range", f"{key} out of range")
    return value


def _unit(obj: dict[str, Any], key: str, *, default: float | None = None) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"{key} must be a number")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidEvent("out_of_range", f"{key} must be within 0..1")
    return float(value)


def _strings(obj: dict[str, Any], key: str, cap: int) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidEvent("wrong_type", f"{key} must be a list of strings")
    return tuple(v[:MAX_ID_CHARS] for v in value[:cap])


def parse_feedback(raw: bytes, now_ms: int) -> Feedback:
    """An analyst verdict, or :class:`InvalidEvent`.

    ``signals`` must be a list of strings; names the signal table does not know are dropped
    and at most :data:`~streamer.core.feedback.MAX_FEEDBACK_SIGNALS` kept
    (:func:`~streamer.core.feedback.validate_signal_names`): they would only bloat the
    customer's state.
    """
    try:
        obj = _object(raw)
        customer_id = _str(obj, "customer_id")
        verdict = obj.get("verdict")
        if not isinstance(verdict, str) or verdict not in VERDICTS:
            raise InvalidEvent("bad_verdict", "verdict must be one of " + ", ".join(VERDICTS))
        ts = obj.get("ts")
        expires = obj.get("expires_at")
        note = obj.get("note", "")
        signals = validate_signal_names(_strings(obj, "signals", cap=10_000))
        return Feedback(
            customer_id=customer_id, verdict=verdict,
            ts_ms=parse_ts(ts) if ts is not None else now_ms,
            expires_at_ms=None if expires is None else parse_ts(expires, "expires_at"),
            note=note[:500] if isinstance(note, str) else "",
            signals=signals,
        )
    except InvalidEvent:
        raise
    except Exception as exc:  # pragma: no cover - a parser bug must still not kill the worker
        raise InvalidEvent("bad_record", f"{type(exc).__name__}: {exc}"[:300]) from None


def parse_verdict(raw: bytes) -> ClusterVerdict:
    """A cluster verdict (internal topic), or :class:`InvalidEvent`."""
    try:
        d = _object(raw)
        return ClusterVerdict(
            customer_id=_str(d, "customer_id"), ts_ms=_int(d, "ts_ms"),
            event_id=_str(d, "event_id"), cluster_id=_str(d, "cluster_id", limit=64),
            members=_strings(d, "members", MAX_MEMBERS_LISTED),
            shared=_strings(d, "shared", 8), evidence=_unit(d, "evidence"),
            pooled_requests=_int(d, "pooled_requests"),
        )
    except InvalidEvent:
        raise
    except Exception as exc:  # pragma: no cover
        raise InvalidEvent("bad_record", f"{type(exc).__name__}: {exc}"[:300]) from None


def parse_signal(raw: bytes) -> ClusterSignal:
    """A cluster signal (internal topic), or :class:`InvalidEvent`."""
    try:
        d = _object(raw)
        return ClusterSignal(
            token=_str(d, "token", limit=512), kind=_str(d, "kind", limit=64),
            customer_id=_str(d, "customer_id"), ts_ms=_int(d, "ts_ms"),
            event_id=_str(d, "event_id"), requests=_int(d, "requests"),
            content_evidence=_unit(d, "content_evidence"),
            account_risk=_unit(d, "account_risk", default=0.0),
        )
    except InvalidEvent:
        raise
    except Exception as exc:  # pragma: no cover
        raise InvalidEvent("bad_record", f"{type(exc).__name__}: {exc}"[:300]) from None
