"""The shipped JSON Schemas describe what the core really accepts and emits."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from streamer.core.engine import replay
from streamer.core.events import event_from_dict
from streamer.errors import InvalidEvent
from streamer.schemas import load
from streamer.sim import simulate


@pytest.fixture(scope="module")
def smoke() -> tuple[list[dict[str, Any]], Any]:
    events = list(simulate("smoke", 0).events())
    return events, replay(event_from_dict(e) for e in events)


def test_simulated_events_match_the_input_schema(smoke: Any) -> None:
    validator = jsonschema.Draft202012Validator(load("inference-event"))
    for ev in smoke[0][:500]:
        validator.validate(ev)


def test_alerts_and_features_match_their_schemas(smoke: Any) -> None:
    _, result = smoke
    assert result.alerts and result.features
    alerts = jsonschema.Draft202012Validator(load("extraction-risk"))
    for a in result.alerts:
        alerts.validate({**a, "emitted_at": "2026-03-02T00:00:00.000Z"})
    features = jsonschema.Draft202012Validator(load("customer-features"))
    for f in result.features:
        features.validate(f)


@pytest.mark.parametrize("bad", [
    {"input_tokens": -1}, {"output_tokens": "three"}, {"ts": "2026-03-02T00:00:00"},
    {"input_tokens": 2.5}, {"customer_id": ""},
])
def test_schema_and_decoder_agree_on_invalid_events(bad: dict[str, Any]) -> None:
    base = {"event_id": "e", "ts": 1772409600000, "customer_id": "c", "model": "m",
            "input_tokens": 1, "output_tokens": 1}
    ev = {**base, **bad}
    with pytest.raises(InvalidEvent):
        event_from_dict(ev)
    schema_ok = jsonschema.Draft202012Validator(
        load("inference-event"), format_checker=jsonschema.FormatChecker()
    ).is_valid(ev)
    naive_time = bad.get("ts") == "2026-03-02T00:00:00"
    assert not schema_ok or naive_time  # RFC 3339 'date-time' format checks need extras


def test_no_output_ever_contains_prompt_text(smoke: Any) -> None:
    events, result = smoke
    blob = repr(result.alerts) + repr(result.features)
    for ev in events[:300]:
        prompt = ev.get("prompt") or ""
        words = [w for w in prompt.split() if len(w) > 12]
        for w in words[:3]:
            assert w not in blob
