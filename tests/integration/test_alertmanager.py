"""``streamer alertmanager`` against a real Alertmanager 0.25, read back via GET /api/v2/alerts.

One scenario, in order: malformed records are skipped; an episode opens, escalates (one active
alert, at the new severity), is re-delivered (still one) and resolves (none). Then Alertmanager
restarts mid-stream: alerts produced while it is down arrive once it is back, and the open
alert it forgot is re-posted. Then the sink is killed -9 while Alertmanager is down and
restarted: the alert it had not delivered arrives (offsets are committed only after a 2xx).
Finally the consumer group's committed offsets equal the topic's end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streamer.integrations.alertmanager import ALERTNAME
from streamer.settings import Settings
from streamer.shell.topics import ensure_topics
from tests.integration.tooling import (
    AlertmanagerProcess,
    Child,
    assert_all_committed,
    require_tool,
    risk_record,
    streamer_command,
)

pytestmark = pytest.mark.kafka

DASHBOARD = "http://ops.example:6066"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    am = AlertmanagerProcess(require_tool("prometheus-alertmanager", "prometheus-alertmanager"),
                             tmp_path).start()
    yield am
    am.stop()


def _alert_id() -> str:
    return "xr_" + uuid.uuid4().hex[:20]


def test_open_escalate_resolve_and_alertmanager_restart(
    kafka_bootstrap: str, alertmanager: AlertmanagerProcess, tmp_path: Path,
    unique_name: Callable[..., str],
) -> None:
    topic, app = unique_name("am-alerts"), unique_name("am-app")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "STREAMER_ALERTS_TOPIC": topic,
           "STREAMER_APP_ID": app, "STREAMER_DASHBOARD_URL": DASHBOARD}
    ensure_topics(Settings.from_env(env), {topic: 2})
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)

    def send(record: dict[str, Any] | bytes) -> None:
        value = record if isinstance(record, bytes) else orjson.dumps(record)
        key = b"x" if isinstance(record, bytes) else record["customer_id"].encode()
        producer.send(topic, key=key, value=value)
        producer.flush(10)

    def sink() -> Child:
        return Child(streamer_command("alertmanager", "--url", alertmanager.url,
                                      "--max-backoff", "1", "--resend-interval", "1"),
                     tmp_path / "sink.log", env).start()

    cus, aid = f"cus_[/]{uuid.uuid4().hex[:6]}", _alert_id()
    send(b"not json at all")
    send(b'{"alert_id": 5}')
    bridge = sink()
    try:
        # open
        send(risk_record(cus, aid, "medium", "open", tactics=("cot_coercion", "automation")))
        (alert,) = alertmanager.wait_for(lambda a: len(a) == 1, alert_id=aid)
        assert alert["labels"] == {"alertname": ALERTNAME, "alert_id": aid, "customer": cus,
                                   "severity": "medium", "tactics": "automation,cot_coercion"}
        assert alert["status"]["state"] == "active"
        notes = alert["annotations"]
        assert notes["reasons"].startswith("cot_rate=0.85 (+2.40")
        assert "machine_pacing" in notes["reasons"]
        assert notes["dashboard"] == f"{DASHBOARD}/#customer=" + cus.replace("[/]", "%5B%2F%5D")
        # escalate: the medium alert is resolved, one active alert at high with the cluster
        send(risk_record(cus, aid, "high", "escalated", cluster="cl_42"))
        (alert,) = alertmanager.wait_for(
            lambda a: len(a) == 1 and a[0]["labels"]["severity"] == "high", alert_id=aid)
        assert alert["labels"]["cluster"] == "cl_42" and alert["labels"]["customer"] == cus
        # re-delivery of the same record is harmless
        send(risk_record(cus, aid, "high", "escalated", cluster="cl_42"))
        time.sleep(2)
        assert len(alertmanager.alerts(alert_id=aid)) == 1
        # resolve
        send(risk_record(cus, aid, "none", "resolved", tactics=()))
        alertmanager.wait_for(lambda a: a == [], alert_id=aid)

        # an episode open before Alertmanager goes down
        before = _alert_id()
        send(risk_record("cus_before", before, "low", "open"))
        alertmanager.wait_for(lambda a: len(a) == 1, alert_id=before)
        # Alertmanager restarts (it keeps alerts in memory only) while the sink runs
        alertmanager.stop()
        during = [_alert_id() for _ in range(2)]
        for i, a in enumerate(during):
            send(risk_record(f"cus_down_{i}", a, "critical", "open"))
        time.sleep(3)
        assert bridge.alive(), bridge.log()
        assert "delivery failed" in bridge.log()
        alertmanager.start()
        for a in during:
            (alert,) = alertmanager.wait_for(lambda x: len(x) == 1, alert_id=a)
            assert alert["labels"]["severity"] == "critical"
        alertmanager.wait_for(lambda a: len(a) == 1, alert_id=before)  # re-posted by the sink

        # the sink crashes while Alertmanager is down: nothing was committed, nothing is lost
        alertmanager.stop()
        crash = _alert_id()
        send(risk_record("cus_crash", crash, "high", "open"))
        time.sleep(2)
        bridge.kill()
        bridge = sink()
        time.sleep(2)
        alertmanager.start()
        alertmanager.wait_for(lambda x: len(x) == 1, alert_id=crash)
        assert alertmanager.alerts(alert_id=aid) == []
    finally:
        code = bridge.stop()
        producer.close()
    log = bridge.log()
    assert code == 0, log
    # the two malformed records were skipped once each (their offsets were committed)
    assert log.count("skipped malformed record") == 2, log
    assert "bad_json" in log and "alert_id: expected a string" in log
    assert "alertmanager: stopped; records=" in log.splitlines()[-1], log

    assert_all_committed(kafka_bootstrap, topic, f"{app}-alertmanager")
