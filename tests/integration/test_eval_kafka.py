"""The smoke scenario through the real broker and a ``streamer worker`` subprocess agrees with
the offline replay: the same customers flagged (severity >= medium), the campaign detected in
both."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.evaluation.report import write_report
from streamer.evaluation.runner import compare, evaluate_kafka, evaluate_offline

pytestmark = pytest.mark.kafka


def test_smoke_kafka_path_agrees_with_offline(kafka_bootstrap: str, tmp_path: Path) -> None:
    offline = evaluate_offline("smoke", seed=0, progress=False)
    kafka = evaluate_kafka("smoke", seed=0, bootstrap=kafka_bootstrap, timeout_s=300,
                           progress=False, log_dir=tmp_path)
    log = Path(kafka.extra["worker_log"])
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
    assert kafka.extra["outcome"] in {"complete", "caught_up"}, (kafka.extra, tail)
    assert kafka.events == offline.events

    diff = compare(offline, kafka)
    assert diff.same_flagged, (diff.to_dict(), kafka.extra)
    assert offline.metrics.overall.campaigns_detected >= 1
    assert diff.campaigns_detected_first == diff.campaigns_detected_second

    # The Kafka result makes a report like the offline one.
    target = write_report(kafka, tmp_path / "reports")
    assert target.name == "smoke-kafka" and (target / "report.json").stat().st_size > 0
