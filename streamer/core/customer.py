"""The per-customer stage: ``step(state, event, population) -> (state, outputs)``.

For each event of one customer, in order:

1. drop a repeated ``event_id`` (a bounded ring of recent id hashes) — processed once;
2. close the event-time window if the event lies past it: emit its :class:`FeatureRecord`, and —
   only if the window was not flagged — let the customer's drift model and the population learn it;
3. fold the event into the profile, compute the signals, score them *before* learning anything
   from them (drift and population score first, learn at window close);
4. run the alert lifecycle and emit an :class:`Alert` on open / escalate / resolve;
5. now and then, tell the cluster stage which fingerprints this account uses and how much
   extraction evidence its content carries (:class:`ClusterSignal`).

State is mutated in place and returned, so the caller decides when to persist it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from streamer.core import scoring
from streamer.core.alerts import QUIET_MS, Episode, rank
from streamer.core.clusters import SUSPICIOUS
from streamer.core.context import account_risk, account_trust, asn_number
from streamer.core.drift import CustomerDrift
from streamer.core.events import InferenceEvent
from streamer.core.fingerprints import stable_hash64
from streamer.core.ledger import Handled
from streamer.core.markers import TOPICS
from streamer.core.outputs import (
    Alert,
    ClusterInfo,
    ClusterSignal,
    ClusterVerdict,
    FeatureRecord,
    Feedback,
    Reason,
)
from streamer.core.population import Population
from streamer.core.profile import INDICATORS, CustomerProfile
from streamer.core.scoring import (
    SEVERITY_THRESHOLDS,
    logit,
    ramps,
    risk_of,
    score,
    severity_of,
    tactics_of,
)

WINDOW_MS = 5 * 60_000
ALLOWED_LATENESS_MS = WINDOW_MS
MIN_EVENTS = 8
MIN_EVENTS_IN_CLUSTER = 4  # a live cluster verdict vouches for the evidence of a young head
FIRST_CLUSTER_SIGNAL = 4
SEEN_IDS = 512
CLUSTER_SIGNAL_EVERY = 20
CLUSTER_TTL_MS = 6 * 3_600_000
CONTENT_SIGNALS: tuple[str, ...] = (
    "harvest_rate", "cot_rate", "rubric_rationale_rate", "self_instruct_rate",
    "mean_log_output", "logprob_probe_rate", "logit_bias_rate", "settings_entropy",
    "tool_code_focus", "reasoning_share",
)
_MEDIUM_LOGIT = logit(dict(SEVERITY_THRESHOLDS)["medium"])

Output = Alert | FeatureRecord | ClusterSignal


@dataclass(slots=True)
class ClusterMembership:
    cluster_id: str = ""
    members: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    evidence: float = 0.0
    ts_ms: int = 0


@dataclass(slots=True)
class FeedbackState:
    allowlisted_until_ms: int = 0
    confirmed: bool = False
    offset: float = 0.0
    damped: dict[str, float] = field(default_factory=dict)
    taught_episode: int = -1  # the episode whose verdict last taught the shared model


@dataclass(slots=True)
class CustomerState:
    """Everything the detector remembers about one customer (a few KB; see ``make bench``)."""

    customer_id: str
    events_total: int = 0
    duplicates: int = 0
    last_offset: int = -1
    #: input offsets of the partition handled when this state was written (exact replays)
    handled: Handled = field(default_factory=Handled)
    seen_ids: list[int] = field(default_factory=list)
    profile: CustomerProfile = field(default_factory=CustomerProfile)
    drift: CustomerDrift = field(default_factory=CustomerDrift)
    window_start_ms: int = -1
    window_events: int = 0
    window_max_risk: float = 0.0
    window_flagged: bool = False
    signals: dict[str, float] = field(default_factory=dict)
    risk: float = 0.0
    episode: Episode = field(default_factory=Episode)
    cluster: ClusterMembership = field(default_factory=ClusterMembership)
    feedback: FeedbackState = field(default_factory=FeedbackState)
    tokens: dict[str, str] = field(default_factory=dict)
    alert_signals: list[str] = field(default_factory=list)
    heard_at_ms: int = 0
    account_age_days: float | None = None
    channel: str | None = None
    asn: str | None = None
    #: ``set(seen_ids)``: derived (rebuilt when its size disagrees with the list), never stored
    seen_set: set[int] = field(default_factory=set, repr=False, compare=False,
                               metadata={"transient": True})


def _id_hash(event_id: str) -> int:
    return stable_hash64("id:" + event_id)


def _seen(state: CustomerState) -> set[int]:
    """``set(state.seen_ids)``, kept alongside the list (rebuilt if they disagree in size)."""
    seen = state.seen_set
    if len(seen) != len(state.seen_ids):
        seen.clear()
        seen.update(state.seen_ids)
    return seen


def is_duplicate(state: CustomerState, event: InferenceEvent) -> bool:
    """Was this ``event_id`` processed recently for this customer?"""
    return _id_hash(event.event_id) in _seen(state)


def _remember_id(state: CustomerState, id_hash: int) -> None:
    ids, seen = state.seen_ids, _seen(state)
    ids.append(id_hash)
    seen.add(id_hash)
    if len(ids) > SEEN_IDS:
        drop = len(ids) - SEEN_IDS
        seen.difference_update(ids[:drop])
        del ids[:drop]
        if len(seen) != len(ids):  # a repeated id in a decoded list: rebuild
            seen.clear()
            seen.update(ids)


def _update_context(state: CustomerState, event: InferenceEvent) -> None:
    acc = event.account
    if acc.created_at_ms is not None:
        state.account_age_days = max(0.0, (event.ts_ms - acc.created_at_ms) / 86_400_000)
    if acc.signup_channel:
        state.channel = acc.signup_channel
    if event.client.asn:
        state.asn = event.client.asn
    tokens = state.tokens
    if event.client.tls_fingerprint:
        tokens["tls_fingerprint"] = event.client.tls_fingerprint
    if acc.payment_fingerprint:
        tokens["payment_fingerprint"] = acc.payment_fingerprint
    if event.system_prompt_hash:
        tokens["system_prompt"] = event.system_prompt_hash
    if event.client.asn and event.client.user_agent:
        tokens["asn_user_agent"] = _asn_user_agent(event.client.asn, event.client.user_agent)


@functools.lru_cache(maxsize=4096)
def _asn_user_agent(asn: str, user_agent: str) -> str:
    """The ``asn_user_agent`` cluster token (a customer sends the same pair again and again)."""
    ua = hashlib.blake2b(user_agent.encode(), digest_size=6).hexdigest()
    return f"{asn_number(asn)}/{ua}"


_R = {name: i for i, name in enumerate(INDICATORS)}
(_HAS_TEXT, _HARVEST, _COT, _RUBRIC_RATIONALE, _SELF_INSTRUCT, _NOVEL, _RERUN, _LOGPROB_PROBE,
 _LOGIT_BIAS, _SATURATED, _REASONING_SHARE, _NEW_MODEL, _ERROR, _TOOL_USE, _LOG_OUTPUT,
 _LOG_INPUT) = (_R[n] for n in (
    "has_text", "harvest", "cot", "rubric_rationale", "self_instruct", "novel", "rerun",
    "logprob_probe", "logit_bias", "saturated", "reasoning_share", "new_model", "error",
    "tool_use", "log_output", "log_input"))
_CODE_TOPIC = TOPICS.index("code")


def compute_signals(state: CustomerState, population: Population) -> dict[str, float]:
    """Signal values (see :mod:`streamer.core.scoring`) from the profile and context."""
    p = state.profile
    r = p.rates()
    text = r[_HAS_TEXT]
    # per-text rates: among events that carried prompt text (0 for a text-less gateway)
    if text > 0.05:
        harvest, cot, rubric_rationale = r[_HARVEST] / text, r[_COT] / text, \
            r[_RUBRIC_RATIONALE] / text
        self_instruct, novel, rerun = r[_SELF_INSTRUCT] / text, r[_NOVEL] / text, \
            r[_RERUN] / text
    else:
        harvest = cot = rubric_rationale = self_instruct = novel = rerun = 0.0
    topics = p.topics
    code_share = topics[_CODE_TOPIC] / max(1e-9, sum(topics))
    topic_entropy = p.topic_entropy()
    cv = p.inter_arrival_cv()
    active_hours = float(p.active_hours_last_day())
    s: dict[str, float] = {
        "requests_per_hour": p.requests_per_hour(),
        "harvest_rate": harvest,
        "cot_rate": cot,
        "rubric_rationale_rate": rubric_rationale,
        "self_instruct_rate": self_instruct,
        "novel_rate": novel,
        "rerun_rate": rerun,
        "logprob_probe_rate": r[_LOGPROB_PROBE],
        "logit_bias_rate": r[_LOGIT_BIAS],
        "saturated_rate": r[_SATURATED],
        "reasoning_share": r[_REASONING_SHARE],
        "new_model_rate": r[_NEW_MODEL],
        "error_rate": r[_ERROR],
        "tool_code_focus": max(r[_TOOL_USE], code_share) * (1.0 - topic_entropy / 3.2),
        "mean_log_output": r[_LOG_OUTPUT],
        "mean_log_input": r[_LOG_INPUT],
        "topic_entropy": topic_entropy if text > 0.05 else 0.0,
        "settings_entropy": p.settings_entropy(),
        "inter_arrival_cv": cv,
        "machine_pacing": max(0.0, 1.0 - cv) if p.gap_n >= 8 else 0.0,
        "active_hours_last_day": active_hours,
        "round_the_clock": active_hours if p.observed_hours() >= 20 else 0.0,
        "account_risk": account_risk(state.account_age_days, state.channel, state.asn),
        "account_trust": account_trust(state.account_age_days, state.channel),
    }
    drift_z, _ = state.drift.score_one(s)
    s["drift_z"] = drift_z
    s["population_outlier"] = population.score_window(s)
    live = p.last_ts_ms - state.cluster.ts_ms < CLUSTER_TTL_MS
    s["cluster_evidence"] = state.cluster.evidence if live else 0.0
    return s


def content_evidence(signals: dict[str, float]) -> float:
    """0..1: extraction evidence in *what* an account asks, regardless of volume or context."""
    evidence = ramps({name: signals.get(name, 0.0) for name in CONTENT_SIGNALS})
    total = sum(scoring.SIGNAL_BY_NAME[name].weight * r for name, r in evidence.items())
    return min(1.0, max(0.0, total / content_full_evidence()))


def content_full_evidence() -> float:
    """Log-odds of content evidence that count as 1.0 for clusters: the distance from the
    prior to *medium* (what one account would need to alert on its own)."""
    return max(1.0, _MEDIUM_LOGIT - scoring.PRIOR)


def _close_window(state: CustomerState, population: Population) -> FeatureRecord:
    record = FeatureRecord(
        customer_id=state.customer_id,
        window_start_ms=state.window_start_ms,
        window_end_ms=state.window_start_ms + WINDOW_MS,
        events_in_window=state.window_events,
        events_total=state.events_total,
        risk=state.window_max_risk,
        severity=None if severity_of(state.window_max_risk) == "none"
        else severity_of(state.window_max_risk),
        features=dict(state.signals),
    )
    if state.signals and not state.window_flagged and not state.feedback.confirmed:
        state.drift.learn_one(state.signals)
        population.learn_window(state.signals, state.window_start_ms)
    state.window_events = 0
    state.window_max_risk = 0.0
    state.window_flagged = False
    return record


def _alert(state: CustomerState, status: str, severity: str, ts_ms: int, event_id: str,
           reasons: Sequence[Reason]) -> Alert:
    rs = tuple(reasons)
    cluster = None
    pooled = scoring.RAMP_BY_NAME["cluster_evidence"].ramp(
        state.signals.get("cluster_evidence", 0.0))
    if pooled > 0 and state.cluster.cluster_id:  # cluster context only when it is evidence
        cluster = ClusterInfo(state.cluster.cluster_id, state.cluster.members,
                              state.cluster.shared)
    return Alert(
        alert_id=state.episode.alert_id, customer_id=state.customer_id, risk=state.risk,
        severity=severity, status=status, detected_at_ms=ts_ms, trigger_event_id=event_id,
        window_start_ms=max(0, state.window_start_ms), window_end_ms=ts_ms,
        events_in_window=state.window_events, events_total=state.events_total,
        reasons=rs[:6], tactics=tactics_of(list(rs)), cluster=cluster,
    )


def _evaluate(state: CustomerState, population: Population, ts_ms: int,
              event_id: str) -> list[Output]:
    """Score the current signals and run the alert lifecycle."""
    fb = state.feedback
    in_cluster = state.cluster.evidence > 0 and (
        state.profile.last_ts_ms - state.cluster.ts_ms < CLUSTER_TTL_MS)
    if state.profile.n < (MIN_EVENTS_IN_CLUSTER if in_cluster else MIN_EVENTS):
        return []
    s = compute_signals(state, population)
    state.signals = s
    risk = risk_of(s, fb.offset, fb.damped, population.learnt.offsets)
    if fb.confirmed:
        risk = max(risk, 0.95)
    state.risk = risk
    severity = severity_of(risk)
    state.window_max_risk = max(state.window_max_risk, risk)
    if rank(severity) >= rank("low"):
        state.window_flagged = True
    if ts_ms < fb.allowlisted_until_ms:
        status = state.episode.force_resolve()
        severity = "none"
    else:
        status = state.episode.update(state.customer_id, severity, ts_ms)
    if status is None:
        return []
    _, reasons = score(s, population.baseline, offset=fb.offset, damped=fb.damped,
                       learnt=population.learnt.offsets)  # the same risk, explained
    if status != "resolved":
        state.alert_signals = [r.signal for r in reasons if r.contribution > 0][:3]
    shown = state.episode.severity if status != "resolved" else severity
    return [_alert(state, status, shown, ts_ms, event_id, reasons)]


def _cluster_signals(state: CustomerState, ts_ms: int, event_id: str) -> list[Output]:
    evidence = content_evidence(state.signals)
    if evidence < SUSPICIOUS:
        return []
    tokens = sorted(state.tokens.items())
    tokens += [("prompt_template", f"{sig:016x}") for sig in state.profile.top_templates(2)]
    return [
        ClusterSignal(token=f"{kind}:{value}", kind=kind, customer_id=state.customer_id,
                      ts_ms=ts_ms, event_id=event_id, requests=state.events_total,
                      content_evidence=round(evidence, 4),
                      account_risk=round(state.signals.get("account_risk", 0.0), 4))
        for kind, value in tokens
    ]


def step(state: CustomerState, event: InferenceEvent, population: Population,
         offset: int | None = None,
         watermark_ms: int | None = None) -> tuple[CustomerState, list[Output]]:
    """Process one event of ``state.customer_id`` (see module docstring).

    ``offset`` is the event's source offset, when there is one: events at or below the last
    processed offset are replays after a restart and are skipped, which keeps counts exact.
    ``watermark_ms`` is the stream's event-time watermark at arrival (the largest ``ts`` seen
    on the stream so far); it records when the customer was last heard from.
    """
    if offset is not None:
        if offset <= state.last_offset:
            return state, []
        state.last_offset = offset
    id_hash = _id_hash(event.event_id)
    if id_hash in _seen(state):
        state.duplicates += 1
        return state, []
    _remember_id(state, id_hash)
    state.heard_at_ms = max(state.heard_at_ms, event.ts_ms, watermark_ms or 0)
    outputs: list[Output] = []
    window = event.ts_ms - event.ts_ms % WINDOW_MS
    if state.window_start_ms < 0:
        state.window_start_ms = window
    elif window > state.window_start_ms:
        if state.window_events:
            outputs.append(_close_window(state, population))
        state.window_start_ms = window
    state.events_total += 1
    state.window_events += 1
    _update_context(state, event)
    model_age = population.observe_model(event.model, event.ts_ms)
    state.profile.fold(event, model_age)
    outputs.extend(_evaluate(state, population, event.ts_ms, event.event_id))
    if (state.events_total in (FIRST_CLUSTER_SIGNAL, MIN_EVENTS)
            or state.events_total % CLUSTER_SIGNAL_EVERY == 0):
        if state.events_total < MIN_EVENTS:
            state.signals = compute_signals(state, population)
        outputs.extend(_cluster_signals(state, event.ts_ms, event.event_id))
    return state, outputs


def apply_verdict(state: CustomerState, verdict: ClusterVerdict,
                  population: Population) -> tuple[CustomerState, list[Output]]:
    """Fold a cluster verdict in and re-evaluate the customer at the verdict's event time."""
    current = state.cluster
    fresh = verdict.ts_ms - current.ts_ms >= CLUSTER_TTL_MS
    if fresh or verdict.evidence >= current.evidence:
        state.cluster = ClusterMembership(verdict.cluster_id, verdict.members, verdict.shared,
                                          verdict.evidence, verdict.ts_ms)
    else:
        current.ts_ms = max(current.ts_ms, verdict.ts_ms)
    if state.profile.n == 0:
        return state, []
    return state, _evaluate(state, population, max(verdict.ts_ms, state.profile.last_ts_ms),
                            verdict.event_id)


