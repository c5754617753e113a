"""What every adapter shares: safe look-ups and the gateway's envelope fields.

An adapter turns one gateway log record into a dict of the native contract
(:mod:`streamer.core.events`), which then validates it. Adapters only rename and reshape; they
never raise on odd input (a value of the wrong type is handed on, and the native validator drops
and counts it, or dead-letters the event when it is a required field).

**Envelope fields.** A format has no place for some of what the detector uses (the billed
account's age, the client's TLS fingerprint, the API key). A gateway that logs such a record
usually wraps or enriches it; fields named as in the native contract at the top level of the
record (OpenTelemetry: as attributes ``streamer.<field>``, ``streamer.account.created_at``) are
taken as they are and win over what the adapter derived from the format, since the gateway knows
them first-hand (e.g. the billed ``customer_id`` rather than the client-supplied OpenAI ``user``).

>>> envelope({"customer_id": "c1", "request": {}, "client": {"asn": "AS1"}})
{'customer_id': 'c1', 'client': {'asn': 'AS1'}}
>>> path({"a": {"b": [1, {"c": 3}]}}, "a", "b", 1, "c"), path({"a": 1}, "a", "b")
(3, None)
"""

from __future__ import annotations

from typing import Any

#: the native contract's top-level field names (accepted from an envelope)
NATIVE_FIELDS: frozenset[str] = frozenset({
    "event_id", "ts", "customer_id", "model", "input_tokens", "output_tokens", "api_key_id",
    "endpoint", "max_tokens", "temperature", "top_p", "n", "logprobs", "top_logprobs",
    "logit_bias", "logit_bias_count", "reasoning_tokens", "stop_reason", "status", "status_code",
    "latency_ms", "stream", "tool_count", "prompt", "prompt_simhash", "system_prompt_hash",
    "client", "account",
})

Drops = list[tuple[str, str]]


def envelope(obj: dict[str, Any], exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The native-named fields at the top level of ``obj`` (minus ``exclude``), non-null only."""
    return {k: v for k, v in obj.items()
            if k in NATIVE_FIELDS and k not in exclude and v is not None}


def path(obj: Any, *keys: str | int) -> Any:
    """``obj[k1][k2]...`` or ``None`` as soon as a step does not exist (never raises)."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        else:
            if key not in obj:
                return None
        obj = obj[key]
    return obj


def obj_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def first(*values: Any) -> Any:
    """The first value that is not ``None``."""
    for v in values:
        if v is not None:
            return v
    return None


def count_tools(tools: Any) -> int | None:
    return len(tools) if isinstance(tools, list) else None


def merge(mapped: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    """Adapter-derived fields (non-null), overridden by the envelope's."""
    out = {k: v for k, v in mapped.items() if v is not None}
    for key, value in env.items():
        if key in ("client", "account") and isinstance(value, dict) \
                and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def add_system(messages: Any, system: Any) -> Any:
    """Prepend a system turn to a chat messages list (when both exist)."""
    if system is None:
        return messages
    turn = {"role": "system", "content": system}
    if isinstance(messages, list):
        return [turn, *messages]
    return [turn] if messages is None else messages
