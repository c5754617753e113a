"""OpenAI Chat Completions: one logged request body + response body pair.

Reference: https://platform.openai.com/docs/api-reference/chat/create (request) and
https://platform.openai.com/docs/api-reference/chat/object (response).

The record is ``{"request": <request body>, "response": <response body>, ...envelope}``;
envelope fields named as in the native contract win (see :mod:`.common`).

================================  ===========================================================
native                            OpenAI
================================  ===========================================================
event_id                          ``response.id``
ts                                envelope ``ts``, else ``response.created`` (epoch seconds)
customer_id                       envelope ``customer_id``, else ``request.user``, else
                                  ``request.safety_identifier``, else
                                  ``request.metadata.customer_id``
model                             ``response.model``, else ``request.model``
input_tokens / output_tokens      ``usage.prompt_tokens`` / ``usage.completion_tokens``
reasoning_tokens                  ``usage.completion_tokens_details.reasoning_tokens``
max_tokens                        ``request.max_completion_tokens``, else ``max_tokens``
temperature, top_p, n, stream     ``request.*``
logprobs, top_logprobs            ``request.logprobs``, ``request.top_logprobs``
logit_bias_count                  size of the ``request.logit_bias`` map
tool_count                        ``len(request.tools)``
prompt, system_prompt_hash        ``request.messages`` (last user turn; system/developer turn),
                                  or ``request.prompt`` (legacy completions)
stop_reason                       ``response.choices[0].finish_reason``
status                            envelope ``status`` (HTTP code), else ``error`` when the
                                  response is an error body, else ``ok``
================================  ===========================================================

An error body (``{"error": {...}}``) carries no usage: its token counts are the envelope's, or 0.

>>> rec = {"request": {"model": "gpt-4o", "user": "u1", "logit_bias": {"50256": -100},
...                    "messages": [{"role": "user", "content": "hi"}]},
...        "response": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1772409600,
...                     "model": "gpt-4o", "choices": [{"finish_reason": "stop"}],
...                     "usage": {"prompt_tokens": 9, "completion_tokens": 12}}}
>>> n = to_native(rec)
>>> n["event_id"], n["customer_id"], n["ts"], n["input_tokens"], n["logit_bias"]
('chatcmpl-1', 'u1', 1772409600, 9, {'50256': -100})
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

NAME = "openai"
_PAIR = frozenset({"request", "response"})


def matches(obj: dict[str, Any]) -> bool:
    """A request/response pair whose response (or request) has OpenAI's shape."""
    resp = obj_or_empty(obj.get("response"))
    if resp.get("object") in ("chat.completion", "text_completion") or "choices" in resp:
        return True
    if "prompt_tokens" in obj_or_empty(resp.get("usage")):
        return True
    return "error" in resp and resp.get("type") != "error"


def to_native(obj: dict[str, Any]) -> dict[str, Any]:
    req = obj_or_empty(obj.get("request"))
    resp = obj_or_empty(obj.get("response"))
    usage = obj_or_empty(resp.get("usage"))
    is_error = "error" in resp and "choices" not in resp
    mapped: dict[str, Any] = {
        "event_id": resp.get("id"),
        "ts": resp.get("created"),
        "customer_id": first(req.get("user"), req.get("safety_identifier"),
                             path(req, "metadata", "customer_id")),
        "model": first(resp.get("model"), req.get("model")),
        "input_tokens": first(usage.get("prompt_tokens"), 0 if is_error else None),
        "output_tokens": first(usage.get("completion_tokens"), 0 if is_error else None),
        "reasoning_tokens": path(usage, "completion_tokens_details", "reasoning_tokens"),
        "max_tokens": first(req.get("max_completion_tokens"), req.get("max_tokens")),
        "temperature": req.get("temperature"),
        "top_p": req.get("top_p"),
        "n": req.get("n"),
        "stream": req.get("stream"),
        "logprobs": req.get("logprobs"),
        "top_logprobs": req.get("top_logprobs"),
        "logit_bias": req.get("logit_bias"),
        "tool_count": count_tools(req.get("tools")),
        "prompt": first(req.get("messages"), req.get("prompt")),
        "stop_reason": path(resp, "choices", 0, "finish_reason"),
        "status": "error" if is_error else ("ok" if resp else None),
    }
    return merge(mapped, envelope(obj, _PAIR))
