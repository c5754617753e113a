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


@pytest.mark.parametrize("name", ["event_id", "model"])
def test_required_strings_must_be_strings(name: str) -> None:
    assert reason_of(raw(**{name: 17})) == "wrong_type"


def test_numeric_customer_id_is_stringified() -> None:
    assert decode_event(raw(customer_id=17)).customer_id == "17"
    assert decode_event(raw(customer_id=17)).dropped == ()
    for bad in (True, 1.5, ["c"], {"id": 1}):
        assert reason_of(raw(customer_id=bad)) == "wrong_type"


@pytest.mark.parametrize("ts", [
    "2026-03-02T00:00:00Z",
    "2026-03-02T00:00:00z",
    "2026-03-02T00:00:00+00:00",
    "2026-03-02T01:30:00+01:30",
    "2026-03-01T19:00:00-05:00",
    "2026-03-02T00:00:00.000Z",
    T0_MS,
    T0_MS // 1000,  # epoch seconds
    float(T0_MS // 1000),
    T0_MS * 1000,  # epoch microseconds
    T0_MS * 1_000_000,  # epoch nanoseconds
    str(T0_MS), str(T0_MS // 1000), str(T0_MS * 1000), f"{T0_MS // 1000}.000",
])
def test_rfc3339_with_any_offset_and_epoch_ms_give_the_same_event_time(ts: Any) -> None:
    assert decode_event(raw(ts=ts)).ts_ms == T0_MS


def test_sub_second_precision_is_kept_in_milliseconds() -> None:
    assert decode_event(raw(ts="2026-03-02T00:00:00.250Z")).ts_ms == T0_MS + 250
    assert decode_event(raw(ts="2026-03-02T02:00:00.250+02:00")).ts_ms == T0_MS + 250
    assert decode_event(raw(ts=T0_MS + 250)).ts_ms == T0_MS + 250
    assert decode_event(raw(ts=(T0_MS + 250) / 1000)).ts_ms == T0_MS + 250
    assert decode_event(raw(ts=(T0_MS + 250) * 1000 + 999)).ts_ms == T0_MS + 250
    assert decode_event(raw(ts=str((T0_MS + 250) * 1_000_000))).ts_ms == T0_MS + 250


@pytest.mark.parametrize(("value", "unit_ms"), [
    # just below / at each magnitude threshold, read in the unit the docs promise
    (99_999_999_999, 1000), (100_000_000_000, 1),
    (99_999_999_999_999, 1), (100_000_000_000_000, 0.001),
])
def test_epoch_unit_thresholds(value: int, unit_ms: float) -> None:
    from streamer.core.events import epoch_to_ms

    assert epoch_to_ms(value) == round(value * unit_ms)


@pytest.mark.parametrize("ts", [
    "2026-03-02T00:00:00",  # naive: which zone? rejected rather than guessed
    "2026-03-02 00:00:00",
    "2026-03-02T00:00:00.123",
])
def test_naive_timestamps_are_rejected(ts: str) -> None:
    assert reason_of(raw(ts=ts)) == "bad_timestamp"


@pytest.mark.parametrize("ts", [
    "yesterday", "", True, False, [T0_MS], {"ms": T0_MS},
    123,  # epoch seconds of 1970: outside the plausible range
    T0_MS * 10**7,  # beyond nanoseconds of 2100
    -T0_MS, "12:00", "2026-13-45T00:00:00Z", "1772409600abc",
])
def test_malformed_or_implausible_timestamps_are_rejected(ts: Any) -> None:
    assert reason_of(raw(ts=ts)) == "bad_timestamp"


def test_naive_account_created_at_is_dropped() -> None:
    ev = decode_event(raw(account={"created_at": "2025-01-01T00:00:00"}))
    assert ev.account.created_at_ms is None
    assert ev.dropped == (("account.created_at", "bad_timestamp"),)


OPTIONAL_COUNTS = ("max_tokens", "n", "top_logprobs", "logit_bias_count", "reasoning_tokens",
                   "tool_count")


@pytest.mark.parametrize("name", ["input_tokens", "output_tokens"])
def test_negative_required_token_counts_are_rejected(name: str) -> None:
    assert reason_of(raw(**{name: -1})) == "negative_value"


@pytest.mark.parametrize("name", OPTIONAL_COUNTS)
def test_negative_optional_counts_are_dropped_and_counted(name: str) -> None:
    ev = decode_event(raw(**{name: -1}))
    assert getattr(ev, name) is None
    assert ev.dropped == ((name, "negative_value"),)


@pytest.mark.parametrize("name", ["input_tokens", "output_tokens"])
@pytest.mark.parametrize("value", [True, False, 2.5, "12.5", "-3", "1_000", "twelve", [12]])
def test_unreadable_required_token_counts_are_wrong_type(name: str, value: Any) -> None:
    assert reason_of(raw(**{name: value})) == "wrong_type"


@pytest.mark.parametrize("name", ["max_tokens", *OPTIONAL_COUNTS])
@pytest.mark.parametrize("value", [True, 2.5, "12.5", "twelve", [12]])
def test_unreadable_optional_counts_are_dropped(name: str, value: Any) -> None:
    ev = decode_event(raw(**{name: value}))
    assert getattr(ev, name) is None and ev.dropped == ((name, "wrong_type"),)


@pytest.mark.parametrize("name", ["input_tokens", "output_tokens", *OPTIONAL_COUNTS])
@pytest.mark.parametrize(("value", "expected"), [("12", 12), (" 7 ", 7), ("0", 0), (12.0, 12)])
def test_numeric_strings_are_token_counts(name: str, value: Any, expected: int) -> None:
    ev = decode_event(raw(**{name: value}))
    assert getattr(ev, name) == expected and type(getattr(ev, name)) is int
    assert ev.dropped == ()


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
    ("logprobs", "maybe", "wrong_type"),
    ("logprobs", -1, "negative_value"),
    ("logprobs", [True], "wrong_type"),
    ("stream", "sometimes", "wrong_type"),
    ("stream", 2, "wrong_type"),
    ("prompt", 42, "wrong_type"),
    ("client", "1.2.3.4", "wrong_type"),
    ("account", [1], "wrong_type"),
    ("prompt_simhash", "xyz", "bad_simhash"),
    ("prompt_simhash", "0123456789abcdeg", "bad_simhash"),
    ("prompt_simhash", "0123", "bad_simhash"),
    ("prompt_simhash", 12345, "bad_simhash"),
    ("status", True, "wrong_type"),
    ("status", 42, "out_of_range"),
    ("status", {"code": 2}, "wrong_type"),
    ("logit_bias", [[50256, -100]], "wrong_type"),
    ("api_key_id", 7, "wrong_type"),
    ("stop_reason", "x" * 513, "field_too_long"),
])
def test_unreadable_optional_fields_are_dropped_and_counted_not_dead_lettered(
        name: str, value: Any, reason: str) -> None:
    ev = decode_event(raw(**{name: value}))
    assert ev.dropped == ((name, reason),)
    # everything else of the event survives
    assert (ev.event_id, ev.ts_ms, ev.customer_id, ev.input_tokens) == ("evt-1", T0_MS, "cust-1",
                                                                         12)


