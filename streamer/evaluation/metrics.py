"""Detection metrics computed from ground-truth labels and the detector's outputs. Pure: no I/O.

Inputs
------
``labels``
    The simulator's ground truth (``Simulation.labels``): ``customers`` maps each customer id to
    ``{"role": "ordinary"|"campaign", "archetype", "lookalike", "campaign_id", "tactic",
    "active_from_ms", "active_to_ms"}`` and ``campaigns`` maps each campaign id to
    ``{"tactic", "start_ms", "end_ms", "accounts", "hydra"}``.
``alerts``
    Every alert *message* the detector emitted (one ``alert_id`` may be emitted several times as
    it escalates or resolves). Fields used: ``alert_id``, ``customer_id``, ``severity``,
    ``risk``, ``detected_at_ms`` (or ``detected_at``).
``event_times``
    For each customer, the sorted event times (epoch ms) of its events in the stream, see
    :class:`StreamStats`.
``features``
    Optional feature records (``customer_id``, ``risk``, ``window_end_ms``); only used for the
    threshold curve.

Definitions
-----------
*Flagged* means an alert message of severity **medium or above** (a human should look).

* **Onset** of a campaign account: its ``active_from_ms``, or its campaign's ``start_ms`` when
  the label has none.
* **Account detected**: the campaign account has a flagged alert with event time
  (``detected_at_ms``) at or after its onset. Alerts before the onset never count as detection.
* **Campaign detected**: at least one of its accounts has a flagged alert at or after the
  campaign's ``start_ms``. For hydra campaigns the fraction of its accounts detected is reported
  too (``account_fraction``).
* **Campaign recall** = campaigns detected / campaigns; **account recall** = campaign accounts
  detected / campaign accounts. Both per tactic and overall.
* **Ordinary FPR** = ordinary customers with any flagged alert (at any time) / ordinary
  customers; also restricted to look-alikes (ordinary customers labelled ``lookalike``) and per
  archetype. Customers that appear in alerts or events but not in the labels count as ordinary
  with archetype ``"unlabelled"``.
* **Precision** = campaign accounts detected / customers with any flagged alert.
* **Time to detect (event time)** of a detected account = its first qualifying flagged alert's
  ``detected_at_ms`` minus its onset, in minutes; median and p90 over detected accounts.
  **Campaign time to detect** = first qualifying detection of any account minus campaign start.
* **Time to detect (queries)** = number of the account's events with onset <= ts <= the first
  qualifying alert's ``detected_at_ms`` (the triggering event included); median and p90.
* **Noise**: per customer with a flagged alert, the number of distinct flagged ``alert_id`` s and
  of flagged alert messages (mean / median / max). ``noise_all_severities`` is the same over
  every alert message, low included, and every customer with any alert.
* **Threshold curve**: each customer's maximum risk over the whole run (from feature records and
  alerts; 0 when it has none); for each threshold t the customers with max risk >= t are
  "positive": recall over campaign accounts, precision, ordinary FPR and look-alike FPR. It ignores
  timing (a campaign account's risk before its onset counts), so it is a ranking diagnostic, not a
  replacement for the definitions above.

Percentiles interpolate linearly between order statistics (numpy's default).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from streamer.core.alerts import rank
from streamer.core.events import parse_ts
from streamer.core.outputs import SEVERITIES

#: Alert severities, lowest first (``none`` only marks a resolution).
ALERT_SEVERITIES: tuple[str, ...] = tuple(s for s in SEVERITIES if s != "none")
FLAG_SEVERITY = "medium"
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(i * 0.05, 2) for i in range(21))
MS_PER_MINUTE = 60_000.0


def severity_rank(severity: object) -> int:
    """Rank of a severity name; unknown or missing severities rank below ``low``.

    >>> severity_rank("high") > severity_rank("medium") > severity_rank("low") > severity_rank(None)
    True
    """
    if not isinstance(severity, str) or severity not in ALERT_SEVERITIES:
        return -1
    return rank(severity)


def is_flagged(alert: Mapping[str, Any]) -> bool:
    """True when the alert message's severity is medium or above.

    >>> is_flagged({"severity": "medium"}), is_flagged({"severity": "low"})
    (True, False)
    """
    return severity_rank(alert.get("severity")) >= rank(FLAG_SEVERITY)


def alert_time_ms(alert: Mapping[str, Any]) -> int:
    """Event time of an alert: ``detected_at_ms``, else ``detected_at`` parsed.

    >>> alert_time_ms({"detected_at": "2026-01-01T00:00:00Z"})
    1767225600000
    """
    value = alert.get("detected_at_ms")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return parse_ts(alert.get("detected_at"), "detected_at")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation; ``None`` for no values.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    >>> percentile([10, 20], 90)
    19.0
    >>> percentile([], 50) is None
    True
    """
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(slots=True)
class StreamStats:
    """Per-customer event times, accumulated while the stream is replayed.

    >>> s = StreamStats()
    >>> for cid, ts in [("a", 5), ("b", 1), ("a", 2)]:
    ...     s.add(cid, ts)
    >>> s.events, s.times()
    (3, {'a': [2, 5], 'b': [1]})
    """

    events: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    _times: dict[str, list[int]] = field(default_factory=dict)

    def add(self, customer_id: str, ts_ms: int) -> None:
        self.events += 1
        self._times.setdefault(customer_id, []).append(ts_ms)
        self.first_ms = ts_ms if self.first_ms is None else min(self.first_ms, ts_ms)
        self.last_ms = ts_ms if self.last_ms is None else max(self.last_ms, ts_ms)

    def add_event(self, event: Mapping[str, Any]) -> None:
        """Add one event dict of the input contract."""
        self.add(str(event["customer_id"]), parse_ts(event["ts"]))

    def times(self) -> dict[str, list[int]]:
        """Sorted event times per customer (sorted in place once)."""
        for ts in self._times.values():
            ts.sort()
        return self._times


