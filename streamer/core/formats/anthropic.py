"""Anthropic Messages: one logged request body + response body pair.

Reference: https://docs.anthropic.com/en/api/messages (request and response), extended thinking:
https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking.

The record is ``{"request": <request body>, "response": <response body>, ...envelope}``;
envelope fields named as in the native contract win (see :mod:`.common`).

================================  ===========================================================
native                            Anthropic
================================  ===========================================================
event_id                          ``response.id``
ts                                envelope ``ts`` (a Messages response carries no time: a
                                  record without it is dead-lettered as ``missing_field``)
customer_id                       envelope ``customer_id``, else ``request.metadata.user_id``
model                             ``response.model``, else ``request.model``
input_tokens                      ``usage.input_tokens`` + ``cache_creation_input_tokens`` +
                                  ``cache_read_input_tokens`` (the whole prompt)
output_tokens                     ``usage.output_tokens``
reasoning_tokens                  envelope ``reasoning_tokens``, else -- when ``thinking`` is
                                  enabled -- an estimate from the response's ``thinking``
                                  blocks (4 characters a token; a lower bound, since thinking
                                  may be summarised), at most ``output_tokens``
max_tokens, temperature, top_p,   ``request.*``
stream
tool_count                        ``len(request.tools)``
prompt                            ``request.messages`` (last user turn, text blocks joined)
system_prompt_hash                hash of ``request.system`` (string or text blocks)
stop_reason                       ``response.stop_reason``
status                            envelope ``status`` (HTTP code), else ``error`` for an error
                                  body (``"type": "error"``), else ``ok``
================================  ===========================================================

The Messages API has no ``n``, ``logprobs`` or ``logit_bias``; a gateway may add them to the
envelope.

>>> rec = {"ts": "2026-03-02T00:00:00Z",
...        "request": {"model": "claude-x", "max_tokens": 1024, "system": "Be terse.",
...                    "metadata": {"user_id": "u1"},
...                    "messages": [{"role": "user", "content": [{"type": "text",
...                                                               "text": "hi"}]}]},
...        "response": {"id": "msg_1", "type": "message", "model": "claude-x",
...                     "stop_reason": "end_turn",
...                     "usage": {"input_tokens": 9, "output_tokens": 12}}}
>>> n = to_native(rec)
>>> n["event_id"], n["customer_id"], n["input_tokens"], n["prompt"][0]["role"]
('msg_1', 'u1', 9, 'system')
"""

from __future__ import annotations

from typing import Any

from streamer.core.formats.common import (
    add_system,
    count_tools,
    envelope,
    first,
    merge,
    obj_or_empty,
    path,
)

NAME = "anthropic"
_PAIR = frozenset({"request", "response"})
CHARS_PER_TOKEN = 4


def matches(obj: dict[str, Any]) -> bool:
    """A request/response pair whose response (or request) has the Messages API's shape."""
    resp = obj_or_empty(obj.get("response"))
    if resp.get("type") in ("message", "error"):
        return True
    if "input_tokens" in obj_or_empty(resp.get("usage")):
        return True
    req = obj_or_empty(obj.get("request"))
    return "system" in req or "thinking" in req


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _input_tokens(usage: dict[str, Any]) -> Any:
    base = usage.get("input_tokens")
    if type(base) is not int:
        return base  # absent or odd: the validator decides
    return base + _count(usage.get("cache_creation_input_tokens")) \
        + _count(usage.get("cache_read_input_tokens"))


def _thinking_tokens(req: dict[str, Any], resp: dict[str, Any], output: Any) -> int | None:
    if path(req, "thinking", "type") not in ("enabled", "adaptive"):
        return None
    content = resp.get("content")
    if not isinstance(content, list):
        return None
    chars = sum(len(b["thinking"]) for b in content
                if isinstance(b, dict) and b.get("type") == "thinking"
                and isinstance(b.get("thinking"), str))
    if not chars:
        return None
    estimate = max(1, chars // CHARS_PER_TOKEN)
    return min(estimate, output) if type(output) is int else estimate


def to_native(obj: dict[str, Any]) -> dict[str, Any]:
    req = obj_or_empty(obj.get("request"))
    resp = obj_or_empty(obj.get("response"))
    usage = obj_or_empty(resp.get("usage"))
    is_error = resp.get("type") == "error" or ("error" in resp and "content" not in resp)
    output = first(usage.get("output_tokens"), 0 if is_error else None)
    mapped: dict[str, Any] = {
        "event_id": resp.get("id"),
        "customer_id": path(req, "metadata", "user_id"),
        "model": first(resp.get("model"), req.get("model")),
        "input_tokens": first(_input_tokens(usage), 0 if is_error else None),
        "output_tokens": output,
        "reasoning_tokens": _thinking_tokens(req, resp, output),
        "max_tokens": req.get("max_tokens"),
        "temperature": req.get("temperature"),
        "top_p": req.get("top_p"),
        "stream": req.get("stream"),
        "tool_count": count_tools(req.get("tools")),
        "prompt": add_system(req.get("messages"), req.get("system")),
        "stop_reason": resp.get("stop_reason"),
        "status": "error" if is_error else ("ok" if resp else None),
    }
    return merge(mapped, envelope(obj, _PAIR))