@pytest.mark.parametrize(("nested", "field"), [
    ({"client": {"user_agent": 5}}, "client.user_agent"),
    ({"client": {"ip": ["1.2.3.4"]}}, "client.ip"),
    ({"account": {"created_at": True}}, "account.created_at"),
    ({"account": {"country": 31}}, "account.country"),
])
def test_unreadable_nested_fields_are_dropped_with_their_path(nested: dict[str, Any],
                                                              field: str) -> None:
    ev = decode_event(raw(**nested))
    assert [f for f, _ in ev.dropped] == [field]


def test_several_drops_are_all_recorded_and_carry_no_values() -> None:
    secret = "s3cr3t-value-9f2"
    ev = decode_event(raw(temperature=secret, stream=secret, client={"tls_fingerprint": 5},
                          prompt_simhash=secret))
    assert sorted(ev.dropped) == [("client.tls_fingerprint", "wrong_type"),
                                  ("prompt_simhash", "bad_simhash"), ("stream", "wrong_type"),
                                  ("temperature", "wrong_type")]
    assert secret not in repr(ev.dropped)


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
               raw(customer_id=True), raw(customer_id=1.5), raw(model=["m"]),
               raw(ts={"seconds": 1})]
    for data in garbage:
        with pytest.raises(InvalidEvent):
            decode_event(data)


@pytest.mark.parametrize(("name", "limit"), [("event_id", 256), ("customer_id", 256),
                                             ("model", 256)])