def apply_feedback(state: CustomerState, feedback: Feedback,
                   population: Population | None = None) -> tuple[CustomerState, list[Output]]:
    """Apply an analyst verdict: allowlist (until expiry), confirm, or mark a false positive.

    A false positive lowers this customer's sensitivity: the log-odds offset drops and the
    signals that drove the alert are damped, so the same pattern alone no longer alerts.

    With the ``population`` view, a ``false_positive`` or ``confirmed`` verdict also teaches the
    shared model (``population.learnt``, :class:`~streamer.core.scoring.LearntOffsets`) one
    bounded step from this customer's latest signals: no other customer's log-odds move by more
    than :data:`~streamer.core.scoring.MAX_VERDICT_SHIFT`. A customer teaches at most once per
    alert episode, so repeating a verdict does not repeat the step. Nothing else is ever learnt
    from what the detector flags.
    """
    fb = state.feedback
    outputs: list[Output] = []
    if population is not None and feedback.verdict in ("false_positive", "confirmed"):
        _teach(state, feedback.verdict == "confirmed", population)
    if feedback.verdict == "allowlisted":
        fb.allowlisted_until_ms = feedback.expires_at_ms or 2**62
        fb.confirmed = False
    elif feedback.verdict == "confirmed":
        fb.confirmed = True
        fb.allowlisted_until_ms = 0
    elif feedback.verdict == "false_positive":
        fb.confirmed = False
        fb.offset = max(-6.0, fb.offset - 2.0)
        for name in feedback.signals or tuple(state.alert_signals):
            fb.damped[name] = fb.damped.get(name, 1.0) * 0.5
        if state.episode.is_open:
            status = state.episode.force_resolve()
            if status:
                outputs.append(_alert(state, status, "none", feedback.ts_ms, "feedback", []))
    if feedback.verdict == "allowlisted":
        status = state.episode.force_resolve()
        if status:
            outputs.append(_alert(state, status, "none", feedback.ts_ms, "feedback", []))
    return state, outputs


