"""`make bench --quick` on the real broker: every part runs and reports (``make test-bench``;
the bench extra, Quix Streams and py-spy, is installed by that target). Timings are measured,
never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.bench.__main__ import main
from tests.unit.test_bench import _outputs


@pytest.mark.kafka
def test_quick_run_on_the_broker_measures_every_consumer(kafka_bootstrap: str,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "bench"
    code = main(["--quick", "--scenario", "smoke", "--bootstrap", kafka_bootstrap,
                 "--out", str(out), "--no-py-spy"])
    result = _outputs(out)
    assert code == 0, result.get("errors")
    for key in ("raw", "faust_noop", "worker", "quix", "offline", "two_workers"):
        section = result[key]
        assert isinstance(section, dict) and "events_per_s" in section, key
    assert isinstance(result["latency"], list) and len(result["latency"]) == 2
    # the alert watcher (its own process) received the alerts the paced streams raised
    assert all(run["alerts"] > 0 and run["p99_ms"] > 0 for run in result["latency"])
    assert isinstance(result["recovery"], dict)
    assert "kill9_to_first_processed_s" in result["recovery"]