def test_overlong_identifiers_are_rejected(name: str, limit: int) -> None:
    assert getattr(decode_event(raw(**{name: "x" * limit})), name) == "x" * limit
    assert reason_of(raw(**{name: "x" * (limit + 1)})) == "field_too_long"


def test_overlong_prompt_is_dropped() -> None:
    from streamer.core.events import MAX_PROMPT_CHARS

    assert decode_event(raw(prompt="a" * MAX_PROMPT_CHARS)).prompt == "a" * MAX_PROMPT_CHARS
    ev = decode_event(raw(prompt="a" * (MAX_PROMPT_CHARS + 1)))
    assert ev.prompt is None and ev.dropped == (("prompt", "field_too_long"),)


def test_asn_may_be_a_string_or_an_integer() -> None:
    assert decode_event(raw(client={"asn": "AS16509"})).client.asn == "AS16509"
    assert decode_event(raw(client={"asn": 16509})).client.asn == "16509"


@pytest.mark.parametrize("asn", [True, [16509], {"n": 16509}])
def test_asn_of_another_type_is_dropped(asn: Any) -> None:
    ev = decode_event(raw(client={"asn": asn}))
    assert ev.client.asn is None and ev.dropped == (("client.asn", "wrong_type"),)


# --- lenient forms (issue 8, section 1) ---------------------------------------------------

@pytest.mark.parametrize(("value", "status", "code"), [
    (200, "ok", 200), (201, "ok", 201), (304, "ok", 304), (429, "error", 429),
    (500, "error", 500), ("200", "ok", 200), (" 503 ", "error", 503),
    ("ok", "ok", None), ("OK", "ok", None), ("Success", "ok", None), ("succeeded", "ok", None),
    ("error", "error", None), ("failure", "error", None), ("rate_limited", "error", None),
    ("timeout", "error", None), ("unset", None, None),
])
def test_status_as_http_code_or_word_maps_to_ok_or_error_and_keeps_the_code(
        value: Any, status: str | None, code: int | None) -> None:
    ev = decode_event(raw(status=value))
    assert (ev.status, ev.status_code, ev.dropped) == (status, code, ())


def test_status_code_may_come_apart_from_status() -> None:
    ev = decode_event(raw(status_code=502))
    assert (ev.status, ev.status_code) == ("error", 502)
    ev = decode_event(raw(status="ok", status_code="200"))
    assert (ev.status, ev.status_code) == ("ok", 200)
    assert decode_event(raw(status_code="teapot")).dropped == (("status_code", "wrong_type"),)


def test_an_http_error_status_counts_as_an_error_for_the_detector() -> None:
    from streamer.core.profile import CustomerProfile as Profile

    ok = Profile().learn_one(decode_event(raw(status=200)), None)
    bad = Profile().learn_one(decode_event(raw(status="503")), None)
    assert (ok["error"], bad["error"]) == (0.0, 1.0)


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (1, True), (0, False), ("true", True), ("FALSE", False),
    ("1", True), ("0", False), ("yes", True), ("no", False), (" On ", True), ("off", False),
])
def test_boolean_strings_and_0_1_are_booleans(value: Any, expected: bool) -> None:
    ev = decode_event(raw(stream=value, logprobs=value))
    assert (ev.stream, ev.logprobs, ev.dropped) == (expected, expected, ())


@pytest.mark.parametrize(("logprobs", "top", "want"), [
    (5, None, (True, 5)), (1, None, (True, 1)), (0, None, (False, None)),
    (5, 3, (True, 3)), (True, 2, (True, 2)), ("true", None, (True, None)),
])
def test_logprobs_as_bool_or_legacy_integer(logprobs: Any, top: int | None,
                                            want: tuple[bool, int | None]) -> None:
    ev = decode_event(raw(logprobs=logprobs, top_logprobs=top))
    assert (ev.logprobs, ev.top_logprobs) == want


def test_openai_logit_bias_map_size_is_the_count() -> None:
    assert decode_event(raw(logit_bias={"50256": -100, "1234": 5})).logit_bias_count == 2
    assert decode_event(raw(logit_bias={})).logit_bias_count == 0
    # the project's own count wins when both are given
    assert decode_event(raw(logit_bias={"1": 1}, logit_bias_count=7)).logit_bias_count == 7


