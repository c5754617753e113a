"""The input contract: decoding and validating one inference event.

An event is one UTF-8 JSON object. Decoding never raises anything but
:class:`~streamer.errors.InvalidEvent`, whose ``reason`` is what the dead-letter record carries.

Only an unusable **required** field (``event_id``, ``ts``, ``customer_id``, ``model``,
``input_tokens``, ``output_tokens``) or an unreadable message dead-letters an event. An optional
field that cannot be read is dropped and recorded in :attr:`InferenceEvent.dropped` as
``(field, reason)``, so the shell can count drops per field and reason.

Lenient where the meaning is unambiguous (each form is in the JSON Schema too):

* ``status``: an HTTP code (``200``, ``"429"``) or a word (``"ok"``, ``"success"``, ``"error"``,
  ...) -> ``"ok"`` | ``"error"``; the HTTP code is kept in ``status_code``;
* ``ts``: RFC 3339 with offset, or an epoch number (or numeric string) whose unit is decided by
  magnitude -- below ``1e11`` seconds, below ``1e14`` milliseconds, below ``1e17``
  microseconds, else nanoseconds; the result must fall in 2000..2100;
* token counts (and ``n``, ``max_tokens``, ``top_logprobs``, ...): integers, integral floats or
  numeric strings;
* booleans: ``true``/``false``, ``0``/``1`` and the strings ``"true"``/``"false"``,
  ``"1"``/``"0"``, ``"yes"``/``"no"``, ``"on"``/``"off"``;
* ``logprobs``: a boolean, or an integer (the legacy completions API: ``N >= 1`` asks for the top
  ``N`` log-probabilities, so ``logprobs=True`` and ``top_logprobs=N`` unless given; ``0`` is
  false);
* ``prompt``: a string, or a chat ``messages`` list (also accepted as a top-level ``messages``
  field): the last user turn is the prompt, a system/developer turn gives ``system_prompt_hash``
  unless one is given; message content may be a string or a list of parts;
* ``customer_id``: a string or an integer (stringified);
* OpenAI's ``logit_bias`` map: its size is ``logit_bias_count`` unless that is given.

>>> ev = decode_event(b'{"event_id":"e1","ts":"2026-01-01T00:00:00Z","customer_id":"c1",'
...                   b'"model":"m","input_tokens":10,"output_tokens":20,"prompt":"hi"}')
>>> ev.ts_ms, ev.customer_id, ev.prompt
(1767225600000, 'c1', 'hi')
>>> decode_event(b'{"event_id":"e1"}')
Traceback (most recent call last):
...
streamer.errors.InvalidEvent: missing_field: required field 'ts' is missing
>>> ev = decode_event(b'{"event_id":"e2","ts":1767225600,"customer_id":42,"model":"m",'
...                   b'"input_tokens":"10","output_tokens":20,"status":429,"temperature":"hot"}')
>>> ev.ts_ms, ev.customer_id, ev.input_tokens, ev.status, ev.status_code, ev.temperature
(1767225600000, '42', 10, 'error', 429, None)
>>> ev.dropped
(('temperature', 'wrong_type'),)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streamer.core.fingerprints import stable_hash64
from streamer.core.formats import to_native_with_drops
from streamer.errors import InvalidEvent

MAX_EVENT_BYTES = 1_000_000
MAX_PROMPT_CHARS = 200_000
#: at most this many chat messages are looked at (from the end for the user turn)
MAX_MESSAGES = 4096
_MAX_COUNT = 10**9

# Bounds on event time: epoch ms between 2000-01-01 and 2100-01-01.
_MIN_TS_MS = 946_684_800_000
_MAX_TS_MS = 4_102_444_800_000
# Epoch units by magnitude (absolute value): seconds < 1e11 <= ms < 1e14 <= µs < 1e17 <= ns.
# 2000..2100 is 9.5e8..4.1e9 s, 9.5e11..4.1e12 ms, 9.5e14..4.1e15 µs, 9.5e17..4.1e18 ns: the
# thresholds sit between the bands, so no plausible time can be read in the wrong unit.
EPOCH_S_BELOW = 1e11
EPOCH_MS_BELOW = 1e14
EPOCH_US_BELOW = 1e17

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
#: status words that mean success; any other word except the "unknown" ones means an error
OK_WORDS = frozenset({"ok", "success", "succeeded", "successful", "completed", "complete",
                      "done", "status_code_ok"})
_UNKNOWN_WORDS = frozenset({"", "unset", "unknown", "status_code_unset", "none", "null"})
_SYSTEM_ROLES = frozenset({"system", "developer"})

Drops = list[tuple[str, str]]


@dataclass(slots=True)
class ClientInfo:
    ip: str | None = None
    asn: str | None = None
    user_agent: str | None = None
    tls_fingerprint: str | None = None


@dataclass(slots=True)
class AccountInfo:
    created_at_ms: int | None = None
    payment_fingerprint: str | None = None
    country: str | None = None
    signup_channel: str | None = None


@dataclass(slots=True)
class InferenceEvent:
    """One validated inference request/response, as the core sees it.

    Read-only by convention, not frozen: a frozen dataclass's ``__init__`` sets each of its
    28 fields through ``object.__setattr__``, which cost 4 µs of the 10 µs an event's decode
    takes (this record, :class:`ClientInfo` and :class:`AccountInfo` alike).

    ``prompt`` is raw user text; it lives only in memory (fingerprints and markers are computed
    from it) and no output of the core ever contains it. ``repr`` hides it too.

    ``status`` is ``"ok"``, ``"error"`` or unknown (``None``); ``status_code`` the HTTP code when
    the gateway logged one. ``dropped`` lists the optional fields that could not be read, as
    ``(field, reason)`` pairs (never their values).
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
    status_code: int | None = None
    dropped: tuple[tuple[str, str], ...] = ()


