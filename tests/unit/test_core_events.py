"""The input contract: decoding and validating one inference event (``streamer.core.events``).

Every rejection is an :class:`InvalidEvent` whose ``reason`` is what the dead-letter record
carries, so the reason codes are part of the contract and are checked exactly.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamer.core.events import (
    MAX_EVENT_BYTES,
    AccountInfo,
    ClientInfo,
    InferenceEvent,
    decode_event,
    event_from_dict,
)
from streamer.errors import InvalidEvent

# 2026-03-02T00:00:00Z
T0_MS = 1_772_409_600_000
BASE: dict[str, Any] = {
    "event_id": "evt-1",
    "ts": "2026-03-02T00:00:00Z",
    "customer_id": "cust-1",
    "model": "model-a",
    "input_tokens": 12,
    "output_tokens": 34,
}
REQUIRED = ("event_id", "ts", "customer_id", "model", "input_tokens", "output_tokens")


def raw(**overrides: Any) -> bytes:
    return orjson.dumps({**BASE, **overrides})


def reason_of(data: bytes, **kw: Any) -> str:
    with pytest.raises(InvalidEvent) as info:
        decode_event(data, **kw)
    assert not isinstance(info.value.reason, bool) and info.value.reason
    return info.value.reason


def test_minimal_event_decodes_with_all_required_fields() -> None:
    ev = decode_event(raw())
    assert isinstance(ev, InferenceEvent)
    assert (ev.event_id, ev.ts_ms, ev.customer_id, ev.model) == ("evt-1", T0_MS, "cust-1",
                                                                  "model-a")
    assert (ev.input_tokens, ev.output_tokens) == (12, 34)
    # Optional fields default to "unknown", nested objects to empty ones.
    assert ev.prompt is None and ev.prompt_simhash is None and ev.max_tokens is None
    assert ev.client == ClientInfo() and ev.account == AccountInfo()


@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_field_missing_is_rejected(name: str) -> None:
    obj = {k: v for k, v in BASE.items() if k != name}
    assert reason_of(orjson.dumps(obj)) == "missing_field"


@pytest.mark.parametrize("name", REQUIRED)
def test_each_required_field_null_is_rejected(name: str) -> None:
    assert reason_of(raw(**{name: None})) == "missing_field"


@pytest.mark.parametrize("name", ["event_id", "customer_id", "model"])
def test_empty_required_strings_are_rejected(name: str) -> None:
    assert reason_of(raw(**{name: ""})) == "empty_field"


@pytest.mark.parametrize("name", ["event_id", "customer_id", "model"])
def test_required_strings_must_be_strings(name: str) -> None:
    assert reason_of(raw(**{name: 17})) == "wrong_type"


@pytest.mark.parametrize("ts", [
    "2026-03-02T00:00:00Z",
    "2026-03-02T00:00:00z",
    "2026-03-02T00:00:00+00:00",
    "2026-03-02T01:30:00+01:30",
    "2026-03-01T19:00:00-05:00",
    "2026-03-02T00:00:00.000Z",
    T0_MS,
])
def test_rfc3339_with_any_offset_and_epoch_ms_give_the_same_event_time(ts: Any) -> None:
    assert decode_event(raw(ts=ts)).ts_ms == T0_MS


def test_sub_second_precision_is_kept_in_milliseconds() -> None:
    assert decode_event(raw(ts="2026-03-02T00:00:00.250Z")).ts_ms == T0_MS + 250
    assert decode_event(raw(ts="2026-03-02T02:00:00.250+02:00")).ts_ms == T0_MS + 250
    assert decode_event(raw(ts=T0_MS + 250)).ts_ms == T0_MS + 250


@pytest.mark.parametrize("ts", [
    "2026-03-02T00:00:00",  # naive: which zone? rejected rather than guessed
    "2026-03-02 00:00:00",
    "2026-03-02T00:00:00.123",
])
def test_naive_timestamps_are_rejected(ts: str) -> None:
    assert reason_of(raw(ts=ts)) == "bad_timestamp"


@pytest.mark.parametrize("ts", [
    "yesterday", "", True, False, [T0_MS], {"ms": T0_MS},
    123,  # epoch seconds-ish / 1970: outside the plausible range
    T0_MS * 1000,  # epoch microseconds: far in the future
])
def test_malformed_or_implausible_timestamps_are_rejected(ts: Any) -> None:
    assert reason_of(raw(ts=ts)) == "bad_timestamp"


def test_naive_account_created_at_is_rejected_too() -> None:
    assert reason_of(raw(account={"created_at": "2025-01-01T00:00:00"})) == "bad_timestamp"


@pytest.mark.parametrize("name", ["input_tokens", "output_tokens", "max_tokens", "n",
                                  "top_logprobs", "logit_bias_count", "reasoning_tokens",
                                  "tool_count"])
def test_negative_token_counts_are_rejected(name: str) -> None:
    assert reason_of(raw(**{name: -1})) == "negative_value"


@pytest.mark.parametrize("name", ["input_tokens", "output_tokens", "max_tokens"])
@pytest.mark.parametrize("value", [True, False, 2.5, "12", [12]])
def test_bool_fractional_and_string_token_counts_are_wrong_type(name: str, value: Any) -> None:
    assert reason_of(raw(**{name: value})) == "wrong_type"


def test_integral_float_token_counts_are_accepted_as_integers() -> None:
    ev = decode_event(raw(input_tokens=12.0, output_tokens=0.0))
    assert (ev.input_tokens, ev.output_tokens) == (12, 0)
    assert isinstance(ev.input_tokens, int) and not isinstance(ev.input_tokens, bool)


def test_zero_tokens_are_valid() -> None:
    ev = decode_event(raw(input_tokens=0, output_tokens=0))
    assert (ev.input_tokens, ev.output_tokens) == (0, 0)


def test_implausibly_large_token_counts_are_rejected() -> None:
    assert reason_of(raw(input_tokens=10**12)) == "out_of_range"


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("temperature", -0.5, "out_of_range"),
    ("temperature", "hot", "wrong_type"),
    ("temperature", True, "wrong_type"),
    ("top_p", -1, "out_of_range"),
    ("latency_ms", -3.0, "out_of_range"),
    ("logprobs", 1, "wrong_type"),
    ("logprobs", "true", "wrong_type"),
    ("stream", 0, "wrong_type"),
    ("prompt", 42, "wrong_type"),
    ("client", "1.2.3.4", "wrong_type"),
    ("account", [1], "wrong_type"),
    ("prompt_simhash", "xyz", "bad_simhash"),
    ("prompt_simhash", "0123456789abcdeg", "bad_simhash"),
    ("prompt_simhash", "0123", "bad_simhash"),
])
def test_optional_fields_are_validated_with_a_reason(name: str, value: Any, reason: str) -> None:
    assert reason_of(raw(**{name: value})) == reason


def test_not_utf8_is_rejected() -> None:
    data = raw(prompt="caf\u00e9").replace("é".encode(), b"\xff\xfe")
    assert reason_of(data) == "not_utf8"


@pytest.mark.parametrize("data", [b"", b"{", b'{"event_id": }', b"\x00\x01", b"{'a': 1}"])
def test_invalid_json_is_rejected(data: bytes) -> None:
    assert reason_of(data) == "bad_json"


@pytest.mark.parametrize("value", [[BASE], "an event", 42, None, True])
def test_json_that_is_not_an_object_is_rejected(value: Any) -> None:
    assert reason_of(orjson.dumps(value)) == "not_an_object"


def test_oversize_messages_are_rejected_before_parsing() -> None:
    assert reason_of(b"x" * (MAX_EVENT_BYTES + 1)) == "oversize"
    data = raw(prompt="p" * 500)
    assert reason_of(data, max_bytes=len(data) - 1) == "oversize"
    assert decode_event(data, max_bytes=len(data)).prompt == "p" * 500


def test_unknown_fields_are_ignored() -> None:
    ev = decode_event(raw(future_field={"x": 1}, another=[1, 2], client={"ip": "10.0.0.1",
                                                                         "new_thing": 3}))
    assert ev == decode_event(raw(client={"ip": "10.0.0.1"}))


def test_optional_scalars_are_parsed() -> None:
    ev = decode_event(raw(api_key_id="k1", endpoint="/v1/chat", max_tokens=1, temperature=0.7,
                          top_p=1, n=3, logprobs=True, top_logprobs=5, logit_bias_count=2,
                          reasoning_tokens=7, stop_reason="length", status="ok",
                          latency_ms=123.5, stream=False, tool_count=4,
                          prompt_simhash="00000000000000FF", system_prompt_hash="sp1"))
    assert (ev.api_key_id, ev.endpoint, ev.max_tokens, ev.n) == ("k1", "/v1/chat", 1, 3)
    assert ev.temperature == 0.7 and ev.top_p == 1.0 and isinstance(ev.top_p, float)
    assert (ev.logprobs, ev.top_logprobs, ev.logit_bias_count) == (True, 5, 2)
    assert (ev.reasoning_tokens, ev.stop_reason, ev.status) == (7, "length", "ok")
    assert (ev.latency_ms, ev.stream, ev.tool_count) == (123.5, False, 4)
    assert ev.prompt_simhash == 255 and ev.system_prompt_hash == "sp1"


def test_nested_client_and_account_are_parsed() -> None:
    ev = decode_event(raw(
        client={"ip": "203.0.113.9", "asn": 16509, "user_agent": "python-requests/2.31",
                "tls_fingerprint": "ja3:abc"},
        account={"created_at": "2026-03-01T00:00:00+00:00", "payment_fingerprint": "pf-9",
                 "country": "NL", "signup_channel": "free_trial"},
    ))
    assert ev.client == ClientInfo(ip="203.0.113.9", asn="16509",
                                   user_agent="python-requests/2.31", tls_fingerprint="ja3:abc")
    assert ev.account == AccountInfo(created_at_ms=T0_MS - 86_400_000, payment_fingerprint="pf-9",
                                     country="NL", signup_channel="free_trial")
    # created_at accepts epoch ms as well, and the two forms agree.
    assert decode_event(raw(account={"created_at": T0_MS - 86_400_000})).account.created_at_ms \
        == T0_MS - 86_400_000


def test_null_nested_objects_mean_unknown() -> None:
    ev = decode_event(raw(client=None, account=None))
    assert ev.client == ClientInfo() and ev.account == AccountInfo()


def test_prompt_never_appears_in_repr_or_str() -> None:
    secret = "my very secret prompt text 8c1f"
    ev = decode_event(raw(prompt=secret))
    assert ev.prompt == secret  # kept in memory for fingerprints and markers ...
    assert secret not in repr(ev) and secret not in str(ev)  # ... but never shown
    assert "8c1f" not in repr(ev)


def test_event_from_dict_agrees_with_decode_event() -> None:
    obj = {**BASE, "prompt": "hello", "client": {"asn": "AS1"}}
    assert event_from_dict(obj) == decode_event(orjson.dumps(obj))
    with pytest.raises(InvalidEvent) as info:
        event_from_dict({**BASE, "output_tokens": -5})
    assert info.value.reason == "negative_value"


def test_invalid_event_is_the_only_exception_for_garbage() -> None:
    garbage = [b"\xff", b"[]", b"null", b"{}", raw(ts=None), raw(input_tokens=[]),
               raw(prompt_simhash=12345), raw(client={"user_agent": 5}),
               raw(account={"created_at": True})]
    for data in garbage:
        with pytest.raises(InvalidEvent):
            decode_event(data)


@pytest.mark.parametrize(("name", "limit"), [("event_id", 256), ("customer_id", 256),
                                             ("model", 256)])
def test_overlong_identifiers_are_rejected(name: str, limit: int) -> None:
    assert getattr(decode_event(raw(**{name: "x" * limit})), name) == "x" * limit
    assert reason_of(raw(**{name: "x" * (limit + 1)})) == "field_too_long"


def test_overlong_prompt_is_rejected() -> None:
    from streamer.core.events import MAX_PROMPT_CHARS

    assert decode_event(raw(prompt="a" * MAX_PROMPT_CHARS)).prompt == "a" * MAX_PROMPT_CHARS
    assert reason_of(raw(prompt="a" * (MAX_PROMPT_CHARS + 1))) == "field_too_long"


def test_asn_may_be_a_string_or_an_integer() -> None:
    assert decode_event(raw(client={"asn": "AS16509"})).client.asn == "AS16509"
    assert decode_event(raw(client={"asn": 16509})).client.asn == "16509"


@pytest.mark.parametrize("asn", [True, [16509], {"n": 16509}])
def test_asn_of_another_type_is_rejected(asn: Any) -> None:
    assert reason_of(raw(client={"asn": asn})) == "wrong_type"
