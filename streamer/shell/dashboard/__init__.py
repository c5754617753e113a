"""The operator dashboard's bounded in-memory view, and its static page (``static/``).

The worker's web server serves ``static/index.html`` at ``/``; the page polls
``/api/overview`` (built by :meth:`OpsView.overview`) and ``/api/customers/{id}/risk``. All it
shows comes from this worker's own state: the live customer states of the processor (riskiest
now), the alerts this worker emitted (open alerts with their reasons, contributions and
baselines; clusters), a short risk history per recently risky customer, and rates computed
from the worker's own metrics. Nothing here holds prompt text: alerts and states never do.

Every collection has a cap, and its size is exported as ``streamer_dashboard_view_entries``.

>>> v = OpsView(max_customers=2, history_points=3)
>>> for i, cid in enumerate(["a", "b", "c"]):
...     v.record_risk(cid, ts_ms=1000 * i, risk=0.5)
>>> sorted(v.history)
['b', 'c']
>>> for t in range(5):
...     v.record_risk("c", ts_ms=t, risk=0.6)
>>> len(v.history["c"])
3
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

#: Files the page is made of (served at ``/`` and ``/dashboard/<name>``); nothing is loaded from
#: outside the worker at run time.
STATIC_FILES = ("index.html", "app.js", "style.css")
CONTENT_TYPES = {"html": "text/html", "js": "application/javascript", "css": "text/css"}


def static_file(name: str) -> tuple[bytes, str]:
    """The bytes and content type of one of :data:`STATIC_FILES`."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    data = resources.files(__package__).joinpath("static", name).read_bytes()
    return data, CONTENT_TYPES[name.rsplit(".", 1)[1]]