# --- time ---------------------------------------------------------------------------------

def epoch_to_ms(value: float, name: str = "ts") -> int:
    """An epoch number in s, ms, µs or ns (decided by magnitude) to epoch milliseconds.

    >>> [epoch_to_ms(v) for v in (1772409600, 1772409600.25, 1772409600250,
    ...                           1772409600250000, 1772409600250000000)]
    [1772409600000, 1772409600250, 1772409600250, 1772409600250, 1772409600250]
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidEvent("bad_timestamp", f"{name}: not finite")
    size = abs(value)
    if size < EPOCH_S_BELOW:
        return round(value * 1000)
    if size < EPOCH_MS_BELOW:
        return int(value) if isinstance(value, int) else round(value)
    if size < EPOCH_US_BELOW:
        return value // 1000 if isinstance(value, int) else round(value / 1000)
    return value // 1_000_000 if isinstance(value, int) else round(value / 1e6)


def _numeric_string(value: str) -> int | float | None:
    s = value.strip()
    if not s or len(s) > 24 or not s.isascii():
        return None
    if s.isdigit():
        return int(s)
    head, dot, tail = s.partition(".")
    if dot and head.isdigit() and tail.isdigit():
        return float(s)
    return None


#: the common shape gateways write: UTC, whole seconds or milliseconds (2026-03-01T12:00:00.250Z)
_UTC_MS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d):(\d\d):(\d\d)(?:\.(\d{3}))?Z", re.ASCII)
#: epoch ms of each hour seen (``2026-03-01T12``): a memo, emptied when full
_HOURS: dict[str, int] = {}
_HOURS_CAP = 4096


def _utc_ms(value: str) -> int | None:
    """:func:`parse_ts` of a time in :data:`_UTC_MS`'s shape, else ``None`` (the general parse).

    The same integer as the general parse, in a third of its time: the hour's start comes
    from :data:`_HOURS`, minutes, seconds and milliseconds are added exactly.

    >>> _utc_ms("2026-03-01T12:00:00.250Z"), _utc_ms("2026-03-01T12:00:00.25Z")
    (1772366400250, None)
    """
    m = _UTC_MS.fullmatch(value)
    if m is None:
        return None
    hour, minutes, seconds, millis = m.groups()
    base = _HOURS.get(hour)
    if base is None:
        try:
            base = round(datetime.fromisoformat(hour + ":00:00+00:00").timestamp() * 1000)
        except ValueError:
            return None
        if not _MIN_TS_MS <= base <= _MAX_TS_MS - 3_600_000:
            return None
        if len(_HOURS) >= _HOURS_CAP:
            _HOURS.clear()
        _HOURS[hour] = base
    mi, se = int(minutes), int(seconds)
    if mi > 59 or se > 59:
        return None
    return base + mi * 60_000 + se * 1000 + (int(millis) if millis else 0)


def parse_ts(value: Any, name: str = "ts") -> int:
    """Event time to epoch milliseconds: RFC 3339 with offset, or an epoch number.

    The epoch unit is decided by magnitude (see :func:`epoch_to_ms`); numeric strings count as
    numbers.

    >>> parse_ts("2026-03-01T12:00:00.250+01:00")
    1772362800250
    >>> parse_ts(1772362800250), parse_ts(1772362800.25), parse_ts("1772362800250000")
    (1772362800250, 1772362800250, 1772362800250)
    >>> parse_ts("2026-03-01T12:00:00")
    Traceback (most recent call last):
    ...
    streamer.errors.InvalidEvent: bad_timestamp: ts: RFC 3339 time needs an offset (Z or +hh:mm)
    """
    if isinstance(value, bool):
        raise InvalidEvent("bad_timestamp", f"{name}: boolean is not a time")
    if isinstance(value, int | float):
        ms = epoch_to_ms(value, name)
    elif isinstance(value, str):
        utc = _utc_ms(value)
        if utc is not None:
            return utc
        number = _numeric_string(value)
        if number is not None:
            ms = epoch_to_ms(number, name)
        else:
            if len(value) > 64:
                raise InvalidEvent("bad_timestamp", f"{name}: too long for a time")
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
        raise InvalidEvent("bad_timestamp", f"{name}: expected RFC 3339 string or epoch number")
    if not _MIN_TS_MS <= ms <= _MAX_TS_MS:
        raise InvalidEvent("bad_timestamp", f"{name}: {ms} is outside 2000..2100 in epoch ms")
    return ms


# --- required fields (raise) -----------------------------------------------------------------

def _req_string(obj: dict[str, Any], key: str, *, allow_int: bool = False) -> str:
    value = obj.get(key)
    if type(value) is not str:
        if value is None:
            raise InvalidEvent("missing_field", f"required field {key!r} is missing", key)
        if allow_int and type(value) is int:
            value = str(value)
        else:
            raise InvalidEvent("wrong_type",
                               f"{key} must be a string, got {type(value).__name__}", key)
    if not value:
        raise InvalidEvent("empty_field", f"{key} must not be empty", key)
    if len(value) > 256:
        raise InvalidEvent("field_too_long", f"{key} is longer than 256 characters", key)
    return value


def _count_or_reason(value: Any) -> int | str:
    """A non-negative count from int / integral float / numeric string, else a reason code."""
    if type(value) is not int:
        if isinstance(value, bool):
            return "wrong_type"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            number = _numeric_string(value)
            if type(number) is not int:
                return "wrong_type"
            value = number
        elif not isinstance(value, int):
            return "wrong_type"
    if value < 0:
        return "negative_value"
    if value > _MAX_COUNT:
        return "out_of_range"
    return int(value)


def _req_count(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if type(value) is int and 0 <= value <= _MAX_COUNT:
        return value
    if value is None:
        raise InvalidEvent("missing_field", f"required field {key!r} is missing", key)
    got = _count_or_reason(value)
    if isinstance(got, str):
        detail = {"wrong_type": f"{key} must be an integer",
                  "negative_value": f"{key} must be >= 0, got {value}",
                  "out_of_range": f"{key}={value} is implausibly large"}[got]
        raise InvalidEvent(got, detail, key)
    return got


# --- optional fields (drop and record) -------------------------------------------------------

def _opt_string(obj: dict[str, Any], key: str, drops: Drops, name: str = "",
                limit: int = 512) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not str:
        drops.append((name or key, "wrong_type"))
        return None
    if len(value) > limit:
        drops.append((name or key, "field_too_long"))
        return None
    return value


def _opt_count(obj: dict[str, Any], key: str, drops: Drops) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is int and 0 <= value <= _MAX_COUNT:
        return value
    got = _count_or_reason(value)
    if isinstance(got, str):
        drops.append((key, got))
        return None
    return got


def _opt_float(obj: dict[str, Any], key: str, drops: Drops) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        if math.isfinite(value) and value >= 0:
            return float(value)
        drops.append((key, "out_of_range"))
        return None
    drops.append((key, "wrong_type"))
    return None


def _as_bool(value: Any) -> bool | None:
    if value is True or value is False:
        return bool(value)
    if type(value) is int and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def _opt_bool(obj: dict[str, Any], key: str, drops: Drops) -> bool | None:
    value = obj.get(key)
    if value is None or value is True or value is False:
        return value
    got = _as_bool(value)
    if got is None:
        drops.append((key, "wrong_type"))
    return got


def _logprobs(obj: dict[str, Any], drops: Drops) -> tuple[bool | None, int | None]:
    """``logprobs`` (bool, bool string, or legacy int N) and ``top_logprobs``."""
    top = _opt_count(obj, "top_logprobs", drops)
    value = obj.get("logprobs")
    if value is None or value is True or value is False:
        return value, top
    if type(value) is int:
        if value < 0:
            drops.append(("logprobs", "negative_value"))
            return None, top
        if value > 1000:
            drops.append(("logprobs", "out_of_range"))
            return None, top
        return value > 0, top if top is not None or value == 0 else value
    got = _as_bool(value)
    if got is None:
        drops.append(("logprobs", "wrong_type"))
    return got, top


def classify_status(value: Any) -> tuple[str | None, int | None, str | None]:
    """``(status, http_code, reason)``: ``status`` is ``"ok"``, ``"error"`` or ``None``.

    ``reason`` is set (and the rest ``None``) when the value cannot be read.

    >>> classify_status(200), classify_status("503"), classify_status("Success")
    (('ok', 200, None), ('error', 503, None), ('ok', None, None))
    >>> classify_status("rate_limited"), classify_status(True), classify_status(42)
    (('error', None, None), (None, None, 'wrong_type'), (None, None, 'out_of_range'))
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None, None, "wrong_type"
    if isinstance(value, str):
        number = _numeric_string(value)
        if number is None:
            word = value.strip().lower()
            if len(word) > 64:
                return None, None, "field_too_long"
            if word in OK_WORDS:
                return "ok", None, None
            if word in _UNKNOWN_WORDS:
                return None, None, None
            return "error", None, None
        if type(number) is not int:
            return None, None, "wrong_type"
        value = number
    if not 100 <= value <= 599:
        return None, None, "out_of_range"
    return ("ok" if value < 400 else "error"), value, None