def customer_event_times(events: Iterable[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Sorted event times per customer from event dicts of the input contract.

    >>> customer_event_times([{"customer_id": "c", "ts": "2026-01-01T00:00:01Z"},
    ...                       {"customer_id": "c", "ts": 1767225600000}])
    {'c': [1767225600000, 1767225601000]}
    """
    stats = StreamStats()
    for event in events:
        stats.add_event(event)
    return stats.times()


@dataclass(slots=True)
class Distribution:
    """Summary of a sample (e.g. times to detect); ``None`` fields when it is empty."""

    count: int
    median: float | None
    p90: float | None
    mean: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        """
        >>> Distribution.of([1.0, 3.0])
        Distribution(count=2, median=2.0, p90=2.8, mean=2.0, max=3.0)
        """
        if not values:
            return cls(0, None, None, None, None)
        return cls(
            count=len(values),
            median=percentile(values, 50),
            p90=percentile(values, 90),
            mean=sum(values) / len(values),
            max=float(max(values)),
        )


@dataclass(slots=True)
class AccountOutcome:
    """What happened to one campaign account."""

    customer_id: str
    campaign_id: str
    tactic: str
    onset_ms: int
    events: int
    detected: bool
    first_detection_ms: int | None
    ttd_minutes: float | None
    ttd_queries: int | None
    max_severity: str | None


@dataclass(slots=True)
class CampaignOutcome:
    """What happened to one campaign."""

    campaign_id: str
    tactic: str
    hydra: bool
    start_ms: int
    end_ms: int
    accounts: int
    accounts_detected: int
    account_fraction: float | None
    detected: bool
    first_detection_ms: int | None
    ttd_minutes: float | None


@dataclass(slots=True)
class TacticMetrics:
    """Recall and time to detect for one tactic (or ``"all"``)."""

    tactic: str
    campaigns: int
    campaigns_detected: int
    campaign_recall: float | None
    accounts: int
    accounts_detected: int
    account_recall: float | None
    ttd_minutes: Distribution
    ttd_queries: Distribution
    campaign_ttd_minutes: Distribution
    hydra_campaigns: int
    hydra_account_fraction: float | None


@dataclass(slots=True)
class Rate:
    """``alerted`` of ``total`` customers; ``rate`` is ``None`` when ``total`` is 0."""

    alerted: int
    total: int
    rate: float | None


@dataclass(slots=True)
class Noise:
    """Alerts per alerted customer."""

    alerted_customers: int
    alert_ids_per_customer: Distribution
    messages_per_customer: Distribution


@dataclass(slots=True)
class ThresholdPoint:
    """One point of the precision/recall-vs-threshold curve."""

    threshold: float
    positives: int
    recall: float | None
    precision: float | None
    fpr: float | None
    lookalike_fpr: float | None


@dataclass(slots=True)
class EvalMetrics:
    """Everything :func:`compute_metrics` measures. ``to_dict`` is JSON-able."""

    customers: int
    ordinary_customers: int
    lookalike_customers: int
    campaign_accounts: int
    campaigns: int
    events: int
    overall: TacticMetrics
    per_tactic: dict[str, TacticMetrics]
    ordinary_fpr: Rate
    lookalike_fpr: Rate
    fpr_by_archetype: dict[str, Rate]
    flagged_customers: int
    precision: float | None
    noise: Noise
    noise_all_severities: Noise
    threshold_curve: list[ThresholdPoint]
    campaign_outcomes: list[CampaignOutcome]
    account_outcomes: list[AccountOutcome]
    false_positive_customers: list[str]
    severity_floors: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Customer:
    role: str
    archetype: str
    lookalike: bool
    campaign_id: str | None


def _customers(
    labels: Mapping[str, Any], extra_ids: Iterable[str]
) -> tuple[dict[str, _Customer], dict[str, str]]:
    """Label of every customer (unlabelled ones as ordinary) and campaign of each account."""
    campaigns: Mapping[str, Any] = labels.get("campaigns") or {}
    account_campaign: dict[str, str] = {}
    for campaign_id, campaign in campaigns.items():
        for cid in campaign.get("accounts") or ():
            account_campaign[str(cid)] = str(campaign_id)
    out: dict[str, _Customer] = {}
    for cid, info in (labels.get("customers") or {}).items():
        camp_of = account_campaign.get(cid) or info.get("campaign_id")
        is_campaign = info.get("role") == "campaign" or cid in account_campaign
        role = "campaign" if is_campaign else "ordinary"
        if role == "campaign" and camp_of is not None:
            account_campaign.setdefault(cid, str(camp_of))
        out[cid] = _Customer(
            role=role,
            archetype=str(info.get("archetype") or "unknown"),
            lookalike=bool(info.get("lookalike")),
            campaign_id=str(camp_of) if camp_of is not None else None,
        )
    for cid in list(account_campaign):
        if cid not in out:
            out[cid] = _Customer("campaign", "unknown", False, account_campaign[cid])
    for cid in extra_ids:
        if cid not in out:
            out[cid] = _Customer("ordinary", "unlabelled", False, None)
    return out, account_campaign


def _noise(alerts: Iterable[Mapping[str, Any]]) -> Noise:
    ids: dict[str, set[str]] = defaultdict(set)
    messages: dict[str, int] = defaultdict(int)
    for alert in alerts:
        cid = str(alert.get("customer_id"))
        ids[cid].add(str(alert.get("alert_id")))
        messages[cid] += 1
    return Noise(
        alerted_customers=len(ids),
        alert_ids_per_customer=Distribution.of([float(len(v)) for v in ids.values()]),
        messages_per_customer=Distribution.of([float(v) for v in messages.values()]),
    )


def max_risk_by_customer(
    alerts: Iterable[Mapping[str, Any]], features: Iterable[Mapping[str, Any]] = ()
) -> dict[str, float]:
    """Each customer's maximum ``risk`` over alerts and feature records.

    >>> max_risk_by_customer([{"customer_id": "a", "risk": 0.7}],
    ...                      [{"customer_id": "a", "risk": 0.9}])
    {'a': 0.9}
    """
    out: dict[str, float] = {}
    for record in (*alerts, *features):
        risk = record.get("risk")
        if isinstance(risk, int | float) and not isinstance(risk, bool):
            cid = str(record.get("customer_id"))
            out[cid] = max(out.get(cid, 0.0), float(risk))
    return out


def severity_floors(alerts: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Lowest risk observed per severity (over alerts and/or feature records): an estimate of
    the detector's severity thresholds, used to draw them on plots.

    >>> severity_floors([{"severity": "high", "risk": 0.8}, {"severity": "high", "risk": 0.75}])
    {'high': 0.75}
    """
    out: dict[str, float] = {}
    for alert in alerts:
        sev, risk = alert.get("severity"), alert.get("risk")
        if sev in ALERT_SEVERITIES and isinstance(risk, int | float):
            out[sev] = min(out.get(sev, float(risk)), float(risk))
    return dict(sorted(out.items(), key=lambda kv: rank(kv[0])))


def threshold_curve(
    labels: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]],
    features: Iterable[Mapping[str, Any]] = (),
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    extra_customers: Iterable[str] = (),
) -> list[ThresholdPoint]:
    """Recall/precision/FPR when flagging every customer whose max risk reaches a threshold."""
    risk = max_risk_by_customer(alerts, features)
    customers, _ = _customers(labels, [*risk, *extra_customers])
    campaign = [c for c, info in customers.items() if info.role == "campaign"]
    ordinary = [c for c, info in customers.items() if info.role == "ordinary"]
    lookalike = [c for c in ordinary if customers[c].lookalike]
    points = []
    for t in thresholds:
        hit = {c for c in customers if risk.get(c, 0.0) >= t}
        tp = sum(1 for c in campaign if c in hit)
        points.append(
            ThresholdPoint(
                threshold=float(t),
                positives=len(hit),
                recall=_ratio(tp, len(campaign)),
                precision=_ratio(tp, len(hit)),
                fpr=_ratio(sum(1 for c in ordinary if c in hit), len(ordinary)),
                lookalike_fpr=_ratio(sum(1 for c in lookalike if c in hit), len(lookalike)),
            )
        )
    return points


