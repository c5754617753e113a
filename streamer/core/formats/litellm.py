"""LiteLLM proxy: one ``StandardLoggingPayload`` (logged for every success and failure).

Reference: https://docs.litellm.ai/docs/proxy/logging_spec (the payload, its ``metadata``
(``StandardLoggingMetadata``) and ``error_information``). A record wrapped as
``{"standard_logging_object": {...}}`` (a callback's ``kwargs``) is unwrapped.

================================  ===========================================================
native                            LiteLLM
================================  ===========================================================
event_id                          ``id``
ts                                ``startTime`` (epoch seconds, float)
latency_ms                        ``endTime - startTime`` (else ``response_time``) in ms
customer_id                       ``metadata.user_api_key_user_id`` (the key's owner: the
                                  billed account), else ``end_user``, else
                                  ``metadata.user_api_key_team_id``
api_key_id                        ``metadata.user_api_key_hash``
model                             ``model`` (as sent), else ``model_group``
input_tokens / output_tokens      ``prompt_tokens`` / ``completion_tokens``
reasoning_tokens                  ``response.usage.completion_tokens_details.reasoning_tokens``
max_tokens, temperature, top_p,   ``model_parameters.*`` (``max_completion_tokens`` first)
n, stream, logprobs,
top_logprobs, logit_bias
tool_count                        ``len(model_parameters.tools)``
prompt, system_prompt_hash        ``messages`` (a string or a chat messages list)
stop_reason                       ``response.choices[0].finish_reason``
status                            ``status`` (``success`` / ``failure``); the HTTP code from
                                  ``error_information.error_code`` (e.g. ``"429"``)
client.ip                         ``requester_ip_address`` (else ``metadata.*``)
================================  ===========================================================

>>> rec = {"id": "req-1", "call_type": "acompletion", "status": "success",
...        "startTime": 1772409600.0, "endTime": 1772409600.25, "model": "gpt-4o",
...        "prompt_tokens": 9, "completion_tokens": 12, "metadata": {
...            "user_api_key_user_id": "u1", "user_api_key_hash": "88dc28"},
...        "messages": [{"role": "user", "content": "hi"}], "model_parameters": {"n": 2}}
>>> n = to_native(rec)
>>> n["event_id"], n["customer_id"], n["ts"], n["latency_ms"], n["n"], n["status"]
('req-1', 'u1', 1772409600.0, 250.0, 2, 'success')
"""

from __future__ import annotations

from typing import Any

from streamer.core.formats.common import (
    count_tools,
    envelope,
    first,
    merge,
    obj_or_empty,
    path,
)

NAME = "litellm"
#: LiteLLM's own fields that share a native name but mean something else
_OWN = frozenset({"status", "model", "messages"})


def matches(obj: dict[str, Any]) -> bool:
    return "call_type" in obj or isinstance(obj.get("standard_logging_object"), dict)


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def to_native(obj: dict[str, Any]) -> dict[str, Any]:
    inner = obj.get("standard_logging_object")
    if isinstance(inner, dict):
        obj = inner
    meta = obj_or_empty(obj.get("metadata"))
    params = obj_or_empty(obj.get("model_parameters"))
    start, end = _number(obj.get("startTime")), _number(obj.get("endTime"))
    latency: float | None = None
    if start is not None and end is not None and end >= start:
        latency = round((end - start) * 1000, 3)
    elif _number(obj.get("response_time")) is not None:
        latency = round(float(obj["response_time"]) * 1000, 3)
    error_code = path(obj, "error_information", "error_code")
    mapped: dict[str, Any] = {
        "event_id": obj.get("id"),
        "ts": obj.get("startTime"),
        "latency_ms": latency,
        "customer_id": first(meta.get("user_api_key_user_id"), obj.get("end_user"),
                             meta.get("user_api_key_team_id")),
        "api_key_id": meta.get("user_api_key_hash"),
        "model": first(obj.get("model"), obj.get("model_group")),
        "input_tokens": obj.get("prompt_tokens"),
        "output_tokens": obj.get("completion_tokens"),
        "reasoning_tokens": path(obj, "response", "usage", "completion_tokens_details",
                                 "reasoning_tokens"),
        "max_tokens": first(params.get("max_completion_tokens"), params.get("max_tokens")),
        "temperature": params.get("temperature"),
        "top_p": params.get("top_p"),
        "n": params.get("n"),
        "stream": params.get("stream"),
        "logprobs": params.get("logprobs"),
        "top_logprobs": params.get("top_logprobs"),
        "logit_bias": params.get("logit_bias"),
        "tool_count": count_tools(params.get("tools")),
        "prompt": obj.get("messages"),
        "stop_reason": path(obj, "response", "choices", 0, "finish_reason"),
        "status": obj.get("status"),
        "status_code": error_code,
        "client": {"ip": first(obj.get("requester_ip_address"),
                               meta.get("requester_ip_address"))},
    }
    if mapped["client"]["ip"] is None:
        mapped["client"] = None
    return merge(mapped, envelope(obj, _OWN))
