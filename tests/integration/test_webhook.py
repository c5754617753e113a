"""``streamer webhook`` against a real HTTP server on 127.0.0.1 that checks the signature.

The receiver answers 503 to its first two requests (the sink retries with backoff), then
verifies ``X-Streamer-Signature`` with the documented recipe and acknowledges. Every alert
arrives, signed, nothing malformed is forwarded, and the offsets are committed at the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from streamer.integrations.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from streamer.settings import Settings
from streamer.shell.topics import ensure_topics
from tests.integration.tooling import Child, assert_all_committed, risk_record, streamer_command

pytestmark = pytest.mark.kafka

SECRET = b"correct horse battery staple"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.refuse = 2
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            refuse = self.server.refuse > 0
            self.server.refuse -= 1
            if not refuse:
                self.server.requests.append((body, dict(self.headers.items())))
        ok = not refuse and verify_signature(SECRET, body, self.headers[TIMESTAMP_HEADER],
                                             self.headers[SIGNATURE_HEADER])
        self.send_response(200 if ok else 503 if refuse else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_signed_delivery_with_retries(kafka_bootstrap: str, receiver: Receiver, tmp_path: Path,
                                      unique_name: Callable[..., str]) -> None:
    topic, app = unique_name("wh-alerts"), unique_name("wh-app")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "STREAMER_ALERTS_TOPIC": topic,
           "STREAMER_APP_ID": app, "STREAMER_WEBHOOK_SECRET": SECRET.decode()}
    ensure_topics(Settings.from_env(env), {topic: 1})
    ids = ["xr_" + uuid.uuid4().hex[:20] for _ in range(3)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, b"{broken")
    for i, alert_id in enumerate(ids):
        rec = risk_record(f"cus_wh_{i}", alert_id, "high", "open")
        producer.send(topic, key=rec["customer_id"].encode(), value=orjson.dumps(rec))
    producer.flush(10)
    producer.close()

    sink = Child(streamer_command("webhook", "--url", receiver.url, "--max-backoff", "0.5",
                                  "--idle-exit", "10"), tmp_path / "webhook.log", env).start()
    deadline = time.monotonic() + 60
    while sink.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    code = sink.stop()
    assert code == 0, sink.log()
    assert sink.log().count("delivery failed") == 2, sink.log()

    delivered = []
    for body, headers in receiver.requests:
        assert verify_signature(SECRET, body, headers[TIMESTAMP_HEADER],
                                headers[SIGNATURE_HEADER])
        assert not verify_signature(b"wrong", body, headers[TIMESTAMP_HEADER],
                                    headers[SIGNATURE_HEADER])
        assert not verify_signature(SECRET, body + b" ", headers[TIMESTAMP_HEADER],
                                    headers[SIGNATURE_HEADER])
        payload = orjson.loads(body)
        assert payload["source"] == "streamer"
        delivered += payload["alerts"]
    assert [a["alert_id"] for a in delivered] == ids
    assert delivered[0]["dashboard"].endswith("/#customer=cus_wh_0")
    assert delivered[0]["reasons"][0]["signal"] == "cot_rate"
    assert "skipped malformed record" in sink.log()
    assert_all_committed(kafka_bootstrap, topic, f"{app}-webhook")
