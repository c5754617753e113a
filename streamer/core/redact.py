"""Redacting prompt (and completion) text from a dead-lettered copy of a message.

The dead-letter topic keeps a copy of every message the worker could not use, so an operator
can see *why*. Prompt text must not be kept there: with redaction on (the default,
``STREAMER_DLQ_REDACT_PROMPT``), every text-bearing field — ``prompt``, chat ``messages``,
``system``, ``content``, ``text``, ``input``, completions — is replaced by its length and a
SHA-256 prefix, wherever it sits in the JSON document (so the request/response shapes of the
gateway adapters are covered too). Everything else is kept as it was, so the reason stays
visible. A message that is not JSON at all cannot be redacted field by field; it is kept as it
is, and the header says so.

>>> out, how = redact(b'{"event_id": "e1", "prompt": "secret plan", "input_tokens": "x"}')
>>> how, b"secret" in out, orjson.loads(out)["input_tokens"]
('redacted', False, 'x')
>>> orjson.loads(out)["prompt"]
{'redacted': True, 'chars': 11, 'sha256': 'c894e0fb797a'}
>>> redact(b'not json')
(b'not json', 'unparseable')
>>> redact(b'{"event_id": "e1"}')[1]
'nothing'
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

#: Keys whose values carry user or model text, at any depth.
TEXT_KEYS: frozenset[str] = frozenset({
    "prompt", "messages", "system", "system_prompt", "content", "text", "input", "inputs",
    "instructions", "completion", "completions", "output", "choices", "response_text",
    "gen_ai.prompt", "gen_ai.completion", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.system_instructions", "thinking", "arguments", "query",
})


def _marker(value: Any) -> dict[str, Any]:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]
    return {"redacted": True, "chars": len(text), "sha256": digest}


def _walk(node: Any, hits: list[int]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(key, str) and key in TEXT_KEYS and value is not None \
                    and not isinstance(value, bool | int | float):
                hits.append(1)
                out[key] = _marker(value)
            else:
                out[key] = _walk(value, hits)
        return out
    if isinstance(node, list):
        return [_walk(v, hits) for v in node]
    return node


def redact(raw: bytes) -> tuple[bytes, str]:
    """``(bytes to keep, how)``; ``how`` is ``redacted``, ``nothing`` or ``unparseable``."""
    try:
        doc = orjson.loads(raw)
    except (orjson.JSONDecodeError, RecursionError):
        return raw, "unparseable"
    hits: list[int] = []
    try:
        cleaned = _walk(doc, hits)
    except RecursionError:  # pragma: no cover - orjson refuses such depth already
        return raw, "unparseable"
    if not hits:
        return raw, "nothing"
    return orjson.dumps(cleaned), "redacted"
