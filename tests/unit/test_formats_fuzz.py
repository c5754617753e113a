"""Decoding is total: any bytes, any JSON object, any format -> an event or ``InvalidEvent``."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.core.events import InferenceEvent, decode_event
from streamer.core.formats import INPUT_FORMATS
from streamer.core.formats.common import NATIVE_FIELDS
from streamer.errors import InvalidEvent

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["200", "1772409600", "true", "ok", "2026-03-02T00:00:00Z",
                              "", "-1", "1e400", "user", "system", "text", "gen_ai.x"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=20,
)
#: keys every adapter looks at, so that fuzzing reaches the adapters' branches
KEYS = sorted(NATIVE_FIELDS | {
    "request", "response", "messages", "usage", "choices", "created", "id", "type", "system",
    "thinking", "metadata", "attributes", "startTimeUnixNano", "endTimeUnixNano", "traceId",
    "spanId", "timeUnixNano", "status", "call_type", "startTime", "endTime", "model_parameters",
    "standard_logging_object", "error", "content", "role", "user", "end_user",
    "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.input.messages",
    "enduser.id", "key", "value", "stringValue", "intValue", "arrayValue", "values",
    "error_information", "prompt_tokens", "completion_tokens", "input_tokens", "logit_bias",
})
shaped = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner,
                                                                max_size=6),
    max_leaves=30,
)


def _total(data: bytes, fmt: str = "auto") -> None:
    try:
        ev = decode_event(data, input_format=fmt)
    except InvalidEvent as err:
        assert err.reason and isinstance(err.reason, str)
        return
    assert isinstance(ev, InferenceEvent)
    assert all(isinstance(f, str) and isinstance(r, str) for f, r in ev.dropped)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(INPUT_FORMATS))
def test_arbitrary_bytes(data: bytes, fmt: str) -> None:
    _total(data, fmt)


@FUZZ
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8),
       st.sampled_from(INPUT_FORMATS))
def test_arbitrary_json_objects(obj: dict[str, Any], fmt: str) -> None:
    _total(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), fmt)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), shaped, max_size=12),
       st.sampled_from(INPUT_FORMATS))
def test_objects_with_the_keys_the_adapters_read(obj: dict[str, Any], fmt: str) -> None:
    _total(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), fmt)


BASE = {"event_id": "e", "ts": 1772409600000, "customer_id": "c", "model": "m",
        "input_tokens": 1, "output_tokens": 1}


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(NATIVE_FIELDS - set(BASE))), shaped,
                       min_size=1, max_size=8))
def test_optional_fields_never_lose_a_valid_event(extra: dict[str, Any]) -> None:
    ev = decode_event(orjson.dumps({**BASE, **extra}, option=orjson.OPT_NON_STR_KEYS),
                      input_format="native")
    assert (ev.event_id, ev.customer_id, ev.input_tokens) == ("e", "c", 1)