def status_of(obj: dict[str, Any], drops: Drops) -> tuple[str | None, int | None]:
    """``(status, status_code)`` of an event's ``status`` and ``status_code`` fields; a value
    that cannot be read is dropped (appended to ``drops``)."""
    value = obj.get("status")
    code_value = obj.get("status_code")
    status: str | None = None
    code: int | None = None
    if value == "ok":
        status = "ok"
    elif value is not None:
        status, code, reason = classify_status(value)
        if reason:
            drops.append(("status", reason))
    if code_value is not None:
        s2, c2, reason = classify_status(code_value)
        if reason or c2 is None:
            drops.append(("status_code", reason or "wrong_type"))
        else:
            code = c2
            status = status or s2
    return status, code


def _text_of(content: Any) -> str | None:
    """Text of a chat message's content: a string, or a list of parts (text parts joined)."""
    if type(content) is str:
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content[:MAX_MESSAGES]:
            if type(part) is str:
                texts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") in ("text", "input_text"):
                text = part.get("text", part.get("content"))
                if type(text) is str:
                    texts.append(text)
        return "\n".join(texts) if texts else None
    return None


def _from_messages(messages: list[Any], drops: Drops) -> tuple[str | None, str | None]:
    """``(last user turn's text, first system turn's text)`` of a chat messages list."""
    prompt: str | None = None
    for msg in reversed(messages[-MAX_MESSAGES:]):
        if isinstance(msg, dict) and msg.get("role") == "user":
            prompt = _text_of(msg.get("content", msg.get("parts")))
            break
    system: str | None = None
    for msg in messages[:8]:
        if isinstance(msg, dict) and msg.get("role") in _SYSTEM_ROLES:
            system = _text_of(msg.get("content", msg.get("parts")))
            break
    if prompt is None and not any(isinstance(m, dict) for m in messages[:MAX_MESSAGES]):
        drops.append(("prompt", "bad_messages"))
    return prompt, system


