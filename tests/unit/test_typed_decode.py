"""The typed fast path returns exactly what the general decode returns, whenever it answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from streamer.core.events import decode_event, decode_general, parse_ts
from streamer.core.formats.common import NATIVE_FIELDS
from streamer.core.typed_decode import fast_event
from streamer.errors import InvalidEvent
from streamer.sim import simulate

FUZZ = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: a canonical native event with every field set: the fast path's home ground
FULL: dict[str, Any] = {
    "event_id": "evt_1", "ts": "2026-03-02T10:11:12.345Z", "customer_id": "cus_1",
    "model": "atlas-2", "input_tokens": 120, "output_tokens": 40, "api_key_id": "key_1",
    "endpoint": "/v1/chat/completions", "max_tokens": 256, "temperature": 0.7, "top_p": 1,
    "n": 1, "logprobs": True, "top_logprobs": 5, "logit_bias": {"50256": -100},
    "reasoning_tokens": 0, "stop_reason": "stop", "status": 200, "latency_ms": 812.5,
    "stream": False, "tool_count": 0, "prompt": "Explain, step by step: why is the sky blue?",
    "prompt_simhash": "00ff00ff00ff00ff", "system_prompt_hash": "32c0a5aa48c8eb43",
    "client": {"ip": "10.0.0.1", "asn": 16509, "user_agent": "openai-python/1.40",
               "tls_fingerprint": "abc"},
    "account": {"created_at": 1767225600, "payment_fingerprint": "pf", "country": "DE",
                "signup_channel": "web"},
}

#: canonical and hostile values: every type, the edges of each range, lenient forms
VALUES = (st.none() | st.booleans()
          | st.integers(min_value=-(2**70), max_value=2**70)
          | st.sampled_from([0, 1, 5, 200, 429, 599, 600, 10**9, 10**9 + 1, -1, 2**63, 2**64,
                             1772409600, 1772409600000, 1772409600000000, 1772409600000000000])
          | st.floats(allow_nan=False, allow_infinity=False)
          | st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e308, -1e-9])
          | st.text(max_size=24)
          | st.sampled_from(["200", "ok", "error", "true", "1", "yes", "",
                             "2026-03-02T00:00:00Z", "2026-03-02T00:00:00.5Z",
                             "2026-02-30T00:00:00Z", "2026-03-02T00:00:00+01:00",
                             "1772409600", "00ff00ff00ff00ff", "0x0000000000000f",
                             "zzzzzzzzzzzzzzzz", "user", "system"])
          | st.sampled_from([64, 65, 256, 257, 512, 513, 1024, 1025]).map(lambda n: "x" * n)
          | st.lists(st.integers() | st.text(max_size=5), max_size=3)
          | st.dictionaries(st.sampled_from(["ip", "asn", "created_at", "country", "role",
                                             "content", "x"]),
                            st.none() | st.integers() | st.text(max_size=8) | st.booleans(),
                            max_size=4))
KEYS = sorted(NATIVE_FIELDS | {"messages", "request", "response", "attributes", "call_type",
                               "standard_logging_object", "gen_ai.request.model", "extra"})
NESTED = {"client": ["ip", "asn", "user_agent", "tls_fingerprint"],
          "account": ["created_at", "payment_fingerprint", "country", "signup_channel"]}


def _general(raw: bytes) -> Any:
    try:
        return decode_general(raw)
    except InvalidEvent as err:
        return err.reason


def _check(raw: bytes) -> bool:
    """The fast path agrees with the general decode; whether it answered."""
    fast = fast_event(raw)
    if fast is not None:
        general = _general(raw)
        assert fast == general, (raw, fast, general)
        assert general.dropped == ()  # a drop always takes the general path
    return fast is not None


def test_a_canonical_event_with_every_field_takes_the_fast_path() -> None:
    raw = orjson.dumps(FULL)
    assert _check(raw)
    ev = decode_event(raw)
    assert (ev.logit_bias_count, ev.status, ev.status_code, ev.client.asn) == (1, "ok", 200,
                                                                                 "16509")
    assert ev.account.created_at_ms == 1767225600000 and ev.top_p == 1.0


@pytest.mark.parametrize("scenario", ["smoke", "day", "hydra"])
def test_the_simulators_events_take_the_fast_path_and_decode_the_same(scenario: str) -> None:
    events = list(simulate(scenario, 0).events())[:3000]
    answered = sum(_check(orjson.dumps(e)) for e in events)
    assert answered == len(events)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), VALUES | st.just(...)
                      | st.sampled_from([v for v in FULL.values() if not isinstance(v, dict)]),
                      max_size=4),
       st.sampled_from(sorted(NESTED)), st.dictionaries(st.sampled_from(
           NESTED["client"] + NESTED["account"] + ["x"]), VALUES, max_size=3))
def test_changed_fields_give_the_same_event_or_the_general_path(
        changes: dict[str, Any], nested: str, inner: dict[str, Any]) -> None:
    obj = {**FULL, **changes}
    if nested not in changes:
        obj[nested] = {**FULL[nested], **inner}
    for key, value in list(obj.items()):
        if value is ...:  # the field left out
            del obj[key]
    event("fast path" if _check(json.dumps(obj).encode()) else "general path")


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=10))
def test_arbitrary_objects_give_the_same_event_or_the_general_path(obj: dict[str, Any]) -> None:
    _check(json.dumps(obj).encode())  # (json: integers past 64 bits too)


#: each field's edges: the boundaries of every limit, every JSON type, the lenient forms
EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 5, 100, 200, 429, 599, 600, 10**9, 10**9 + 1, 2**63, 2**64,
    2**70, 1772409600, 1772409600000, 1772409600000000, 0.0, -0.0, 1.5, 3.0, -1e-9, 1e308,
    "", "0", "1", "200", "ok", "error", "true", "no", "2026-03-02T00:00:00Z",
    "2026-03-02T00:00:00.5Z", "2026-03-02T00:00:00+01:00", "2026-02-30T00:00:00Z",
    "1772409600", "00ff00ff00ff00ff", "zzzzzzzzzzzzzzzz", "00ff00ff00ff00f",
    *("x" * n for n in (64, 65, 256, 257, 512, 513, 1024, 1025)),
    [], ["a"], [{"role": "user", "content": "hi"}], {}, {"a": 1}, ...,
]


def test_every_fields_edges_give_the_same_event_or_the_general_path() -> None:
    answered = 0
    for key in [*KEYS, *(f"{n}.{k}" for n, ks in NESTED.items() for k in ks)]:
        for value in EDGES:
            obj = {**FULL, "client": dict(FULL["client"]), "account": dict(FULL["account"])}
            target, _, name = key.rpartition(".") if key.count(".") == 1 else ("", "", key)
            where = obj[target] if target else obj
            if value is ...:
                where.pop(name, None)
            else:
                where[name] = value
            answered += _check(json.dumps(obj).encode())
    assert answered > 300  # the canonical edges do take the fast path


def test_a_duplicated_key_means_its_last_value_on_both_paths() -> None:
    raw = orjson.dumps(FULL)[:-1] + b',"input_tokens":7}'
    assert _check(raw) and decode_event(raw).input_tokens == 7


@FUZZ
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
       st.sampled_from(["ms", "s", "us"]))
def test_utc_times_in_the_common_shape_parse_to_the_general_result(
        when: datetime, precision: str) -> None:
    when = when.replace(tzinfo=UTC)
    text = when.isoformat(timespec={"ms": "milliseconds", "s": "seconds",
                                    "us": "microseconds"}[precision]).replace("+00:00", "Z")
    expected = round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    assert parse_ts(text) == expected
    assert parse_ts(text.replace("Z", "+00:00")) == expected


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-03-02T24:00:00Z",
                                  "2026-03-02T00:60:00Z", "2026-03-02T00:00:60Z",
                                  "1999-12-31T23:59:59.999Z", "2100-01-01T00:00:00.001Z"])
def test_impossible_or_out_of_range_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_ts(text)
