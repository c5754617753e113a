"""``streamer alertmanager``: the ``extraction-risk`` topic into Alertmanager's v2 API.

Each alert record becomes a ``POST /api/v2/alerts`` of one Alertmanager alert:

- **labels** ``alertname="ExtractionRisk"``, ``alert_id``, ``customer``, ``severity``,
  ``tactics`` (sorted, comma-joined) and ``cluster`` (the cluster id, when the customer is in
  one). Route and inhibit on them.
- **annotations** ``summary``, ``reasons`` (the top three, strongest first, with value and
  contribution), ``dashboard`` (``$STREAMER_DASHBOARD_URL/#customer=<id>``), ``risk``,
  ``status`` and the window; ``generatorURL`` is the dashboard link too.
- ``startsAt`` is when the record was detected; ``endsAt`` is ``emitted_at + --open-ttl``
  (default 24 h) while the episode is open, and the resolution's time when it resolves.

**Escalation resolves and re-opens.** Alertmanager identifies an alert by its label set, and
``severity`` is a label (so receivers can route on it). When an episode escalates, the sink
resolves the alert it posted at the old severity (``endsAt`` = now) and opens one at the new
severity, in the same request. Both carry the same ``alert_id`` label, so at any time an
episode has exactly one active alert in Alertmanager. A resolution record resolves the
episode's active alert.

**Idempotent.** The payload is a pure function of the record (and the episode's previous label
set), so re-delivering a record after a crash posts the same alert again, which Alertmanager
merges. The sink remembers the label set of each open episode (bounded LRU, ``--max-open``) and
rebuilds that memory from ``GET /api/v2/alerts`` when it starts. Alertmanager keeps alerts in
memory only; the sink re-posts its open alerts every ``--resend-interval`` seconds (like
Prometheus does), so a restarted Alertmanager gets them back.

>>> from streamer.integrations.records import parse_risk_alert
>>> rec = parse_risk_alert(b'{"alert_id":"xr_0123456789abcdef0123","customer_id":"c 1",'
...     b'"risk":0.91,"severity":"high","status":"open","detected_at":"2026-01-01T00:00:00Z",'
...     b'"emitted_at":"2026-01-01T00:00:01Z","tactics":["cot_coercion","automation"],'
...     b'"cluster":null,"reasons":[{"signal":"cot_rate","value":0.8,"baseline":0.02,'
...     b'"contribution":2.5,"description":"share of step-by-step prompts"}]}')
>>> am = to_alertmanager(rec, dashboard_url="http://ops:6066")
>>> am["labels"]
{'alertname': 'ExtractionRisk', 'alert_id': 'xr_0123456789abcdef0123', 'customer': 'c 1', \
'severity': 'high', 'tactics': 'automation,cot_coercion'}
>>> am["startsAt"], am["endsAt"], am["generatorURL"]
('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:01.000Z', 'http://ops:6066/#customer=c%201')
>>> am["annotations"]["reasons"]
'cot_rate=0.8 (+2.50, baseline 0.02): share of step-by-step prompts'
"""

from __future__ import annotations

import argparse
import logging
import time
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson

from streamer.core.outputs import rfc3339
from streamer.integrations.records import RiskAlert, parse_risk_alert
from streamer.integrations.sink import (
    Backoff,
    DeliveryError,
    Sink,
    add_consumer_arguments,
    post_json,
    run_command,
)
from streamer.settings import Settings

log = logging.getLogger("streamer.integrations.alertmanager")

ALERTNAME = "ExtractionRisk"
DEFAULT_OPEN_TTL_S = 24 * 3600.0
TOP_REASONS = 3


def dashboard_link(dashboard_url: str, customer_id: str) -> str:
    """The operator dashboard's page for one customer.

    >>> dashboard_link("http://127.0.0.1:6066/", "cus/1")
    'http://127.0.0.1:6066/#customer=cus%2F1'
    """
    return f"{dashboard_url.rstrip('/')}/#customer={urllib.parse.quote(customer_id, safe='')}"


