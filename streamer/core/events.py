"""The input contract: decoding and validating one inference event.

An event is one UTF-8 JSON object. Decoding never raises anything but
:class:`~streamer.errors.InvalidEvent`, whose ``reason`` is what the dead-letter record carries.

>>> ev = decode_event(b'{"event_id":"e1","ts":"2026-01-01T00:00:00Z","customer_id":"c1",'
...                   b'"model":"m","input_tokens":10,"output_tokens":20,"prompt":"hi"}')
>>> ev.ts_ms, ev.customer_id, ev.prompt
(1767225600000, 'c1', 'hi')
>>> decode_event(b'{"event_id":"e1"}')
Traceback (most recent call last):
...
streamer.errors.InvalidEvent: missing_field: required field 'ts' is missing
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streamer.errors import InvalidEvent

MAX_EVENT_BYTES = 1_000_000
MAX_PROMPT_CHARS = 200_000

# Bounds on event time: epoch ms between 2000-01-01 and 2100-01-01.
_MIN_TS_MS = 946_684_800_000
_MAX_TS_MS = 4_102_444_800_000


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None = None
    asn: str | None = None
    user_agent: str | None = None
    tls_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    created_at_ms: int | None = None
    payment_fingerprint: str | None = None
    country: str | None = None
    signup_channel: str | None = None


@dataclass(frozen=True, slots=True)
class InferenceEvent:
    """One validated inference request/response, as the core sees it.

    ``prompt`` is raw user text; it lives only in memory (fingerprints and markers are computed
    from it) and no output of the core ever contains it. ``repr`` hides it too.
    """

    event_id: str
    ts_ms: int
    customer_id: str
    model: str
    input_tokens: int
    output_tokens: int
    api_key_id: str | None = None
    endpoint: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias_count: int | None = None
    reasoning_tokens: int | None = None
    stop_reason: str | None = None
    status: str | None = None
    latency_ms: float | None = None
    stream: bool | None = None
    tool_count: int | None = None
    prompt: str | None = field(default=None, repr=False)
    prompt_simhash: int | None = None
    system_prompt_hash: str | None = None
    client: ClientInfo = field(default_factory=ClientInfo)
    account: AccountInfo = field(default_factory=AccountInfo)


def parse_ts(value: Any, name: str = "ts") -> int:
    """Event time to epoch milliseconds: RFC 3339 with offset, or epoch milliseconds.

    >>> parse_ts("2026-03-01T12:00:00.250+01:00")
    1772362800250
    >>> parse_ts(1772362800250)
    1772362800250
    >>> parse_ts("2026-03-01T12:00:00")
    Traceback (most recent call last):
    ...
    streamer.errors.InvalidEvent: bad_timestamp: ts: RFC 3339 time needs an offset (Z or +hh:mm)
    """
    if isinstance(value, bool):
        raise InvalidEvent("bad_timestamp", f"{name}: boolean is not a time")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidEvent("bad_timestamp", f"{name}: not finite")
        ms = int(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent("bad_timestamp", f"{name}: {exc}") from None
        if parsed.tzinfo is None:
            raise InvalidEvent(
                "bad_timestamp", f"{name}: RFC 3339 time needs an offset (Z or +hh:mm)"
            )
        ms = round(parsed.timestamp() * 1000)
    else:
        raise InvalidEvent("bad_timestamp", f"{name}: expected RFC 3339 string or epoch ms")
    if not _MIN_TS_MS <= ms <= _MAX_TS_MS:
        raise InvalidEvent("bad_timestamp", f"{name}: {ms} is outside 2000..2100 in epoch ms")
    return ms


def _string(obj: dict[str, Any], key: str, *, required: bool = False, limit: int = 512) -> Any:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidEvent("missing_field", f"required field {key!r} is missing")
        return None
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{key} must be a string, got {type(value).__name__}")
    if required and not value:
        raise InvalidEvent("empty_field", f"{key} must not be empty")
    if len(value) > limit:
        raise InvalidEvent("field_too_long", f"{key} is longer than {limit} characters")
    return value


def _int(obj: dict[str, Any], key: str, *, required: bool = False) -> Any:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidEvent("missing_field", f"required field {key!r} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidEvent("wrong_type", f"{key} must be an integer")
    if value < 0:
        raise InvalidEvent("negative_value", f"{key} must be >= 0, got {value}")
    if value > 10**9:
        raise InvalidEvent("out_of_range", f"{key}={value} is implausibly large")
    return value


def _float(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent("wrong_type", f"{key} must be a number")
    if not math.isfinite(value) or value < 0:
        raise InvalidEvent("out_of_range", f"{key} must be a finite number >= 0")
    return float(value)


def _bool(obj: dict[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidEvent("wrong_type", f"{key} must be a boolean")
    return value


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEvent("wrong_type", f"{key} must be an object")
    return value


def _asn(client: dict[str, Any]) -> str | None:
    """``client.asn`` as a string: "AS16509", "16509" or 16509."""
    value = client.get("asn")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent("wrong_type", "client.asn must be a string or an integer")
    return str(value)[:64]


def _simhash(obj: dict[str, Any]) -> int | None:
    value = _string(obj, "prompt_simhash", limit=16)
    if value is None:
        return None
    if len(value) != 16:
        raise InvalidEvent("bad_simhash", "prompt_simhash must be 16 hex characters")
    try:
        return int(value, 16)
    except ValueError:
        raise InvalidEvent("bad_simhash", "prompt_simhash must be 16 hex characters") from None


def decode_event(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> InferenceEvent:
    """Decode and validate one message value; raise :class:`InvalidEvent` with a reason."""
    if len(raw) > max_bytes:
        raise InvalidEvent("oversize", f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("not_utf8", f"invalid UTF-8 at byte {exc.start}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("bad_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"top level is {type(obj).__name__}, not an object")
    return event_from_dict(obj)


def event_from_dict(obj: dict[str, Any]) -> InferenceEvent:
    """Validate an already-parsed JSON object (see :func:`decode_event`)."""
    event_id = _string(obj, "event_id", required=True, limit=256)
    if "ts" not in obj or obj["ts"] is None:
        raise InvalidEvent("missing_field", "required field 'ts' is missing")
    ts_ms = parse_ts(obj["ts"])
    customer_id = _string(obj, "customer_id", required=True, limit=256)
    model = _string(obj, "model", required=True, limit=256)
    input_tokens = _int(obj, "input_tokens", required=True)
    output_tokens = _int(obj, "output_tokens", required=True)
    prompt = _string(obj, "prompt", limit=MAX_PROMPT_CHARS)
    client = _object(obj, "client")
    account = _object(obj, "account")
    created = account.get("created_at")
    return InferenceEvent(
        event_id=event_id,
        ts_ms=ts_ms,
        customer_id=customer_id,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        api_key_id=_string(obj, "api_key_id"),
        endpoint=_string(obj, "endpoint"),
        max_tokens=_int(obj, "max_tokens"),
        temperature=_float(obj, "temperature"),
        top_p=_float(obj, "top_p"),
        n=_int(obj, "n"),
        logprobs=_bool(obj, "logprobs"),
        top_logprobs=_int(obj, "top_logprobs"),
        logit_bias_count=_int(obj, "logit_bias_count"),
        reasoning_tokens=_int(obj, "reasoning_tokens"),
        stop_reason=_string(obj, "stop_reason"),
        status=_string(obj, "status"),
        latency_ms=_float(obj, "latency_ms"),
        stream=_bool(obj, "stream"),
        tool_count=_int(obj, "tool_count"),
        prompt=prompt,
        prompt_simhash=_simhash(obj),
        system_prompt_hash=_string(obj, "system_prompt_hash"),
        client=ClientInfo(
            ip=_string(client, "ip"),
            asn=_asn(client),
            user_agent=_string(client, "user_agent", limit=1024),
            tls_fingerprint=_string(client, "tls_fingerprint"),
        ),
        account=AccountInfo(
            created_at_ms=None if created is None else parse_ts(created, "account.created_at"),
            payment_fingerprint=_string(account, "payment_fingerprint"),
            country=_string(account, "country"),
            signup_channel=_string(account, "signup_channel"),
        ),
    )
