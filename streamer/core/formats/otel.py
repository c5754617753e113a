"""OpenTelemetry GenAI semantic conventions: one span (or log record) of a model call.

Reference: https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/ (attributes),
https://opentelemetry.io/docs/specs/otel/protocol/file-exporter/ and the OTLP JSON encoding
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding: ``attributes`` is a list of
``{"key", "value": {"stringValue" | "intValue" | "doubleValue" | "boolValue" | "arrayValue" |
"kvlistValue"}}``, 64-bit integers as strings, times as ``...UnixNano`` strings).

One message is one span or log record (not a whole ``resourceSpans`` export). ``attributes`` may
be OTLP's key/value list or a plain object; a record may also carry the ``gen_ai.*`` keys at its
top level.

================================  ===========================================================
native                            OpenTelemetry
================================  ===========================================================
event_id                          ``gen_ai.response.id``, else ``traceId``-``spanId``
ts                                ``startTimeUnixNano`` (span), else ``timeUnixNano`` /
                                  ``observedTimeUnixNano`` (log record)
latency_ms                        ``endTimeUnixNano - startTimeUnixNano``
customer_id                       ``enduser.id`` (else ``user.id``)
model                             ``gen_ai.request.model``, else ``gen_ai.response.model``
input_tokens / output_tokens      ``gen_ai.usage.input_tokens`` / ``output_tokens`` (before
                                  semconv 1.27: ``gen_ai.usage.prompt_tokens`` /
                                  ``completion_tokens``)
max_tokens, temperature, top_p    ``gen_ai.request.max_tokens``, ``.temperature``, ``.top_p``
n                                 ``gen_ai.request.choice.count``
stop_reason                       ``gen_ai.response.finish_reasons[0]``
prompt                            ``gen_ai.input.messages`` (opt-in; a JSON string or list)
system_prompt_hash                hash of ``gen_ai.system_instructions``
status                            span ``status.code`` ``ERROR`` (2) or an ``error.type``
                                  attribute -> error (a numeric ``error.type`` is the HTTP
                                  code), else ok
client                            ``client.address``, ``user_agent.original``,
                                  ``tls.client.ja3``
endpoint                          ``http.route``, else ``url.path``
anything else                     attributes ``streamer.<native field>`` (nested with dots:
                                  ``streamer.account.created_at``)
================================  ===========================================================

>>> span = {"traceId": "t1", "spanId": "s1", "startTimeUnixNano": "1772409600000000000",
...         "endTimeUnixNano": "1772409600250000000", "attributes": [
...             {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
...             {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "9"}},
...             {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 12}},
...             {"key": "enduser.id", "value": {"stringValue": "u1"}}]}
>>> n = to_native(span)
>>> n["event_id"], n["ts"], n["latency_ms"], n["customer_id"], n["input_tokens"]
('t1-s1', '1772409600000000000', 250.0, 'u1', '9')
"""

from __future__ import annotations

from typing import Any

import orjson

from streamer.core.formats.common import Drops, add_system, first, merge, obj_or_empty

NAME = "otel"
MAX_ATTRIBUTES = 512
_PREFIX = "streamer."
_MARKERS = ("gen_ai.request.model", "gen_ai.operation.name", "gen_ai.usage.input_tokens",
            "gen_ai.system", "gen_ai.provider.name")


def matches(obj: dict[str, Any]) -> bool:
    """A span / log record with GenAI attributes (OTLP list or object), or flat gen_ai keys."""
    attrs = obj.get("attributes")
    if isinstance(attrs, dict):
        return any(k in attrs for k in _MARKERS)
    if isinstance(attrs, list):
        return any(isinstance(a, dict) and isinstance(a.get("key"), str)
                   and a["key"].startswith("gen_ai.") for a in attrs[:MAX_ATTRIBUTES])
    return any(k in obj for k in _MARKERS)


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP JSON ``AnyValue`` to a plain value (unknown shapes: ``None``)."""
    if not isinstance(value, dict) or depth > 8:
        return None
    for key in ("stringValue", "intValue", "doubleValue", "boolValue", "bytesValue"):
        if key in value:
            return value[key]
    if "arrayValue" in value:
        values = obj_or_empty(value["arrayValue"]).get("values")
        return [any_value(v, depth + 1) for v in values[:MAX_ATTRIBUTES]] \
            if isinstance(values, list) else None
    if "kvlistValue" in value:
        values = obj_or_empty(value["kvlistValue"]).get("values")
        return attributes(values, depth + 1) if isinstance(values, list) else None
    return None


def attributes(attrs: Any, depth: int = 0) -> dict[str, Any]:
    """OTLP ``[{"key", "value"}]`` (or an already plain object) to ``{key: value}``."""
    if isinstance(attrs, dict):
        return attrs
    out: dict[str, Any] = {}
    if isinstance(attrs, list):
        for a in attrs[:MAX_ATTRIBUTES]:
            if isinstance(a, dict) and isinstance(a.get("key"), str):
                out[a["key"]] = any_value(a.get("value"), depth)
    return out


def _nanos(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def _json_list(value: Any, name: str, drops: Drops) -> Any:
    """Content attributes are JSON strings on spans, structured values on events."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            drops.append((name, "bad_json"))
            return None
    return value


