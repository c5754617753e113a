"""``streamer webhook``: ``extraction-risk`` alerts to any HTTP endpoint, HMAC-SHA256 signed.

For pipelines that are not Alertmanager. Each delivery is one ``POST`` of a JSON body
``{"source": "streamer", "alerts": [<extraction-risk record>, ...]}`` (records as the worker
wrote them, plus a ``dashboard`` link) with two headers:

- ``X-Streamer-Timestamp``: Unix seconds when the request was signed;
- ``X-Streamer-Signature``: ``v1=`` + hex HMAC-SHA256 of ``<timestamp>.<raw body>`` under the
  shared secret.

**Verifying a delivery** (the receiver's side; :func:`verify_signature` does exactly this):
read the raw body bytes before parsing; compute
``hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()``; compare it
with the header after ``v1=`` using ``hmac.compare_digest``; reject timestamps more than five
minutes from your clock (replays). Then dedupe by ``(alert_id, status, severity)``: a
delivery that failed or was not acknowledged is sent again (the sink commits its offsets only
after a 2xx), so a receiver sees every alert at least once.

A 2xx acknowledges the batch; 400/413/422 reject it (items are then retried one by one and a
single rejected item is skipped and counted); anything else, or no answer, is retried with
backoff.

>>> body = b'{"alerts":[]}'
>>> headers = sign(b"k", body, timestamp=1767225600)
>>> headers["X-Streamer-Timestamp"], headers["X-Streamer-Signature"][:9]
('1767225600', 'v1=f63178')
>>> verify_signature(b"k", body, headers["X-Streamer-Timestamp"],
...                  headers["X-Streamer-Signature"], now=1767225660)
True
>>> verify_signature(b"other", body, headers["X-Streamer-Timestamp"],
...                  headers["X-Streamer-Signature"], now=1767225660)
False
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sys
import time
from collections.abc import Sequence
from typing import Any

import orjson

from streamer.errors import ConfigError
from streamer.integrations.alertmanager import dashboard_link
from streamer.integrations.records import parse_risk_alert
from streamer.integrations.sink import Sink, add_consumer_arguments, post_json, run_command
from streamer.settings import Settings

TIMESTAMP_HEADER = "X-Streamer-Timestamp"
SIGNATURE_HEADER = "X-Streamer-Signature"
TOLERANCE_S = 300


def _mac(secret: bytes, body: bytes, timestamp: str) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The signature headers for ``body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"v1={_mac(secret, body, ts)}"}


def verify_signature(secret: bytes, body: bytes, timestamp: str, signature: str, *,
                     now: float | None = None, tolerance_s: float = TOLERANCE_S) -> bool:
    """The receiver's check: a valid MAC over ``timestamp.body`` and a fresh timestamp."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    expected = f"v1={_mac(secret, body, timestamp)}"
    return hmac.compare_digest(expected, signature) and age <= tolerance_s


class Webhook:
    """Posts batches of alert records, signed."""

    def __init__(self, url: str, secret: bytes, *, dashboard_url: str,
                 timeout_s: float = 10.0) -> None:
        if not url:
            raise ConfigError("streamer webhook needs --url (or STREAMER_WEBHOOK_URL)")
        if not secret:
            raise ConfigError("streamer webhook needs --secret (or STREAMER_WEBHOOK_SECRET)")
        self.url = url
        self.secret = secret
        self.dashboard_url = dashboard_url
        self.timeout_s = timeout_s

    def parse(self, raw: bytes) -> dict[str, Any]:
        """Validate with the total parser, forward the record as written (plus the link)."""
        alert = parse_risk_alert(raw)
        record: dict[str, Any] = orjson.loads(raw)
        record["dashboard"] = dashboard_link(self.dashboard_url, alert.customer_id)
        return record

    def deliver(self, records: Sequence[dict[str, Any]]) -> None:
        body = orjson.dumps({"source": "streamer", "alerts": list(records)})
        post_json(self.url, body, sign(self.secret, body), timeout_s=self.timeout_s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="endpoint to POST to (default: $STREAMER_WEBHOOK_URL)")
    parser.add_argument("--secret", help="HMAC key (default: $STREAMER_WEBHOOK_SECRET; the "
                                         "environment keeps it out of the process list)")
    add_consumer_arguments(parser, topic_help="alerts topic (default: STREAMER_ALERTS_TOPIC)",
                           group_suffix="webhook")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        hook = Webhook(args.url or settings.webhook_url,
                       (args.secret or settings.webhook_secret.get()).encode(),
                       dashboard_url=settings.dashboard_url or
                       f"http://{settings.web_host}:{settings.web_port}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sink: Sink[dict[str, Any]] = Sink("webhook", hook.parse, hook.deliver)
    return run_command(sink, settings, args, settings.alerts_topic, "webhook")
