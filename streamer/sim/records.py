"""Compact event records and how they become event dicts of the input contract.

Generators append tuples (cheap to hold a quarter of a million of them); :func:`to_event`
turns one into the JSON object of :mod:`streamer.core.events`, omitting absent fields.

>>> import numpy as np
>>> from streamer.sim.identity import Identity
>>> ident = Identity("cus_0123456789", {"country": "US"}, [{"asn": "AS7922"}], ["key_1"])
>>> em = Emitter(ident, np.random.default_rng(0), "demo")
>>> em.emit(1772409601234, "m-1", "hello", 12, 40, endpoint="/v1/chat/completions")
>>> ev = to_event(em.records[0])
>>> ev["ts"], ev["customer_id"], ev["output_tokens"], ev["status"]
('2026-03-02T00:00:01.234Z', 'cus_0123456789', 40, 'ok')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamer.sim.identity import Identity, stable_hex, ts_string

FIELDS: tuple[str, ...] = (
    "ts_ms", "event_id", "customer_id", "model", "input_tokens", "output_tokens", "api_key_id",
    "endpoint", "max_tokens", "temperature", "top_p", "n", "logprobs", "top_logprobs",
    "logit_bias_count", "reasoning_tokens", "stop_reason", "status", "latency_ms", "stream",
    "tool_count", "prompt", "system_prompt_hash", "client", "account",
)
Record = tuple[Any, ...]


def to_event(rec: Record) -> dict[str, Any]:
    """The event dict for one record (fresh objects every call)."""
    ev: dict[str, Any] = {"event_id": rec[1], "ts": ts_string(rec[0])}
    for name, value in zip(FIELDS[2:-2], rec[2:-2], strict=True):
        if value is not None:
            ev[name] = value
    ev["client"] = dict(rec[-2])
    ev["account"] = dict(rec[-1])
    return ev


class Emitter:
    """Builds the records of one account, keeping token counts, limits and latency coherent."""

    def __init__(self, ident: Identity, rng: np.random.Generator, salt: str,
                 error_rate: float = 0.01, ms_per_token: float = 18.0) -> None:
        self.ident = ident
        self.rng = rng
        self.salt = salt
        self.error_rate = error_rate
        self.ms_per_token = ms_per_token
        self.records: list[Record] = []

    def emit(
        self, ts_ms: int, model: str, prompt: str | None, input_tokens: int, output_tokens: int,
        *, endpoint: str, client: int | None = None, api_key: int | None = None,
        max_tokens: int | None = None, temperature: float | None = None,
        top_p: float | None = None, n: int | None = None, logprobs: bool | None = None,
        top_logprobs: int | None = None, logit_bias_count: int | None = None,
        reasoning_tokens: int | None = None, stop_reason: str | None = "stop",
        stream: bool | None = None, tool_count: int | None = None,
        system_prompt: int | None = None,
    ) -> None:
        """Append one request/response; ``output_tokens`` is per choice before clipping."""
        rng = self.rng
        ident = self.ident
        choices = n or 1
        out = max(1, int(output_tokens))
        reasoning = reasoning_tokens
        if max_tokens is not None and out >= max_tokens:
            out = max_tokens
            if stop_reason == "stop":
                stop_reason = "length"
        status = "ok"
        if rng.random() < self.error_rate:
            status, out, reasoning, stop_reason = "error", 0, 0 if reasoning else None, None
        total_out = out * choices
        think = reasoning or 0
        latency = float(rng.lognormal(np.log(250.0), 0.35)) + 0.04 * input_tokens
        latency += (total_out / max(1.0, choices ** 0.5) + think) * self.ms_per_token
        latency *= float(rng.lognormal(0.0, 0.15))
        if status == "error":
            latency = float(rng.lognormal(np.log(120.0), 0.5))
        seq = len(self.records)
        self.records.append((
            int(ts_ms),
            "evt_" + stable_hex(self.salt, ident.customer_id, seq, n=20),
            ident.customer_id,
            model,
            int(input_tokens),
            int(total_out),
            ident.api_keys[api_key if api_key is not None
                           else int(rng.integers(0, len(ident.api_keys)))],
            endpoint, max_tokens,
            None if temperature is None else round(float(temperature), 2),
            None if top_p is None else round(float(top_p), 2),
            n, logprobs, top_logprobs, logit_bias_count,
            None if reasoning is None else int(reasoning),
            stop_reason, status, round(latency, 1), stream, tool_count, prompt,
            ident.system_prompts[system_prompt if system_prompt is not None
                                 else int(rng.integers(0, len(ident.system_prompts)))],
            ident.clients[client if client is not None
                          else int(rng.integers(0, len(ident.clients)))],
            ident.account,
        ))


def prompt_tokens(text: str | None) -> int:
    """Rough token count of a text (about four characters a token)."""
    return 1 if not text else max(1, len(text) // 4)