def _passthrough(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(_PREFIX) or value is None:
            continue
        name = key[len(_PREFIX):]
        head, dot, tail = name.partition(".")
        if dot:
            sub = out.setdefault(head, {})
            if isinstance(sub, dict):
                sub[tail] = value
        else:
            out[name] = value
    return out


def _status(record: dict[str, Any], attrs: dict[str, Any]) -> tuple[str, Any]:
    code = obj_or_empty(record.get("status")).get("code")
    error_type = attrs.get("error.type")
    if error_type is not None:
        text = str(error_type)
        return "error", int(text) if text.isascii() and text.isdigit() and len(text) == 3 \
            else None
    if code in (2, "STATUS_CODE_ERROR", "ERROR"):
        return "error", None
    return "ok", None


def to_native_with_drops(obj: dict[str, Any]) -> tuple[dict[str, Any], Drops]:
    drops: Drops = []
    attrs = attributes(obj.get("attributes"))
    if not attrs:
        attrs = {k: v for k, v in obj.items() if k.startswith(("gen_ai.", "enduser.", _PREFIX))}
    start = _nanos(obj.get("startTimeUnixNano"))
    end = _nanos(obj.get("endTimeUnixNano"))
    trace, span = obj.get("traceId"), obj.get("spanId")
    messages = _json_list(attrs.get("gen_ai.input.messages"), "prompt", drops)
    system = _json_list(attrs.get("gen_ai.system_instructions"), "system_prompt_hash", drops)
    finish = attrs.get("gen_ai.response.finish_reasons")
    status, code = _status(obj, attrs)
    mapped: dict[str, Any] = {
        "event_id": first(attrs.get("gen_ai.response.id"),
                          f"{trace}-{span}" if isinstance(trace, str) and isinstance(span, str)
                          and trace and span else None),
        "ts": first(obj.get("startTimeUnixNano"), obj.get("timeUnixNano"),
                    obj.get("observedTimeUnixNano")),
        "latency_ms": (end - start) / 1e6 if start is not None and end is not None
        and end >= start else None,
        "customer_id": first(attrs.get("enduser.id"), attrs.get("user.id")),
        "model": first(attrs.get("gen_ai.request.model"), attrs.get("gen_ai.response.model")),
        "input_tokens": first(attrs.get("gen_ai.usage.input_tokens"),
                              attrs.get("gen_ai.usage.prompt_tokens")),
        "output_tokens": first(attrs.get("gen_ai.usage.output_tokens"),
                               attrs.get("gen_ai.usage.completion_tokens")),
        "max_tokens": attrs.get("gen_ai.request.max_tokens"),
        "temperature": attrs.get("gen_ai.request.temperature"),
        "top_p": attrs.get("gen_ai.request.top_p"),
        "n": attrs.get("gen_ai.request.choice.count"),
        "stop_reason": finish[0] if isinstance(finish, list) and finish else None,
        "prompt": add_system(messages, system) if messages is not None or system else None,
        "status": status,
        "status_code": code,
        "endpoint": first(attrs.get("http.route"), attrs.get("url.path")),
        "client": {k: v for k, v in (("ip", attrs.get("client.address")),
                                     ("user_agent", attrs.get("user_agent.original")),
                                     ("tls_fingerprint", attrs.get("tls.client.ja3")))
                   if v is not None} or None,
    }
    return merge(mapped, _passthrough(attrs)), drops


def to_native(obj: dict[str, Any]) -> dict[str, Any]:
    return to_native_with_drops(obj)[0]
