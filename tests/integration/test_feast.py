"""``streamer feast-push`` into a real Feast 0.67 repository (local provider, SQLite, parquet).

The repository in ``deploy/feast/`` is copied to a temp dir and applied with ``feast apply``;
feature records go to a real topic (one malformed); the push command consumes them; the
features are read back with ``get_online_features`` (latest window per customer) and
``get_historical_features`` (point in time: the offline store got every window).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streamer.core.outputs import rfc3339
from streamer.settings import Settings
from streamer.shell.topics import ensure_topics
from tests.integration.tooling import SCHEMAS, Child, assert_all_committed, streamer_command

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2] / "deploy" / "feast"


def _feast() -> Any:
    try:
        import feast
    except ImportError:
        message = "Feast is not installed: pip install -e '.[feast]' (make test installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip("SKIPPED: " + message)
    return feast


def _record(customer: str, end_ms: int, risk: float, cot_rate: float) -> dict[str, Any]:
    import jsonschema

    record = {
        "kind": "features", "customer_id": customer, "window_start": rfc3339(end_ms - 300_000),
        "window_end": rfc3339(end_ms), "window_start_ms": end_ms - 300_000,
        "window_end_ms": end_ms, "events_in_window": 40, "events_total": int(risk * 1000),
        "risk": risk, "severity": "high" if risk > 0.5 else None,
        "features": {"cot_rate": cot_rate, "machine_pacing": 0.7, "retired_signal": 1.0},
        "detector_version": "test",
    }
    jsonschema.validate(record, orjson.loads(
        (SCHEMAS / "customer-features.schema.json").read_bytes()))
    return record


def test_feast_push_online_and_offline(kafka_bootstrap: str, tmp_path: Path,
                                       unique_name: Callable[..., str]) -> None:
    feast = _feast()
    repo = tmp_path / "feast"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    applied = subprocess.run([str(Path(sys.executable).parent / "feast"), "-c", str(repo),
                              "apply"], capture_output=True, text=True, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "feature view customer_features" in applied.stdout

    topic, app = unique_name("feast-features"), unique_name("feast-app")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "STREAMER_FEATURES_TOPIC": topic,
           "STREAMER_APP_ID": app}
    ensure_topics(Settings.from_env(env), {topic: 2})
    a, b = f"cus_fa_{uuid.uuid4().hex[:6]}", f"cus_fb_{uuid.uuid4().hex[:6]}"
    t1 = (int(time.time()) // 300 - 2) * 300_000
    t2 = t1 + 300_000
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, key=a.encode(), value=b'{"customer_id": "x", "features": 3}')
    for rec in (_record(a, t1, 0.2, 0.1), _record(a, t2, 0.9, 0.8), _record(b, t2, 0.05, 0.0)):
        producer.send(topic, key=rec["customer_id"].encode(), value=orjson.dumps(rec))
    producer.flush(10)
    producer.close()

    push = Child(streamer_command("feast-push", "--repo", str(repo), "--idle-exit", "15"),
                 tmp_path / "push.log", env).start()
    deadline = time.monotonic() + 300
    while push.alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert push.stop() == 0, push.log()
    assert push.log().count("skipped malformed record") == 1, push.log()
    assert_all_committed(kafka_bootstrap, topic, f"{app}-feast")

    store = feast.FeatureStore(repo_path=str(repo))
    names = ["risk", "severity", "events_total", "cot_rate", "machine_pacing", "logit_bias_rate"]
    online = store.get_online_features(
        features=[f"customer_features:{n}" for n in names],
        entity_rows=[{"customer_id": a}, {"customer_id": b}, {"customer_id": "cus_unknown"}],
    ).to_dict()
    assert online["customer_id"] == [a, b, "cus_unknown"]
    assert online["risk"] == [0.9, 0.05, None]  # the latest window of each customer
    assert online["cot_rate"] == [0.8, 0.0, None]
    assert online["severity"] == ["high", "none", None]
    assert online["events_total"] == [900, 50, None]
    assert online["logit_bias_rate"] == [None, None, None]  # not in these records

    import pandas as pd

    entities = pd.DataFrame({
        "customer_id": [a, a],
        "event_timestamp": [datetime.fromtimestamp((t1 + 1000) / 1000, tz=UTC),
                            datetime.fromtimestamp((t2 + 1000) / 1000, tz=UTC)],
    })
    history = store.get_historical_features(
        entity_df=entities, features=["customer_features:risk", "customer_features:cot_rate"],
    ).to_df().sort_values("event_timestamp")
    assert history["risk"].tolist() == [0.2, 0.9]  # point in time: each window as it was
    assert history["cot_rate"].tolist() == [0.1, 0.8]
