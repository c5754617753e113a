"""The shell's hooks: the input-format setting, and drops / DLQ guard seen by the processor."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from streamer.core.dlq_guard import DlqGuard, InputQuality
from streamer.errors import ConfigError
from streamer.settings import Settings
from streamer.shell.processor import CustomerProcessor, Message
from streamer.sim.formats_out import to_format


def test_input_format_setting_is_validated_at_start_up() -> None:
    assert Settings.from_env({}).input_format == "auto"
    assert Settings.from_env({"STREAMER_INPUT_FORMAT": "litellm"}).input_format == "litellm"
    with pytest.raises(ConfigError, match="expected one of auto, native, openai"):
        Settings.from_env({"STREAMER_INPUT_FORMAT": "xml"})
    s = Settings.from_env({"STREAMER_DLQ_GUARD_WINDOW": "200",
                           "STREAMER_DLQ_GUARD_THRESHOLD": "0.1"})
    assert (s.dlq_guard_window, s.dlq_guard_threshold) == (200, 0.1)
    with pytest.raises(ConfigError):
        Settings.from_env({"STREAMER_DLQ_GUARD_THRESHOLD": "1.5"})


def _processor(fmt: str = "auto", window: int = 20) -> CustomerProcessor:
    return CustomerProcessor(
        input_topic="in", verdicts_topic="v", feedback_topic="f", alerts_topic="a",
        features_topic="feat", dlq_topic="dlq", signals_topic="s", max_message_bytes=100_000,
        input_format=fmt, quality=InputQuality(DlqGuard(window=window, min_messages=10)))


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"e{i}", "ts": 1772409600000 + i * 1000, "customer_id": "cus_1",
            "model": "m", "input_tokens": 10, "output_tokens": 20, **extra}


def _messages(values: list[bytes]) -> list[Message]:
    return [Message("in", 0, i, b"cus_1", v) for i, v in enumerate(values)]


def test_processor_counts_drops_and_dead_letters_and_the_guard_trips(
        caplog: pytest.LogCaptureFixture) -> None:
    proc = _processor()
    good = [orjson.dumps(_event(i, temperature="warm")) for i in range(8)]
    bad = [orjson.dumps(_event(100 + i, input_tokens="many")) for i in range(4)]
    with caplog.at_level(logging.WARNING, logger="streamer.input"):
        result = proc.process_batch(_messages(good + bad), 1_772_409_700_000)
    assert (result.events, result.invalid) == (8, 4)
    assert sum(s.topic == "dlq" for s in result.sends) == 4
    snap = proc.quality.snapshot()
    assert snap["dropped_fields"] == {"temperature": {"wrong_type": 8}}
    assert snap["dead_lettered"] == {"wrong_type": {"input_tokens": 4}}
    assert snap["input_status"] == "degraded"  # 4 of 12 > 5 %
    lines = [r.getMessage() for r in caplog.records if r.name == "streamer.input"]
    assert len(lines) == 1 and "'wrong_type'" in lines[0] and "'input_tokens'" in lines[0]
    # a second bad batch within the minute logs nothing more
    with caplog.at_level(logging.WARNING, logger="streamer.input"):
        proc.process_batch(_messages(bad), 1_772_409_730_000)
    assert len([r for r in caplog.records if r.name == "streamer.input"]) == 1


def test_processor_decodes_the_configured_format() -> None:
    ev = _event(1, prompt="hello there", client={}, account={})
    record = orjson.dumps(to_format(ev, "anthropic"))
    for fmt in ("auto", "anthropic"):
        proc = _processor(fmt)
        result = proc.process_batch(_messages([record]), 1_772_409_700_000)
        assert (result.events, result.invalid) == (1, 0)
        assert proc.customer_summary("cus_1", lambda _k: None)["events_processed"] == 1  # type: ignore[index]
    proc = _processor("otel")  # the wrong format: an Anthropic pair has no gen_ai attributes
    result = proc.process_batch(_messages([record]), 1_772_409_700_000)
    assert result.invalid == 1