class OpsView:
    """Recent alerts and risk history of this worker, bounded.

    * ``open_alerts``: the latest alert of each customer whose episode is open (resolved ones
      are dropped), at most ``max_alerts`` (least recently updated dropped first);
    * ``history``: per recently risky customer (risk >= ``risk_floor`` once, or alerted), a
      ring of the last ``history_points`` (event time, risk) points; at most
      ``max_customers`` customers;
    * ``rates``: a ring of (wall time, processed, dead-lettered) samples for throughput.
    """

    def __init__(self, *, max_alerts: int = 200, max_customers: int = 500,
                 history_points: int = 240, risk_floor: float = 0.3,
                 rate_samples: int = 120) -> None:
        self.max_alerts = max_alerts
        self.max_customers = max_customers
        self.history_points = history_points
        self.risk_floor = risk_floor
        self.open_alerts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.history: OrderedDict[str, deque[tuple[int, float]]] = OrderedDict()
        self.rates: deque[tuple[float, float, float]] = deque(maxlen=rate_samples)
        self.alerts_seen = 0

    def sizes(self) -> dict[str, int]:
        return {"open_alerts": len(self.open_alerts), "risk_history": len(self.history),
                "risk_points": sum(len(h) for h in self.history.values()),
                "rate_samples": len(self.rates)}

    # --- recording ----------------------------------------------------------------------
    def record_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Alerts as emitted (the ``extraction-risk`` contract)."""
        for alert in alerts:
            self.alerts_seen += 1
            cid = str(alert.get("customer_id"))
            if alert.get("status") == "resolved":
                self.open_alerts.pop(cid, None)
            else:
                self.open_alerts[cid] = dict(alert)
                self.open_alerts.move_to_end(cid)
                while len(self.open_alerts) > self.max_alerts:
                    self.open_alerts.popitem(last=False)
            ts = alert.get("detected_at_ms")
            if isinstance(ts, int):
                self.record_risk(cid, ts, float(alert.get("risk") or 0.0), force=True)

    def record_risk(self, customer_id: str, ts_ms: int, risk: float,
                    force: bool = False) -> None:
        """One (event time, risk) point, kept if the customer is (or was recently) risky."""
        ring = self.history.get(customer_id)
        if ring is None:
            if risk < self.risk_floor and not force:
                return
            ring = self.history[customer_id] = deque(maxlen=self.history_points)
            while len(self.history) > self.max_customers:
                self.history.popitem(last=False)
        else:
            self.history.move_to_end(customer_id)
        if ring and ring[-1][0] == ts_ms:
            ring[-1] = (ts_ms, max(ring[-1][1], risk))
        else:
            ring.append((ts_ms, round(risk, 4)))

    def record_states(self, states: Iterable[tuple[str, int, float]]) -> None:
        """(customer, last event time, risk) of the customers a batch changed."""
        for cid, ts, risk in states:
            self.record_risk(cid, ts, risk)

    def sample_rates(self, processed: float, dead_lettered: float,
                     now_s: float | None = None) -> None:
        self.rates.append((time.time() if now_s is None else now_s, processed, dead_lettered))

    # --- reading ------------------------------------------------------------------------
    def throughput(self, window_s: float = 30.0) -> dict[str, float]:
        """Events/s and dead letters/s over about the last ``window_s`` seconds.

        >>> v = OpsView()
        >>> v.sample_rates(0, 0, now_s=100.0); v.sample_rates(50, 5, now_s=110.0)
        >>> v.throughput()
        {'events_per_s': 5.0, 'dead_letters_per_s': 0.5}
        """
        if len(self.rates) < 2:
            return {"events_per_s": 0.0, "dead_letters_per_s": 0.0}
        last = self.rates[-1]
        first = next((s for s in self.rates if last[0] - s[0] <= window_s), self.rates[0])
        if first is last:
            first = self.rates[-2]
        dt = max(last[0] - first[0], 1e-9)
        return {"events_per_s": round((last[1] - first[1]) / dt, 3),
                "dead_letters_per_s": round((last[2] - first[2]) / dt, 3)}

    def clusters(self, limit: int = 10) -> list[dict[str, Any]]:
        """Clusters of the open alerts, riskiest first."""
        by_id: dict[str, dict[str, Any]] = {}
        for alert in self.open_alerts.values():
            cluster = alert.get("cluster")
            if not isinstance(cluster, Mapping):
                continue
            cid = str(cluster.get("cluster_id"))
            entry = by_id.setdefault(cid, {"cluster_id": cid, "risk": 0.0, "members": set(),
                                           "shared": list(cluster.get("shared") or []),
                                           "alerting": 0})
            entry["risk"] = max(entry["risk"], float(alert.get("risk") or 0.0))
            entry["members"].update(str(m) for m in cluster.get("members") or [])
            entry["alerting"] += 1
        top = heapq.nlargest(limit, by_id.values(), key=lambda e: e["risk"])
        return [{**e, "members": sorted(e["members"]), "size": len(e["members"])} for e in top]

    def overview(self, riskiest: list[dict[str, Any]], metrics: Mapping[str, Any]
                 ) -> dict[str, Any]:
        """The JSON the page polls."""
        alerts = sorted(self.open_alerts.values(), key=lambda a: -float(a.get("risk") or 0.0))
        return {
            "riskiest_customers": riskiest,
            "clusters": self.clusters(),
            "open_alerts": [_alert_card(a) for a in alerts[:50]],
            "throughput": self.throughput(),
            "metrics": dict(metrics),
            "history_customers": list(reversed(self.history.keys()))[:50],
            "view": self.sizes(),
        }

    def risk_history(self, customer_id: str) -> list[dict[str, Any]]:
        return [{"ts_ms": t, "risk": r} for t, r in self.history.get(customer_id, ())]


def _alert_card(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an alert the page shows (reasons with value, baseline, contribution)."""
    keep = ("alert_id", "customer_id", "risk", "severity", "status", "detected_at",
            "emitted_at", "tactics", "events_in_window", "events_total", "cluster")
    card = {k: alert.get(k) for k in keep}
    card["reasons"] = [
        {k: r.get(k) for k in ("signal", "value", "baseline", "contribution", "description")}
        for r in alert.get("reasons") or [] if isinstance(r, Mapping)]
    return card


def riskiest(states: Iterable[tuple[str, Any]], limit: int = 15) -> list[dict[str, Any]]:
    """The ``limit`` riskiest of (customer id, ``CustomerState``) pairs, as JSON rows."""
    top = heapq.nlargest(limit, states, key=lambda kv: kv[1].risk)
    return [{"customer_id": cid, "risk": round(st.risk, 4),
             "episode_open": st.episode.is_open,
             "severity": st.episode.severity if st.episode.is_open else None,
             "events_total": st.events_total, "last_event_ts_ms": st.profile.last_ts_ms}
            for cid, st in top if st.risk > 0]
