"""No code execution from Kafka: a pickle written to the worker's changelog topics runs nothing.

Before the worker starts, a payload that would run ``touch <marker>`` when unpickled — in the
exact layout the former pickle codec accepted (magic, version 1, JSON header, zlib pickle) — is
written to both changelog topics under every key the worker reads: a customer id of the input,
``__population__/<partition>`` for every partition, and a cluster token the customer uses. The
worker then recovers its tables from those topics and gets events for those keys. The marker
never appears, the worker keeps running and emits alerts and feature records, and every
undecodable state is logged (without its bytes) and replaced by a fresh one.
"""

from __future__ import annotations

import pickle
import uuid
import zlib
from pathlib import Path

import orjson
import pytest
import river

from streamer.settings import Settings
from streamer.shell.supervise import WorkerProcess, topic_env
from streamer.shell.topics import ensure_topics
from tests.integration.conftest import Pipeline, attack_events

pytestmark = pytest.mark.kafka

TLS = "771,4865-4866,0-23"  # the attack stream's TLS fingerprint: one of its cluster tokens


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        import os

        return (os.system, (f"touch {self.path}",))


def _v1_pickle_record(marker: Path) -> bytes:
    """A record the former codec would have unpickled (and so run the command)."""
    header = orjson.dumps({"schema": 1, "river": river.__version__, "kind": "CustomerState"})
    body = zlib.compress(pickle.dumps(_Touch(marker)))
    return b"STRM\x01" + len(header).to_bytes(2, "big") + header + body


def test_pickle_in_changelogs_runs_nothing_and_the_worker_keeps_working(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    control = tmp_path / "control"
    record = _v1_pickle_record(control)
    pickle.loads(zlib.decompress(record[7 + int.from_bytes(record[5:7], "big"):]))
    assert control.exists(), "the payload does not run: the test would prove nothing"

    marker = tmp_path / "pwned"
    payload = _v1_pickle_record(marker)
    prefix = f"it-codec-{uuid.uuid4().hex[:8]}"
    env = {**topic_env(prefix), "STREAMER_STORE": "memory://"}
    settings = Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    app_id, parts = settings.app_id, settings.partitions
    changelogs = {f"{app_id}-customer-state-changelog": parts,
                  f"{app_id}-cluster-index-changelog": parts}
    ensure_topics(settings, extra=changelogs)

    attacker = f"cus_pickled_{uuid.uuid4().hex[:6]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=2)
    for p in range(parts):  # every partition, wherever the keys land
        for key in (attacker, f"__population__/{p}"):
            producer.send(f"{app_id}-customer-state-changelog", key=key.encode(),
                          value=payload, partition=p)
        producer.send(f"{app_id}-cluster-index-changelog",
                      key=f"tls_fingerprint:{TLS}".encode(), value=payload, partition=p)
    producer.flush(30)
    producer.close()

    worker = WorkerProcess(kafka_bootstrap, env, tmp_path / "worker").start()
    try:
        worker.wait_consuming(120)
        pipe = Pipeline(kafka_bootstrap, env, worker)
        events = attack_events(attacker, 120, 1_772_409_600_000)
        # one more, past the first 5-minute window, so that window closes into a feature record
        events.append({**events[-1], "event_id": f"{attacker}-late",
                       "ts": 1_772_409_600_000 + 11 * 60_000})
        for ev in events:
            assert ev["client"]["tls_fingerprint"] == TLS
            pipe.send_event(ev)
        pipe.flush()
        alerts = pipe.consume("alerts", lambda recs: any(
            orjson.loads(r.value)["customer_id"] == attacker for r in recs), timeout_s=90)
        assert any(orjson.loads(r.value)["customer_id"] == attacker for r in alerts), \
            worker.log_tail()
        assert pipe.wait_processed(attacker, len(events)) == len(events)
        features = pipe.consume("features", lambda recs: any(
            orjson.loads(r.value)["customer_id"] == attacker for r in recs), timeout_s=60)
        assert any(orjson.loads(r.value)["customer_id"] == attacker for r in features)
        worker.check_alive()
        assert worker.get("/health")[0] == 200
        log = worker.log_path.read_text(errors="replace")
        refused = [line for line in log.splitlines() if "did not decode" in line]
        assert any(attacker in line for line in refused), log[-3000:]
        assert any("__population__/" in line for line in refused), log[-3000:]
        assert any(f"tls_fingerprint:{TLS}" in line for line in refused), log[-3000:]
        assert str(marker) not in log  # the record's bytes are never logged
        pipe.producer.close()
    finally:
        code = worker.stop()
    assert code == 0, worker.log_tail()
    assert not marker.exists(), "a pickle read from Kafka was executed"