def _teach(state: CustomerState, confirmed: bool, population: Population) -> None:
    """One bounded step of the shared feedback model from this customer's latest signals."""
    fb = state.feedback
    if not state.signals or fb.taught_episode == state.episode.number:
        return
    learnt = population.learnt
    predicted, _ = score(state.signals, {}, learnt=learnt.offsets)
    learnt.learn_one(ramps(state.signals), confirmed, predicted)
    fb.taught_episode = state.episode.number


def window_deadline(state: CustomerState) -> int:
    """Stream watermark at which the open window may be closed without an event.

    Measured from when the customer was last *heard from* as well as from the window's end, so a
    customer whose timestamps lag the rest of the stream is not cut off while still sending.
    """
    return max(state.window_start_ms + WINDOW_MS, state.heard_at_ms) + ALLOWED_LATENESS_MS


def quiet_deadline(state: CustomerState) -> int:
    """Stream watermark at which an open episode counts as quiet and resolves."""
    return max(state.episode.last_hot_ms, state.heard_at_ms) + QUIET_MS


def next_deadline(state: CustomerState) -> int | None:
    """The next watermark at which :func:`tick` would act on this customer, if any."""
    if state.window_events:
        return window_deadline(state)
    if state.episode.is_open:
        return quiet_deadline(state)
    return None


def tick(state: CustomerState, watermark_ms: int,
         population: Population) -> tuple[CustomerState, list[Output]]:
    """Advance the stream's event time without an event from this customer: close its finished
    window, resolve its episode once quiet. Results do not depend on how often it is called."""
    outputs: list[Output] = []
    if state.window_events and watermark_ms >= window_deadline(state):
        outputs.append(_close_window(state, population))
    if state.episode.is_open and watermark_ms >= quiet_deadline(state):
        when = quiet_deadline(state)
        state.episode.force_resolve()
        outputs.append(_alert(state, "resolved", "none", when, "quiet", []))
    return state, outputs

