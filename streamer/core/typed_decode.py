"""A typed fast path for native events: msgspec decodes and checks the canonical forms at once.

:func:`~streamer.core.events.decode_event` tries this first. A message in the native contract
written in its canonical forms (strings as strings, counts as integers in range, booleans as
booleans, ``prompt`` a string, no field of another input format) is decoded here in one pass
of msgspec's typed decoder, about five times cheaper than parsing to a dict and validating it
field by field. Anything else -- a lenient form (``"status": 200`` is fine here, ``"stream":
"true"`` is not), an adapter's shape, an optional field that must be dropped, a message that
must be dead-lettered -- makes :func:`fast_event` return ``None``, and the general path decides.

The contract: **whenever the fast path returns an event, it is equal to what the general path
returns** for the same bytes (``tests/unit/test_typed_decode.py`` checks this on the simulator's
streams and on generated messages of every field type). The one difference is outside that
contract: msgspec also reads a few messages orjson refuses as a whole (a number too large for a
double in a field the contract does not know), and accepts them.

>>> ev = fast_event(b'{"event_id":"e1","ts":1767225600000,"customer_id":"c1","model":"m",'
...                 b'"input_tokens":10,"output_tokens":20,"prompt":"hi","status":200}')
>>> ev.ts_ms, ev.prompt, ev.status, ev.status_code
(1767225600000, 'hi', 'ok', 200)
>>> fast_event(b'{"event_id":"e1","ts":1767225600000,"customer_id":"c1","model":"m",'
...            b'"input_tokens":10,"output_tokens":"20"}') is None  # numeric string: general path
True
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from streamer.core.events import (
    AccountInfo,
    ClientInfo,
    Drops,
    InferenceEvent,
    parse_ts,
    status_of,
)
from streamer.errors import InvalidEvent

_MAX_COUNT = 10**9
#: the integers orjson reads as integers (beyond them it reads a float)
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1

Required = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Count = Annotated[int, msgspec.Meta(ge=0, le=_MAX_COUNT)]
Text = Annotated[str, msgspec.Meta(max_length=512)]
Rate = Annotated[float, msgspec.Meta(ge=0)]
Absent = msgspec.UnsetType


class _Client(msgspec.Struct):
    ip: Text | None = None
    asn: Annotated[str, msgspec.Meta(max_length=64)] | int | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    tls_fingerprint: Text | None = None


class _Account(msgspec.Struct):
    created_at: int | float | str | None = None
    payment_fingerprint: Text | None = None
    country: Text | None = None
    signup_channel: Text | None = None


class _Native(msgspec.Struct):
    """The native contract in its canonical forms; the other formats' keys must be absent."""

    event_id: Required
    ts: int | float | str
    customer_id: Required | int
    model: Required
    input_tokens: Count
    output_tokens: Count
    api_key_id: Text | None = None
    endpoint: Text | None = None
    max_tokens: Count | None = None
    temperature: Rate | None = None
    top_p: Rate | None = None
    n: Count | None = None
    logprobs: bool | None = None
    top_logprobs: Count | None = None
    logit_bias_count: Count | None = None
    logit_bias: dict[str, Any] | None = None
    reasoning_tokens: Count | None = None
    stop_reason: Text | None = None
    status: str | int | None = None
    status_code: int | None = None
    latency_ms: Rate | None = None
    stream: bool | None = None
    tool_count: Count | None = None
    prompt: Annotated[str, msgspec.Meta(max_length=200_000)] | None = None
    prompt_simhash: Annotated[str, msgspec.Meta(min_length=16, max_length=16)] | None = None
    system_prompt_hash: Text | None = None
    client: _Client | None = None
    account: _Account | None = None
    # a chat messages list, or another input format's shape: the general path
    messages: Absent = msgspec.UNSET
    call_type: Absent = msgspec.UNSET
    standard_logging_object: Absent = msgspec.UNSET
    request: Absent = msgspec.UNSET
    response: Absent = msgspec.UNSET
    attributes: Absent = msgspec.UNSET
    gen_ai_request_model: Absent = msgspec.field(default=msgspec.UNSET,
                                                 name="gen_ai.request.model")
    gen_ai_operation_name: Absent = msgspec.field(default=msgspec.UNSET,
                                                  name="gen_ai.operation.name")


_DECODER = msgspec.json.Decoder(_Native)


def fast_event(raw: bytes) -> InferenceEvent | None:
    """The event of a canonical native message, or ``None``: the general path decides."""
    try:
        m = _DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    try:
        ts_ms = parse_ts(m.ts)
        if isinstance(m.customer_id, str):
            customer_id = m.customer_id
        elif _INT_MIN <= m.customer_id <= _INT_MAX:
            customer_id = str(m.customer_id)
        else:
            return None
        drops: Drops = []
        status, status_code = status_of({"status": m.status, "status_code": m.status_code},
                                        drops)
        if drops:
            return None
        logit_bias_count = m.logit_bias_count
        if logit_bias_count is None and m.logit_bias is not None:
            logit_bias_count = len(m.logit_bias)
        simhash = None
        if m.prompt_simhash is not None:
            simhash = int(m.prompt_simhash, 16)
        client = m.client
        account = m.account
        created_at_ms = None
        if account is not None and account.created_at is not None:
            created_at_ms = parse_ts(account.created_at, "account.created_at")
        asn_value = client.asn if client is not None else None
        asn: str | None
        if asn_value is None or isinstance(asn_value, str):
            asn = asn_value
        elif _INT_MIN <= asn_value <= _INT_MAX:
            asn = str(asn_value)
        else:
            return None
    except (InvalidEvent, ValueError):
        return None
    return InferenceEvent(
        event_id=m.event_id,
        ts_ms=ts_ms,
        customer_id=customer_id,
        model=m.model,
        input_tokens=m.input_tokens,
        output_tokens=m.output_tokens,
        api_key_id=m.api_key_id,
        endpoint=m.endpoint,
        max_tokens=m.max_tokens,
        temperature=m.temperature,
        top_p=m.top_p,
        n=m.n,
        logprobs=m.logprobs,
        top_logprobs=m.top_logprobs,
        logit_bias_count=logit_bias_count,
        reasoning_tokens=m.reasoning_tokens,
        stop_reason=m.stop_reason,
        status=status,
        latency_ms=m.latency_ms,
        stream=m.stream,
        tool_count=m.tool_count,
        prompt=m.prompt,
        prompt_simhash=simhash,
        system_prompt_hash=m.system_prompt_hash,
        client=ClientInfo(ip=client.ip, asn=asn, user_agent=client.user_agent,
                          tls_fingerprint=client.tls_fingerprint)
        if client is not None else ClientInfo(),
        account=AccountInfo(created_at_ms=created_at_ms,
                            payment_fingerprint=account.payment_fingerprint,
                            country=account.country, signup_channel=account.signup_channel)
        if account is not None else AccountInfo(),
        status_code=status_code,
    )