def alert_labels(rec: RiskAlert) -> dict[str, str]:
    """The label set of an open or escalated record (empty values are left out)."""
    labels = {"alertname": ALERTNAME, "alert_id": rec.alert_id, "customer": rec.customer_id,
              "severity": rec.severity, "tactics": ",".join(sorted(set(rec.tactics)))}
    if rec.cluster_id:
        labels["cluster"] = rec.cluster_id
    return {k: v for k, v in labels.items() if v}


def to_alertmanager(rec: RiskAlert, *, dashboard_url: str,
                    open_ttl_s: float = DEFAULT_OPEN_TTL_S,
                    now_ms: int | None = None) -> dict[str, Any]:
    """The Alertmanager v2 alert for an open or escalated record (a pure function)."""
    posted_ms = rec.emitted_at_ms if rec.emitted_at_ms is not None else (
        now_ms if now_ms is not None else int(time.time() * 1000))
    starts_ms = min(rec.detected_at_ms, posted_ms)
    reasons = "; ".join(
        f"{r.signal}={r.value:g} (+{r.contribution:.2f}, baseline {r.baseline:g})"
        + (f": {r.description}" if r.description else "")
        for r in rec.reasons[:TOP_REASONS])
    link = dashboard_link(dashboard_url, rec.customer_id)
    annotations = {
        "summary": f"{rec.severity} model-extraction risk {rec.risk:.2f} for customer "
                   f"{rec.customer_id}",
        "reasons": reasons,
        "dashboard": link,
        "risk": f"{rec.risk:.4f}",
        "status": rec.status,
    }
    if rec.window_start_ms is not None and rec.window_end_ms is not None:
        annotations["window"] = f"{rfc3339(rec.window_start_ms)}/{rfc3339(rec.window_end_ms)}"
    if rec.cluster_id:
        annotations["cluster_members"] = ",".join(rec.cluster_members[:50])
        annotations["cluster_shared"] = ",".join(rec.cluster_shared)
    return {
        "labels": alert_labels(rec),
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": rfc3339(starts_ms),
        "endsAt": rfc3339(posted_ms + int(open_ttl_s * 1000)),
        "generatorURL": link,
    }


def resolved(alert: dict[str, Any], at_ms: int) -> dict[str, Any]:
    """``alert`` ended at ``at_ms`` (never before it started)."""
    starts = alert.get("startsAt", "")
    ends = rfc3339(at_ms)
    return {**alert, "endsAt": max(ends, starts)}  # same-format RFC 3339 UTC sorts as time