def test_logit_bias_map_feeds_the_logit_bias_signal() -> None:
    from streamer.core.profile import CustomerProfile as Profile

    x = Profile().learn_one(decode_event(raw(logit_bias={"50256": -100})), None)
    assert x["logit_bias"] == 1.0


CHAT = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": [{"type": "text", "text": "second"},
                                 {"type": "image_url", "image_url": {"url": "x"}},
                                 {"type": "text", "text": "question"}]},
]


def test_prompt_as_chat_messages_uses_the_last_user_turn_and_hashes_the_system_turn() -> None:
    from streamer.core.events import system_prompt_hash_of

    ev = decode_event(raw(prompt=CHAT))
    assert ev.prompt == "second\nquestion"
    assert ev.system_prompt_hash == system_prompt_hash_of("You are a terse assistant.")
    assert ev.dropped == ()
    # the same from a top-level ``messages`` field, and a given hash wins
    assert decode_event(raw(messages=CHAT)).prompt == "second\nquestion"
    assert decode_event(raw(messages=CHAT, system_prompt_hash="sp1")).system_prompt_hash == "sp1"
    # a developer turn (OpenAI's newer name) counts as the system prompt
    dev = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert decode_event(raw(prompt=dev)).system_prompt_hash == system_prompt_hash_of("Be brief.")


def test_chat_messages_without_a_readable_user_turn() -> None:
    only_assistant = decode_event(raw(prompt=[{"role": "assistant", "content": "hi"}]))
    assert only_assistant.prompt is None and only_assistant.dropped == ()
    garbage = decode_event(raw(prompt=[1, "two", None]))
    assert garbage.prompt is None and garbage.dropped == (("prompt", "bad_messages"),)
    image_only = decode_event(raw(prompt=[{"role": "user", "content": [{"type": "image_url"}]}]))
    assert image_only.prompt is None


def test_prompt_text_from_messages_never_appears_in_repr() -> None:
    secret = "confidential words 77ab"
    ev = decode_event(raw(messages=[{"role": "system", "content": secret},
                                    {"role": "user", "content": secret}]))
    assert ev.prompt == secret and secret not in repr(ev)


def test_required_field_errors_name_the_field() -> None:
    for obj, field in [({**BASE, "input_tokens": "x"}, "input_tokens"),
                       ({**BASE, "ts": "soon"}, "ts"), ({**BASE, "customer_id": ""},
                                                         "customer_id")]:
        with pytest.raises(InvalidEvent) as info:
            event_from_dict(obj)
        assert info.value.field == field


# --- the JSON Schema lists every accepted form ---------------------------------------------

ACCEPTED_FORMS: list[dict[str, Any]] = [
    {"status": 200}, {"status": "429"}, {"status": "success"}, {"status_code": 503},
    {"ts": T0_MS // 1000}, {"ts": T0_MS * 1000}, {"ts": T0_MS * 1_000_000},
    {"ts": str(T0_MS)}, {"ts": 1772409600.25},
    {"input_tokens": "12"}, {"output_tokens": "34"}, {"max_tokens": "1"}, {"n": "2"},
    {"top_logprobs": 5}, {"logprobs": 5}, {"logprobs": "true"}, {"stream": "false"},
    {"stream": 1}, {"prompt": CHAT}, {"messages": CHAT}, {"customer_id": 42},
    {"logit_bias": {"50256": -100}}, {"account": {"created_at": T0_MS // 1000}},
]


@pytest.mark.parametrize("form", ACCEPTED_FORMS, ids=lambda f: next(iter(f)))
def test_each_accepted_form_is_in_the_schema_and_decodes_without_drops(
        form: dict[str, Any]) -> None:
    import jsonschema

    from streamer.schemas import load

    obj = {**BASE, **form}
    jsonschema.Draft202012Validator(load("inference-event")).validate(obj)
    assert decode_event(orjson.dumps(obj)).dropped == ()


@pytest.mark.parametrize("form", [{"status": True}, {"stream": "sometimes"},
                                  {"input_tokens": "12.5"}, {"logprobs": -1},
                                  {"customer_id": True}])
def test_the_schema_rejects_what_the_decoder_cannot_read(form: dict[str, Any]) -> None:
    import jsonschema

    from streamer.schemas import load

    assert not jsonschema.Draft202012Validator(load("inference-event")).is_valid(
        {**BASE, **form})