def _prompt(obj: dict[str, Any], drops: Drops) -> tuple[str | None, str | None]:
    """``(prompt, system prompt text)`` from ``prompt`` (string or messages) or ``messages``."""
    value = obj.get("prompt")
    system: str | None = None
    if value is None:
        value = obj.get("messages")
        if value is None:
            return None, None
    if isinstance(value, list):
        value, system = _from_messages(value, drops)
        if value is None:
            return None, system
    if type(value) is not str:
        drops.append(("prompt", "wrong_type"))
        return None, system
    if len(value) > MAX_PROMPT_CHARS:
        drops.append(("prompt", "field_too_long"))
        return None, system
    return value, system


def system_prompt_hash_of(text: str) -> str:
    """The ``system_prompt_hash`` of a system prompt's text (16 hex chars, stable).

    >>> system_prompt_hash_of("You are a helpful assistant.") == system_prompt_hash_of(
    ...     "You are a helpful assistant.")
    True
    """
    return f"{stable_hash64(text):016x}"


def _logit_bias_count(obj: dict[str, Any], drops: Drops) -> int | None:
    count = _opt_count(obj, "logit_bias_count", drops)
    if count is not None:
        return count
    bias = obj.get("logit_bias")
    if bias is None:
        return None
    if isinstance(bias, dict):
        return len(bias)
    drops.append(("logit_bias", "wrong_type"))
    return None