class Alertmanager:
    """Turns records into v2 API posts and keeps the label set of each open episode."""

    def __init__(self, url: str, *, dashboard_url: str, open_ttl_s: float = DEFAULT_OPEN_TTL_S,
                 max_open: int = 100_000, resend_interval_s: float = 60.0,
                 timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.dashboard_url = dashboard_url
        self.open_ttl_s = open_ttl_s
        self.max_open = max_open
        self.resend_interval_s = resend_interval_s
        self.timeout_s = timeout_s
        # alert_id -> the alert last posted for that open episode (bounded, oldest evicted)
        self.open: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.evicted = 0
        self._last_resend = time.monotonic()
        self._loaded = False

    # ----------------------------------------------------------------- state

    def load_open(self) -> None:
        """Rebuild the open-episode memory from Alertmanager's active alerts (at start-up)."""
        query = urllib.parse.urlencode({"filter": f'alertname="{ALERTNAME}"', "active": "true",
                                        "silenced": "true", "inhibited": "true"})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}",
                                        timeout=self.timeout_s) as resp:
                alerts = orjson.loads(resp.read())
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"{self.url}/api/v2/alerts unreachable: {exc}") from None
        for a in alerts if isinstance(alerts, list) else []:
            labels = a.get("labels") if isinstance(a, dict) else None
            if isinstance(labels, dict) and isinstance(labels.get("alert_id"), str):
                self._remember(labels["alert_id"], {
                    "labels": labels, "annotations": a.get("annotations", {}),
                    "startsAt": a.get("startsAt"), "endsAt": a.get("endsAt"),
                    "generatorURL": a.get("generatorURL", "")})
        self._loaded = True
        log.info("alertmanager: %d open episodes known to %s", len(self.open), self.url)

    def _remember(self, alert_id: str, alert: dict[str, Any]) -> None:
        self.open[alert_id] = alert
        self.open.move_to_end(alert_id)
        while len(self.open) > self.max_open:
            self.open.popitem(last=False)
            self.evicted += 1

    # ----------------------------------------------------------------- delivery

    def plan(self, records: Sequence[RiskAlert], now_ms: int) -> tuple[
            list[dict[str, Any]], dict[str, dict[str, Any] | None]]:
        """The alerts to post for ``records`` and the episode memory changes (applied later)."""
        posts: list[dict[str, Any]] = []
        changes: dict[str, dict[str, Any] | None] = {}
        for rec in records:
            previous = changes[rec.alert_id] if rec.alert_id in changes else self.open.get(
                rec.alert_id)
            if rec.status == "resolved":
                if previous is not None:
                    posts.append(resolved(previous, rec.emitted_at_ms or now_ms))
                changes[rec.alert_id] = None
                continue
            alert = to_alertmanager(rec, dashboard_url=self.dashboard_url,
                                    open_ttl_s=self.open_ttl_s, now_ms=now_ms)
            if previous is not None and previous["labels"] != alert["labels"]:
                posts.append(resolved(previous, rec.emitted_at_ms or now_ms))
                alert["startsAt"] = min(alert["startsAt"], previous.get("startsAt") or "~")
            posts.append(alert)
            changes[rec.alert_id] = alert
        return posts, changes

    def post(self, alerts: list[dict[str, Any]]) -> None:
        if alerts:
            post_json(f"{self.url}/api/v2/alerts", orjson.dumps(alerts),
                      timeout_s=self.timeout_s)

    def deliver(self, records: Sequence[RiskAlert]) -> None:
        if not self._loaded:
            self.load_open()
        posts, changes = self.plan(records, int(time.time() * 1000))
        self.post(posts)
        for alert_id, alert in changes.items():
            if alert is None:
                self.open.pop(alert_id, None)
            else:
                self._remember(alert_id, alert)

    def resend(self) -> None:
        """Re-post the open episodes now and then (Alertmanager forgets alerts on restart)."""
        if time.monotonic() - self._last_resend < self.resend_interval_s:
            return
        self._last_resend = time.monotonic()
        try:
            if not self._loaded:
                self.load_open()
            self.post(list(self.open.values()))
        except DeliveryError as exc:
            log.warning("alertmanager: re-posting %d open alerts failed: %s", len(self.open), exc)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="Alertmanager base URL (default: "
                                      "$STREAMER_ALERTMANAGER_URL or http://127.0.0.1:9093)")
    parser.add_argument("--open-ttl", type=float, default=DEFAULT_OPEN_TTL_S,
                        help="seconds an open episode stays firing without news (default 86400)")
    parser.add_argument("--resend-interval", type=float, default=60.0,
                        help="seconds between re-posts of open alerts (default: 60)")
    parser.add_argument("--max-open", type=int, default=100_000,
                        help="open episodes remembered (oldest forgotten; default 100000)")
    add_consumer_arguments(parser, topic_help="alerts topic (default: STREAMER_ALERTS_TOPIC)",
                           group_suffix="alertmanager")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    am = Alertmanager(args.url or settings.alertmanager_url,
                      dashboard_url=settings.dashboard_url or
                      f"http://{settings.web_host}:{settings.web_port}",
                      open_ttl_s=args.open_ttl, max_open=args.max_open,
                      resend_interval_s=args.resend_interval)
    sink: Sink[RiskAlert] = Sink("alertmanager", parse_risk_alert, am.deliver,
                                 backoff=Backoff(), tick=am.resend)
    return run_command(sink, settings, args, settings.alerts_topic, "alertmanager")
