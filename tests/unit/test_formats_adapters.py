"""Gateway log shapes (``streamer.core.formats``) on fixtures written from each format's docs.

Each fixture in ``tests/fixtures/formats/`` cites the document it was written from, and lists
the native fields its record must give.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamer.core.events import decode_event, system_prompt_hash_of
from streamer.core.formats import INPUT_FORMATS, check_format, detect
from streamer.errors import InvalidEvent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
FILES = sorted(FIXTURES.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def fmt_of(path: Path) -> str:
    return path.stem.split("_")[0]


def test_every_adapter_has_fixtures_and_each_cites_its_document() -> None:
    assert {fmt_of(p) for p in FILES} == set(INPUT_FORMATS) - {"auto", "native"}
    for path in FILES:
        source = load(path)["source"]
        assert source.startswith("https://"), path.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_auto_detection_recognises_each_fixture(path: Path) -> None:
    assert detect(load(path)["record"]) == fmt_of(path)


@pytest.mark.parametrize("mode", ["auto", "explicit"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_fixture_decodes_to_the_documented_native_fields(path: Path, mode: str) -> None:
    data = load(path)
    fmt = "auto" if mode == "auto" else fmt_of(path)
    ev = decode_event(orjson.dumps(data["record"]), input_format=fmt)
    got = asdict(ev)
    for key, want in data["expect"].items():
        if key == "system_prompt_text":
            assert ev.system_prompt_hash == system_prompt_hash_of(want)
        elif isinstance(want, dict):
            assert {k: got[key][k] for k in want} == want, key
        else:
            assert got[key] == want, key
    assert ev.dropped == (), ev.dropped


def test_anthropic_thinking_estimate_is_a_quarter_of_the_thinking_text() -> None:
    data = load(FIXTURES / "anthropic_messages.json")
    blocks = data["record"]["response"]["content"]
    chars = sum(len(b["thinking"]) for b in blocks if b["type"] == "thinking")
    assert data["expect"]["reasoning_tokens"] == chars // 4
    # without thinking enabled in the request, nothing is estimated
    rec = data["record"]
    rec = {**rec, "request": {k: v for k, v in rec["request"].items() if k != "thinking"}}
    assert decode_event(orjson.dumps(rec)).reasoning_tokens is None
    # the gateway's own count wins over the estimate
    assert decode_event(orjson.dumps({**rec, "reasoning_tokens": 80})).reasoning_tokens == 80


def test_envelope_fields_win_over_what_the_format_says() -> None:
    rec = load(FIXTURES / "openai_chat.json")["record"]
    ev = decode_event(orjson.dumps({**rec, "customer_id": "billed-9",
                                    "account": {"signup_channel": "enterprise"}}))
    assert ev.customer_id == "billed-9"  # not the client-supplied request.user
    assert ev.account.signup_channel == "enterprise"


def test_openai_time_falls_back_to_created_in_epoch_seconds() -> None:
    rec = dict(load(FIXTURES / "openai_chat.json")["record"])
    del rec["ts"]
    assert decode_event(orjson.dumps(rec)).ts_ms == rec["response"]["created"] * 1000


@pytest.mark.parametrize(("fmt", "mutate", "reason", "field"), [
    ("anthropic", lambda r: {k: v for k, v in r.items() if k != "ts"}, "missing_field", "ts"),
    ("anthropic", lambda r: {**r, "request": {**r["request"], "metadata": {}}},
     "missing_field", "customer_id"),
    ("openai", lambda r: {**r, "response": {**r["response"], "usage": {"prompt_tokens": "x"}}},
     "wrong_type", "input_tokens"),
    ("openai", lambda r: {**r, "response": {k: v for k, v in r["response"].items() if k != "id"}},
     "missing_field", "event_id"),
    ("litellm", lambda r: {**r, "end_user": None}, "missing_field", "customer_id"),
    ("otel", lambda r: {k: v for k, v in r.items() if k not in ("traceId", "spanId")},
     "missing_field", "event_id"),
])
def test_a_record_without_a_usable_required_field_is_dead_lettered_with_field(
        fmt: str, mutate: Any, reason: str, field: str) -> None:
    name = {"anthropic": "anthropic_messages", "openai": "openai_chat",
            "litellm": "litellm_failure", "otel": "otel_log_error"}[fmt]
    rec = mutate(load(FIXTURES / f"{name}.json")["record"])
    with pytest.raises(InvalidEvent) as info:
        decode_event(orjson.dumps(rec), input_format=fmt)
    assert (info.value.reason, info.value.field) == (reason, field)


def test_unreadable_optional_fields_of_an_adapter_are_dropped_not_fatal() -> None:
    rec = load(FIXTURES / "otel_span.json")["record"]
    attrs = [a for a in rec["attributes"] if a["key"] != "gen_ai.input.messages"]
    attrs.append({"key": "gen_ai.input.messages", "value": {"stringValue": "[{not json"}})
    attrs.append({"key": "gen_ai.request.temperature", "value": {"stringValue": "warm"}})
    attrs = [a for a in attrs if a["key"] != "gen_ai.request.temperature"
             or a["value"] == {"stringValue": "warm"}]
    ev = decode_event(orjson.dumps({**rec, "attributes": attrs}))
    assert ev.prompt is None and ev.temperature is None
    assert sorted(ev.dropped) == [("prompt", "bad_json"), ("temperature", "wrong_type")]
    assert ev.event_id == "chatcmpl-123"

    rec = load(FIXTURES / "litellm_success.json")["record"]
    inner = {**rec["standard_logging_object"], "model_parameters": {"n": "many", "top_p": -1}}
    ev = decode_event(orjson.dumps(inner))
    assert sorted(ev.dropped) == [("n", "wrong_type"), ("top_p", "out_of_range")]


def test_an_explicit_format_applies_to_every_message() -> None:
    native = orjson.dumps({"event_id": "e", "ts": 1772446500, "customer_id": "c", "model": "m",
                           "input_tokens": 1, "output_tokens": 1})
    assert decode_event(native, input_format="native").event_id == "e"
    assert decode_event(native).event_id == "e"  # auto: native
    # native-named fields are envelope fields: every adapter accepts a native event as it is
    for fmt in ("openai", "anthropic", "litellm"):
        assert decode_event(native, input_format=fmt) == decode_event(native)
    rec = orjson.dumps(load(FIXTURES / "openai_chat.json")["record"])
    with pytest.raises(InvalidEvent) as info:
        decode_event(rec, input_format="native")
    assert info.value.field == "event_id"


def test_check_format_accepts_exactly_the_documented_names() -> None:
    for name in INPUT_FORMATS:
        assert check_format(name.upper()) == name
    with pytest.raises(ValueError, match="expected one of auto, native"):
        check_format("openai-responses")