def _object(obj: dict[str, Any], key: str, drops: Drops) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        drops.append((key, "wrong_type"))
        return {}
    return value


def _asn(client: dict[str, Any], drops: Drops) -> str | None:
    """``client.asn`` as a string: "AS16509", "16509" or 16509."""
    value = client.get("asn")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        drops.append(("client.asn", "wrong_type"))
        return None
    return str(value)[:64]


def _simhash(obj: dict[str, Any], drops: Drops) -> int | None:
    value = obj.get("prompt_simhash")
    if value is None:
        return None
    if type(value) is str and len(value) == 16:
        try:
            return int(value, 16)
        except ValueError:
            pass
    drops.append(("prompt_simhash", "bad_simhash"))
    return None


def _created_at(account: dict[str, Any], drops: Drops) -> int | None:
    value = account.get("created_at")
    if value is None:
        return None
    try:
        return parse_ts(value, "account.created_at")
    except InvalidEvent as err:
        drops.append(("account.created_at", err.reason))
        return None


# --- decoding --------------------------------------------------------------------------------

def parse_message(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """One message value to a JSON object, or :class:`InvalidEvent` (oversize, not UTF-8, ...)."""
    if len(raw) > max_bytes:
        raise InvalidEvent("oversize", f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise InvalidEvent("not_utf8", f"invalid UTF-8 at byte {uexc.start}") from None
        raise InvalidEvent("bad_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"top level is {type(obj).__name__}, not an object")
    return obj


def decode_event(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES,
                 input_format: str = "auto") -> InferenceEvent:
    """Decode and validate one message value; raise :class:`InvalidEvent` with a reason.

    ``input_format`` is one of :data:`streamer.core.formats.INPUT_FORMATS`: ``auto`` (the
    default) recognises each message's shape, ``native`` is this module's contract, the others
    adapt a gateway's log record to it (:mod:`streamer.core.formats`).
    """
    if len(raw) <= max_bytes and (input_format == "auto" or input_format == "native"):
        event = fast_event(raw)  # canonical native forms: one typed pass, the same result
        if event is not None:
            return event
    return decode_general(raw, max_bytes=max_bytes, input_format=input_format)


def decode_general(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES,
                   input_format: str = "auto") -> InferenceEvent:
    """:func:`decode_event` without the typed fast path (:mod:`streamer.core.typed_decode`):
    parse to a dict, adapt, validate field by field. The reference the fast path is tested
    against."""
    obj = parse_message(raw, max_bytes=max_bytes)
    if input_format == "native":
        return event_from_dict(obj)
    native, drops = to_native_with_drops(obj, input_format)
    return event_from_dict(native, drops)


def event_from_dict(obj: dict[str, Any], adapter_drops: Drops | None = None) -> InferenceEvent:
    """Validate an already-parsed JSON object in the native contract (see :func:`decode_event`).

    ``adapter_drops`` are optional fields an input-format adapter already had to drop.
    """
    event_id = _req_string(obj, "event_id")
    ts = obj.get("ts")
    if ts is None:
        raise InvalidEvent("missing_field", "required field 'ts' is missing", "ts")
    try:
        ts_ms = parse_ts(ts)
    except InvalidEvent as err:
        raise InvalidEvent(err.reason, err.detail, "ts") from None
    customer_id = _req_string(obj, "customer_id", allow_int=True)
    model = _req_string(obj, "model")
    input_tokens = _req_count(obj, "input_tokens")
    output_tokens = _req_count(obj, "output_tokens")
    drops: Drops = list(adapter_drops) if adapter_drops else []
    prompt, system_text = _prompt(obj, drops)
    system_hash = _opt_string(obj, "system_prompt_hash", drops)
    if system_hash is None and system_text:
        system_hash = system_prompt_hash_of(system_text)
    client = _object(obj, "client", drops)
    account = _object(obj, "account", drops)
    logprobs, top_logprobs = _logprobs(obj, drops)
    status, status_code = status_of(obj, drops)
    return InferenceEvent(
        event_id=event_id,
        ts_ms=ts_ms,
        customer_id=customer_id,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        api_key_id=_opt_string(obj, "api_key_id", drops),
        endpoint=_opt_string(obj, "endpoint", drops),
        max_tokens=_opt_count(obj, "max_tokens", drops),
        temperature=_opt_float(obj, "temperature", drops),
        top_p=_opt_float(obj, "top_p", drops),
        n=_opt_count(obj, "n", drops),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        logit_bias_count=_logit_bias_count(obj, drops),
        reasoning_tokens=_opt_count(obj, "reasoning_tokens", drops),
        stop_reason=_opt_string(obj, "stop_reason", drops),
        status=status,
        latency_ms=_opt_float(obj, "latency_ms", drops),
        stream=_opt_bool(obj, "stream", drops),
        tool_count=_opt_count(obj, "tool_count", drops),
        prompt=prompt,
        prompt_simhash=_simhash(obj, drops),
        system_prompt_hash=system_hash,
        client=ClientInfo(
            ip=_opt_string(client, "ip", drops, "client.ip"),
            asn=_asn(client, drops),
            user_agent=_opt_string(client, "user_agent", drops, "client.user_agent", 1024),
            tls_fingerprint=_opt_string(client, "tls_fingerprint", drops,
                                        "client.tls_fingerprint"),
        ) if client else ClientInfo(),
        account=AccountInfo(
            created_at_ms=_created_at(account, drops),
            payment_fingerprint=_opt_string(account, "payment_fingerprint", drops,
                                            "account.payment_fingerprint"),
            country=_opt_string(account, "country", drops, "account.country"),
            signup_channel=_opt_string(account, "signup_channel", drops,
                                       "account.signup_channel"),
        ) if account else AccountInfo(),
        status_code=status_code,
        dropped=tuple(drops),
    )


# The typed fast path imports this module's types, so it is imported once they exist.
from streamer.core.typed_decode import fast_event  # noqa: E402
