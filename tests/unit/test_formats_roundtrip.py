"""Simulated traffic converted to each gateway format decodes to the same events as native."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from streamer.core.events import InferenceEvent, decode_event, event_from_dict
from streamer.core.formats import detect
from streamer.sim import simulate
from streamer.sim.formats_out import FORMATS, to_format


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    # smoke: every ordinary archetype and a campaign; lookalikes: logprob/logit_bias/n users
    smoke = list(simulate("smoke", 0).events())
    lookalikes = list(simulate("lookalikes", 0).events())
    return smoke + lookalikes[::20]


def _comparable(ev: InferenceEvent) -> InferenceEvent:
    return replace(ev, status_code=None)  # the formats add the HTTP code native events lack


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_simulated_event_round_trips_through_the_format(
        events: list[dict[str, Any]], fmt: str) -> None:
    covered = {"logprobs": 0, "logit_bias_count": 0, "n": 0, "error": 0, "prompt": 0}
    for ev in events:
        record = to_format(ev, fmt)
        assert detect(record) == fmt
        got = decode_event(orjson.dumps(record))
        assert _comparable(got) == event_from_dict(ev), ev["event_id"]
        assert got.dropped == ()
        for key in ("logprobs", "logit_bias_count", "n", "prompt"):
            covered[key] += ev.get(key) is not None
        covered["error"] += ev.get("status") == "error"
    # the sample exercises what the detector reads from each format
    assert all(covered.values()), covered
