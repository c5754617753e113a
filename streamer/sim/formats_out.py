"""Simulated traffic in gateways' log formats: a native event dict -> an adapter's record.

The inverse of :mod:`streamer.core.formats`, for tests and demos: every field the detector uses
is carried in the format's own place where it has one (OpenAI ``request.user``, Anthropic
``metadata.user_id``, OTel ``enduser.id`` and ``gen_ai.*``, LiteLLM ``metadata`` and
``model_parameters``), and as a native-named envelope field (OTel: a ``streamer.*`` attribute)
where it has none -- the account, the client's ASN and TLS fingerprint, the API key, the system
prompt's hash, and for Anthropic the time and the settings the Messages API lacks.

Decoding a converted record gives back the same event, but for the HTTP ``status_code`` the
gateway formats add (``tests/unit/test_formats_roundtrip.py``):

>>> from dataclasses import replace
>>> from streamer.core.events import decode_event, event_from_dict
>>> import orjson
>>> ev = {"event_id": "e1", "ts": "2026-03-02T00:00:00.250Z", "customer_id": "c1", "model": "m",
...       "input_tokens": 10, "output_tokens": 20, "temperature": 0.7, "prompt": "hi",
...       "status": "ok", "latency_ms": 812.5, "client": {"asn": "AS1"}, "account": {}}
>>> [replace(decode_event(orjson.dumps(to_format(ev, f))), status_code=None)
...  == event_from_dict(ev) for f in FORMATS]
[True, True, True, True]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from streamer.core.events import parse_ts

FORMATS: tuple[str, ...] = ("openai", "anthropic", "otel", "litellm")
_BIAS_TOKENS = 50_000


def _messages(ev: dict[str, Any], part_key: str | None = None) -> list[dict[str, Any]]:
    prompt = ev.get("prompt")
    if prompt is None:
        return []
    if part_key is None:
        return [{"role": "user", "content": prompt}]
    return [{"role": "user", "content": [{"type": "text", part_key: prompt}]}]


def _tools(ev: dict[str, Any]) -> list[dict[str, Any]] | None:
    count = ev.get("tool_count")
    if count is None:
        return None
    return [{"type": "function", "function": {"name": f"tool_{i}", "parameters": {}}}
            for i in range(count)]


def _logit_bias(ev: dict[str, Any]) -> dict[str, int] | None:
    count = ev.get("logit_bias_count")
    if count is None:
        return None
    return {str(_BIAS_TOKENS + i): -100 for i in range(count)}


def _envelope(ev: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: ev[k] for k in names if ev.get(k) is not None}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _is_error(ev: dict[str, Any]) -> bool:
    return ev.get("status") not in (None, "ok", "success")


def to_openai(ev: dict[str, Any]) -> dict[str, Any]:
    error = _is_error(ev)
    request = _drop_none({
        "model": ev["model"], "messages": _messages(ev), "user": ev["customer_id"],
        "max_completion_tokens": ev.get("max_tokens"), "temperature": ev.get("temperature"),
        "top_p": ev.get("top_p"), "n": ev.get("n"), "stream": ev.get("stream"),
        "logprobs": ev.get("logprobs"), "top_logprobs": ev.get("top_logprobs"),
        "logit_bias": _logit_bias(ev), "tools": _tools(ev),
    })
    if error:
        response: dict[str, Any] = {"error": {"message": "The server had an error",
                                              "type": "server_error", "code": None}}
    else:
        usage: dict[str, Any] = {"prompt_tokens": ev["input_tokens"],
                                 "completion_tokens": ev["output_tokens"],
                                 "total_tokens": ev["input_tokens"] + ev["output_tokens"]}
        if ev.get("reasoning_tokens") is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": ev["reasoning_tokens"]}
        response = {
            "id": ev["event_id"], "object": "chat.completion",
            "created": parse_ts(ev["ts"]) // 1000, "model": ev["model"],
            "choices": [{"index": i, "finish_reason": ev.get("stop_reason"),
                         "message": {"role": "assistant", "content": "..."}}
                        for i in range(ev.get("n") or 1)],
            "usage": usage,
        }
    env = _envelope(ev, "ts", "api_key_id", "endpoint", "latency_ms", "system_prompt_hash",
                    "client", "account")
    env["status"] = 500 if error else 200
    if error:  # an error body has no id, usage or finish reason: the gateway logs them
        env.update(_envelope(ev, "event_id", "input_tokens", "output_tokens",
                             "reasoning_tokens", "stop_reason"))
    return {**env, "request": request, "response": response}


def to_anthropic(ev: dict[str, Any]) -> dict[str, Any]:
    error = _is_error(ev)
    request = _drop_none({
        "model": ev["model"], "messages": _messages(ev, "text"),
        "max_tokens": ev.get("max_tokens"), "temperature": ev.get("temperature"),
        "top_p": ev.get("top_p"), "stream": ev.get("stream"), "tools": _tools(ev),
        "metadata": {"user_id": ev["customer_id"]},
    })
    if error:
        response: dict[str, Any] = {"type": "error", "error": {"type": "api_error",
                                                               "message": "Internal error"}}
    else:
        response = {"id": ev["event_id"], "type": "message", "role": "assistant",
                    "model": ev["model"], "content": [{"type": "text", "text": "..."}],
                    "stop_reason": ev.get("stop_reason"), "stop_sequence": None,
                    "usage": {"input_tokens": ev["input_tokens"],
                              "output_tokens": ev["output_tokens"]}}
    env = _envelope(ev, "ts", "api_key_id", "endpoint", "latency_ms", "system_prompt_hash",
                    "client", "account", "n", "logprobs", "top_logprobs", "logit_bias_count",
                    "reasoning_tokens")
    env["status"] = 500 if error else 200
    if error:
        env.update(_envelope(ev, "event_id", "input_tokens", "output_tokens", "stop_reason"))
    return {**env, "request": request, "response": response}


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def to_otel(ev: dict[str, Any]) -> dict[str, Any]:
    start_ns = parse_ts(ev["ts"]) * 1_000_000
    latency = ev.get("latency_ms")
    attrs: dict[str, Any] = _drop_none({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": ev["model"], "gen_ai.response.id": ev["event_id"],
        "gen_ai.usage.input_tokens": ev["input_tokens"],
        "gen_ai.usage.output_tokens": ev["output_tokens"],
        "gen_ai.request.max_tokens": ev.get("max_tokens"),
        "gen_ai.request.temperature": ev.get("temperature"),
        "gen_ai.request.top_p": ev.get("top_p"),
        "gen_ai.request.choice.count": ev.get("n"),
        "gen_ai.response.finish_reasons": [ev["stop_reason"]] if ev.get("stop_reason") else None,
        "enduser.id": ev["customer_id"],
        "http.route": ev.get("endpoint"),
        "error.type": "500" if _is_error(ev) else None,
    })
    if ev.get("prompt") is not None:
        attrs["gen_ai.input.messages"] = orjson.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": ev["prompt"]}]}]).decode()
    client = ev.get("client") or {}
    for src, key in (("ip", "client.address"), ("user_agent", "user_agent.original"),
                     ("tls_fingerprint", "tls.client.ja3")):
        if client.get(src) is not None:
            attrs[key] = client[src]
    if client.get("asn") is not None:
        attrs["streamer.client.asn"] = client["asn"]
    for name in ("api_key_id", "system_prompt_hash", "logprobs", "top_logprobs",
                 "logit_bias_count", "reasoning_tokens", "stream", "tool_count"):
        if ev.get(name) is not None:
            attrs[f"streamer.{name}"] = ev[name]
    for key, value in (ev.get("account") or {}).items():
        if value is not None:
            attrs[f"streamer.account.{key}"] = value
    record: dict[str, Any] = {
        "traceId": ev["event_id"].encode().hex()[:32].ljust(32, "0"),
        "spanId": ev["event_id"].encode().hex()[-16:].rjust(16, "0"),
        "name": f"chat {ev['model']}", "kind": 3,
        "startTimeUnixNano": str(start_ns),
        "attributes": [{"key": k, "value": _any_value(v)} for k, v in attrs.items()],
        "status": {"code": 2} if _is_error(ev) else {},
    }
    if latency is not None:
        record["endTimeUnixNano"] = str(start_ns + round(latency * 1_000_000))
    return record


def to_litellm(ev: dict[str, Any]) -> dict[str, Any]:
    start = parse_ts(ev["ts"]) / 1000
    latency = ev.get("latency_ms")
    error = _is_error(ev)
    usage: dict[str, Any] = {"prompt_tokens": ev["input_tokens"],
                             "completion_tokens": ev["output_tokens"]}
    if ev.get("reasoning_tokens") is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": ev["reasoning_tokens"]}
    client = ev.get("client") or {}
    record: dict[str, Any] = {
        "id": ev["event_id"], "trace_id": ev["event_id"], "call_type": "acompletion",
        "status": "failure" if error else "success",
        "prompt_tokens": ev["input_tokens"], "completion_tokens": ev["output_tokens"],
        "total_tokens": ev["input_tokens"] + ev["output_tokens"],
        "startTime": start,
        "model": ev["model"], "model_group": ev["model"],
        "metadata": _drop_none({"user_api_key_user_id": ev["customer_id"],
                                "user_api_key_hash": ev.get("api_key_id")}),
        "requester_ip_address": client.get("ip"),
        "messages": _messages(ev) or None,
        "response": None if error else {
            "choices": [{"finish_reason": ev.get("stop_reason")}], "usage": usage},
        "model_parameters": _drop_none({
            "max_completion_tokens": ev.get("max_tokens"), "temperature": ev.get("temperature"),
            "top_p": ev.get("top_p"), "n": ev.get("n"), "stream": ev.get("stream"),
            "logprobs": ev.get("logprobs"), "top_logprobs": ev.get("top_logprobs"),
            "logit_bias": _logit_bias(ev), "tools": _tools(ev)}),
        "error_str": "Internal server error" if error else None,
        "error_information": {"error_code": "500", "error_class": "InternalServerError"}
        if error else None,
    }
    if latency is not None:
        record["endTime"] = start + latency / 1000
    env = _envelope(ev, "endpoint", "system_prompt_hash", "account")
    rest = {k: v for k, v in client.items() if k != "ip" and v is not None}
    if rest:
        env["client"] = rest
    if error:
        env.update(_envelope(ev, "reasoning_tokens", "stop_reason"))
    return {**_drop_none(record), **env}


CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "openai": to_openai, "anthropic": to_anthropic, "otel": to_otel, "litellm": to_litellm,
}


def to_format(ev: dict[str, Any], fmt: str) -> dict[str, Any]:
    """One native event dict as a record of ``fmt`` (one of :data:`FORMATS`)."""
    return CONVERTERS[fmt](ev)