def _tactic_metrics(
    tactic: str, campaigns: Sequence[CampaignOutcome], accounts: Sequence[AccountOutcome]
) -> TacticMetrics:
    detected = [a for a in accounts if a.detected]
    hydra = [c for c in campaigns if c.hydra and c.account_fraction is not None]
    return TacticMetrics(
        tactic=tactic,
        campaigns=len(campaigns),
        campaigns_detected=sum(1 for c in campaigns if c.detected),
        campaign_recall=_ratio(sum(1 for c in campaigns if c.detected), len(campaigns)),
        accounts=len(accounts),
        accounts_detected=len(detected),
        account_recall=_ratio(len(detected), len(accounts)),
        ttd_minutes=Distribution.of([a.ttd_minutes for a in detected if a.ttd_minutes is not None]),
        ttd_queries=Distribution.of(
            [float(a.ttd_queries) for a in detected if a.ttd_queries is not None]
        ),
        campaign_ttd_minutes=Distribution.of(
            [c.ttd_minutes for c in campaigns if c.ttd_minutes is not None]
        ),
        hydra_campaigns=len(hydra),
        hydra_account_fraction=(
            sum(c.account_fraction or 0.0 for c in hydra) / len(hydra) if hydra else None
        ),
    )


def compute_metrics(
    labels: Mapping[str, Any],
    alerts: Sequence[Mapping[str, Any]],
    event_times: Mapping[str, Sequence[int]],
    features: Sequence[Mapping[str, Any]] = (),
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> EvalMetrics:
    """All metrics of the module docstring for one run."""
    customers, account_campaign = _customers(
        labels, [*event_times, *(str(a.get("customer_id")) for a in alerts)]
    )
    campaigns_labels: Mapping[str, Any] = labels.get("campaigns") or {}
    cust_labels: Mapping[str, Any] = labels.get("customers") or {}

    flagged = [a for a in alerts if is_flagged(a)]
    flagged_times: dict[str, list[int]] = defaultdict(list)
    max_sev: dict[str, str] = {}
    for alert in flagged:
        cid = str(alert.get("customer_id"))
        flagged_times[cid].append(alert_time_ms(alert))
        sev = str(alert.get("severity"))
        if severity_rank(sev) > severity_rank(max_sev.get(cid)):
            max_sev[cid] = sev
    for times in flagged_times.values():
        times.sort()

    def first_at_or_after(cid: str, start_ms: int) -> int | None:
        times = flagged_times.get(cid, [])
        i = bisect_left(times, start_ms)
        return times[i] if i < len(times) else None

    account_outcomes: list[AccountOutcome] = []
    campaign_outcomes: list[CampaignOutcome] = []
    for campaign_id in sorted(campaigns_labels):
        camp = campaigns_labels[campaign_id]
        start = int(camp.get("start_ms", 0))
        tactic = str(camp.get("tactic") or "unknown")
        members = sorted(c for c, k in account_campaign.items() if k == campaign_id)
        first_campaign_hit: int | None = None
        n_detected = 0
        for cid in members:
            info = cust_labels.get(cid) or {}
            active_from = info.get("active_from_ms")
            onset = int(active_from) if active_from is not None else start
            ts = event_times.get(cid, ())
            hit = first_at_or_after(cid, onset)
            queries = None
            if hit is not None:
                n_detected += 1
                queries = bisect_right(ts, hit) - bisect_left(ts, onset)
            account_outcomes.append(
                AccountOutcome(
                    customer_id=cid,
                    campaign_id=str(campaign_id),
                    tactic=tactic,
                    onset_ms=onset,
                    events=len(ts),
                    detected=hit is not None,
                    first_detection_ms=hit,
                    ttd_minutes=None if hit is None else (hit - onset) / MS_PER_MINUTE,
                    ttd_queries=queries,
                    max_severity=max_sev.get(cid),
                )
            )
            camp_hit = first_at_or_after(cid, start)
            if camp_hit is not None:
                first_campaign_hit = min(camp_hit, first_campaign_hit or camp_hit)
        campaign_outcomes.append(
            CampaignOutcome(
                campaign_id=str(campaign_id),
                tactic=tactic,
                hydra=bool(camp.get("hydra")),
                start_ms=start,
                end_ms=int(camp.get("end_ms", start)),
                accounts=len(members),
                accounts_detected=n_detected,
                account_fraction=_ratio(n_detected, len(members)),
                detected=first_campaign_hit is not None,
                first_detection_ms=first_campaign_hit,
                ttd_minutes=(
                    None if first_campaign_hit is None
                    else (first_campaign_hit - start) / MS_PER_MINUTE
                ),
            )
        )

    per_tactic = {
        tactic: _tactic_metrics(
            tactic,
            [c for c in campaign_outcomes if c.tactic == tactic],
            [a for a in account_outcomes if a.tactic == tactic],
        )
        for tactic in sorted({c.tactic for c in campaign_outcomes})
    }
    overall = _tactic_metrics("all", campaign_outcomes, account_outcomes)

    ordinary = sorted(c for c, info in customers.items() if info.role == "ordinary")
    fp = [c for c in ordinary if c in flagged_times]
    lookalike = [c for c in ordinary if customers[c].lookalike]
    by_arch: dict[str, list[str]] = defaultdict(list)
    for c in ordinary:
        by_arch[customers[c].archetype].append(c)
    fpr_by_archetype = {
        arch: Rate(
            alerted=sum(1 for c in members if c in flagged_times),
            total=len(members),
            rate=_ratio(sum(1 for c in members if c in flagged_times), len(members)),
        )
        for arch, members in sorted(by_arch.items())
    }
    la_fp = sum(1 for c in lookalike if c in flagged_times)
    true_pos = sum(1 for a in account_outcomes if a.detected)

    return EvalMetrics(
        customers=len(customers),
        ordinary_customers=len(ordinary),
        lookalike_customers=len(lookalike),
        campaign_accounts=len(account_outcomes),
        campaigns=len(campaign_outcomes),
        events=sum(len(v) for v in event_times.values()),
        overall=overall,
        per_tactic=per_tactic,
        ordinary_fpr=Rate(len(fp), len(ordinary), _ratio(len(fp), len(ordinary))),
        lookalike_fpr=Rate(la_fp, len(lookalike), _ratio(la_fp, len(lookalike))),
        fpr_by_archetype=fpr_by_archetype,
        flagged_customers=len(flagged_times),
        precision=_ratio(true_pos, len(flagged_times)),
        noise=_noise(flagged),
        noise_all_severities=_noise(alerts),
        threshold_curve=threshold_curve(
            labels, alerts, features, thresholds, extra_customers=customers
        ),
        campaign_outcomes=campaign_outcomes,
        account_outcomes=account_outcomes,
        false_positive_customers=fp,
        severity_floors=severity_floors([*alerts, *features]),
    )
