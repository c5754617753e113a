"""The alert lifecycle as users see it, through ``customer.step`` and the offline Engine.

One alert per episode: it opens once, escalations keep the ``alert_id``, nothing is emitted
while the severity stays where it is, and it resolves after ``QUIET_MS`` of *event* time. Ids
are deterministic (customer + episode number); duplicates and replayed offsets are processed
once; analyst feedback (allowlist / confirmed / false positive) changes what is emitted.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from streamer.core import customer
from streamer.core.alerts import QUIET_MS, rank
from streamer.core.customer import CustomerState
from streamer.core.engine import Engine, replay
from streamer.core.events import InferenceEvent
from streamer.core.outputs import Alert, Feedback
from streamer.core.population import Population
from streamer.core.scoring import (
    MAX_OFFSET,
    MAX_VERDICT_SHIFT,
    RAMP_BY_NAME,
    SIGNAL_BY_NAME,
    SIGNALS,
    LearntOffsets,
    score,
)
from tests.unit.core_streams import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    T0,
    alerts_in,
    benign_events,
    chat_prompts,
    cot_prompts,
    escalating_events,
    event,
    extraction_events,
    features_in,
    fixed_times,
    poisson_times,
    run_engine,
    stream,
)


def attack_block(start: int, n: int, *, customer_id: str = "esc", start_index: int,
                 seed: int = 5) -> list[InferenceEvent]:
    """More of the same CoT harvesting (fresh event ids) from ``start``."""
    r = random.Random(seed)
    return stream(cot_prompts(r, n), fixed_times(n, start, 3 * SECOND), customer_id=customer_id,
                  start_index=start_index, output_tokens=400,
                  account={"created_at_ms": T0 - 6 * HOUR, "signup_channel": "free_trial"})


def lifecycle(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["status"], a["severity"]) for a in alerts]


def max_severity(alerts: list[dict[str, Any]]) -> str:
    return max((a["severity"] for a in alerts), key=rank, default="none")


# --- one alert per episode -------------------------------------------------------------------


def test_one_alert_per_episode_escalations_keep_the_id() -> None:
    events = escalating_events()
    _, out = run_engine(events, finish=False)
    alerts = alerts_in(out)
    assert alerts, "the escalating stream must alert"
    assert alerts[0]["status"] == "open"
    assert all(a["status"] == "escalated" for a in alerts[1:])
    assert len({a["alert_id"] for a in alerts}) == 1
    ranks = [rank(a["severity"]) for a in alerts]
    assert ranks == sorted(set(ranks)), "every message must raise the severity"
    # It did escalate (to critical), and 120 events gave at most one message per level.
    assert rank(alerts[0]["severity"]) < rank("critical") == rank(alerts[-1]["severity"])
    assert 2 <= len(alerts) <= 4 < len(events)
    for a in alerts:
        assert a["customer_id"] == "esc" and a["emitted_at"] is None
        assert a["reasons"] and a["tactics"]


def test_no_storm_while_severity_is_unchanged_or_falls() -> None:
    events = escalating_events(n_cot=200)
    # ... then back to ordinary chat (risk falls but stays hot for a while): still silent.
    r = random.Random(11)
    calmer = stream(chat_prompts(r, 60), fixed_times(60, events[-1].ts_ms + 3 * SECOND,
                                                     3 * SECOND),
                    customer_id="esc", start_index=10_000, output_tokens=400,
                    account={"created_at_ms": T0 - 6 * HOUR, "signup_channel": "free_trial"})
    eng, out = run_engine([*events, *calmer], finish=False)
    alerts = alerts_in(out)
    assert [s for s, _ in lifecycle(alerts)].count("open") == 1
    assert len(alerts) <= 4
    assert eng.customers["esc"].episode.is_open


def test_resolution_after_quiet_ms_of_event_time_via_tick() -> None:
    eng, out = run_engine(escalating_events(), finish=False)
    st = eng.customers["esc"]
    opened = alerts_in(out)[0]["alert_id"]
    last_hot = st.episode.last_hot_ms
    assert last_hot == max(e.ts_ms for e in escalating_events())  # hot to the very end
    _, early = customer.tick(st, last_hot + QUIET_MS - 1, eng.population)
    assert not [o for o in early if isinstance(o, Alert)]
    _, outs = customer.tick(st, last_hot + QUIET_MS, eng.population)
    resolved = [o for o in outs if isinstance(o, Alert) and o.status == "resolved"]
    assert len(resolved) == 1
    assert resolved[0].alert_id == opened and resolved[0].severity == "none"
    assert not st.episode.is_open
    # Resolving is reported once.
    assert not customer.tick(st, last_hot + 2 * QUIET_MS, eng.population)[1]


def test_resolution_via_engine_advance_uses_event_time_only() -> None:
    eng, out = run_engine(escalating_events(), finish=False)
    last = eng.watermark_ms
    assert alerts_in(eng.advance(last + QUIET_MS // 2)) == []
    resolved = alerts_in(eng.advance(last + QUIET_MS + 2 * customer.WINDOW_MS))
    assert lifecycle(resolved) == [("resolved", "none")]
    assert resolved[0]["alert_id"] == alerts_in(out)[0]["alert_id"]
    assert resolved[0]["detected_at_ms"] >= last + QUIET_MS


def test_resolution_by_later_ordinary_events() -> None:
    """No ticks at all: a customer that goes back to ordinary use resolves on its own events."""
    att = escalating_events()
    ben = benign_events(400, customer_id="esc", start=att[-1].ts_ms + MINUTE,
                        start_index=50_000, mean_gap_s=40)
    st, pop = CustomerState("esc"), Population()
    alerts: list[Alert] = []
    for ev in [*att, *ben]:
        _, outs = customer.step(st, ev, pop)
        alerts += [o for o in outs if isinstance(o, Alert)]
    statuses = [a.status for a in alerts]
    assert statuses[0] == "open" and statuses[-1] == "resolved"
    assert statuses.count("resolved") == 1 and statuses.count("open") == 1
    assert alerts[-1].detected_at_ms >= att[-1].ts_ms + QUIET_MS


def test_a_new_episode_after_resolution_gets_a_new_alert_id() -> None:
    first = escalating_events()
    eng, out1 = run_engine(first, finish=False)
    out1 += eng.advance(eng.watermark_ms + QUIET_MS + 2 * customer.WINDOW_MS)
    again = attack_block(eng.watermark_ms + HOUR, 120, start_index=1_000)
    _, out2 = run_engine(again, engine=eng, finish=False)
    a1, a2 = alerts_in(out1), alerts_in(out2)
    assert a1[-1]["status"] == "resolved"
    assert a2 and a2[0]["status"] == "open"
    assert a2[0]["alert_id"] != a1[0]["alert_id"]
    assert len({a["alert_id"] for a in a2}) == 1
    assert eng.customers["esc"].episode.number == 2


def test_alert_ids_are_deterministic_per_customer_and_episode() -> None:
    def two_episodes(customer_id: str, with_noise: bool) -> list[str]:
        eng = Engine()
        if with_noise:  # unrelated traffic from someone else must not change the ids
            run_engine(benign_events(200, customer_id="other"), engine=eng, finish=False)
        run_engine(escalating_events(customer_id=customer_id), engine=eng, finish=False)
        out = eng.advance(eng.watermark_ms + QUIET_MS + 2 * customer.WINDOW_MS)
        _, more = run_engine(attack_block(eng.watermark_ms + HOUR, 120,
                                          customer_id=customer_id, start_index=1_000),
                             engine=eng, finish=False)
        alerts = [a for a in alerts_in(out + more) if a["customer_id"] == customer_id]
        return sorted({a["alert_id"] for a in alerts})

    a1, a2 = two_episodes("acct-a", False), two_episodes("acct-a", True)
    b = two_episodes("acct-b", False)
    assert len(a1) == 2
    assert a1 == a2
    assert not set(a1) & set(b)


# --- exactly-once processing -----------------------------------------------------------------


def test_replayed_event_ids_are_processed_once() -> None:
    events = escalating_events()
    eng, out = run_engine(events, finish=False)
    assert alerts_in(out)
    replay_out: list[dict[str, Any]] = []
    for ev in events:  # the whole stream delivered a second time (at-least-once delivery)
        replay_out += eng.process(ev)
    st = eng.customers["esc"]
    assert alerts_in(replay_out) == [] and features_in(replay_out) == []
    assert st.events_total == len(events)
    assert st.duplicates == len(events)


def test_immediate_duplicates_do_not_change_anything() -> None:
    events = escalating_events()
    _, single = run_engine(events)
    doubled = [e for ev in events for e in (ev, ev)]
    eng, double = run_engine(doubled)
    assert double == single
    assert eng.customers["esc"].duplicates == len(events)


def test_offsets_at_or_below_the_last_offset_are_skipped() -> None:
    events = escalating_events()
    st, pop = CustomerState("esc"), Population()
    for off, ev in enumerate(events[:100]):
        customer.step(st, ev, pop, offset=off)
    total, dups = st.events_total, st.duplicates
    # A restart re-delivers offsets 50..99 — even under other event ids, they are skipped.
    for off in range(50, 100):
        ev = events[off]
        fresh = InferenceEvent(**{**{f: getattr(ev, f) for f in ("ts_ms", "customer_id", "model",
                                                                   "input_tokens",
                                                                   "output_tokens")},
                                  "event_id": f"other-{off}"})
        _, outs = customer.step(st, fresh, pop, offset=off)
        assert outs == []
    assert (st.events_total, st.duplicates, st.last_offset) == (total, dups, 99)
    customer.step(st, events[100], pop, offset=100)
    assert st.events_total == total + 1


# --- analyst feedback --------------------------------------------------------------------------


def test_allowlisted_suppresses_alerts_until_expiry_then_they_resume() -> None:
    eng, out = run_engine(escalating_events(), finish=False)
    first_id = alerts_in(out)[0]["alert_id"]
    now = eng.watermark_ms
    expiry = now + HOUR
    fb_out = eng.feedback(Feedback("esc", "allowlisted", now, expires_at_ms=expiry))
    assert lifecycle(alerts_in(fb_out)) == [("resolved", "none")]
    assert alerts_in(fb_out)[0]["alert_id"] == first_id

    # The same extraction goes on for two hours: silent while allowlisted ...
    more = attack_block(now + 3 * SECOND, 2400, start_index=1_000)
    during = [e for e in more if e.ts_ms < expiry]
    after = [e for e in more if e.ts_ms >= expiry]
    assert during and after
    _, out_during = run_engine(during, engine=eng, finish=False)
    assert alerts_in(out_during) == []
    # ... and alerting again (a new episode) once the allowlisting expired.
    _, out_after = run_engine(after, engine=eng, finish=False)
    resumed = alerts_in(out_after)
    assert resumed and resumed[0]["status"] == "open"
    assert resumed[0]["detected_at_ms"] >= expiry
    assert resumed[0]["alert_id"] != first_id
    assert rank(max_severity(resumed)) >= rank("high")


def test_allowlisted_without_expiry_suppresses_indefinitely() -> None:
    eng = Engine()
    eng.feedback(Feedback("esc", "allowlisted", T0))
    _, out = run_engine(escalating_events(), engine=eng)
    assert alerts_in(out) == []
    assert eng.customers["esc"].risk > 0.9  # still scored, just not alerted


def test_confirmed_keeps_risk_at_least_095() -> None:
    eng, out = run_engine(benign_events(100, customer_id="c"), finish=False)
    assert alerts_in(out) == []
    now = eng.watermark_ms
    eng.feedback(Feedback("c", "confirmed", now))
    # Even entirely ordinary traffic from a confirmed extractor stays at critical risk.
    _, later = run_engine(benign_events(300, customer_id="c", start=now + SECOND,
                                        start_index=1_000, seed=8), engine=eng)
    alerts = alerts_in(later)
    assert lifecycle(alerts)[:1] == [("open", "critical")]
    assert all(a["risk"] >= 0.95 for a in alerts if a["status"] != "resolved")
    feats = features_in(later)
    assert len(feats) >= 10
    assert all(f["risk"] >= 0.95 for f in feats[1:])  # every window after the confirmation
    assert eng.customers["c"].risk >= 0.95


def test_false_positive_resolves_and_lowers_sensitivity() -> None:
    eng, out = run_engine(escalating_events(), finish=False)
    before = alerts_in(out)
    assert max_severity(before) == "critical"
    now = eng.watermark_ms
    fb_out = alerts_in(eng.feedback(Feedback("esc", "false_positive", now)))
    assert lifecycle(fb_out) == [("resolved", "none")]
    assert fb_out[0]["alert_id"] == before[0]["alert_id"]
    assert not eng.customers["esc"].episode.is_open

    # The very same pattern goes on: it no longer alerts at the level it did.
    _, later = run_engine(attack_block(now + 3 * SECOND, 300, start_index=1_000), engine=eng,
                          finish=False)
    assert rank(max_severity(alerts_in(later))) < rank(max_severity(before))
    assert eng.customers["esc"].risk < before[-1]["risk"]


@pytest.mark.parametrize("verdict", ["false_positive", "allowlisted", "confirmed"])
def test_feedback_for_a_customer_never_seen_is_harmless(verdict: str) -> None:
    eng = Engine()
    assert alerts_in(eng.feedback(Feedback("ghost", verdict, T0))) == []


def test_feedback_only_affects_its_customer() -> None:
    eng = Engine()
    for cid in ("x", "y"):
        run_engine(escalating_events(customer_id=cid), engine=eng, finish=False)
    eng.feedback(Feedback("x", "false_positive", eng.watermark_ms))
    assert not eng.customers["x"].episode.is_open
    assert eng.customers["y"].episode.is_open


def test_alerts_never_contain_prompt_text() -> None:
    events = [*escalating_events(), *extraction_events(60, start=T0 + HOUR)]
    _, out = run_engine(events)
    blob = repr(out)
    for ev in events:
        assert ev.prompt is not None
        assert ev.prompt not in blob
        assert ev.prompt.split(". Question: ")[-1] not in blob


# --- calibrated evidence: a blatant single-family campaign is still a campaign ----------------

YOUNG = {"created_at_ms": T0 - 6 * HOUR, "signup_channel": "free_trial"}
CONTRACTED = {"created_at_ms": T0 - 900 * DAY, "signup_channel": "sales"}


def probe_sweep(n: int, *, customer_id: str, account: dict[str, Any], logit_bias: bool,
                seed: int = 21, prompts: list[str] | None = None,
                repeat: int = 3) -> list[InferenceEvent]:
    """Distribution harvesting with no chain-of-thought marker: every prompt re-sent over
    temperature / n settings with ``max_tokens=1`` and logprobs (and ``logit_bias``), at an
    irregular, human-looking pace (no automation evidence either)."""
    r = random.Random(seed)
    base = prompts or [f"Continue the text: {p}" for p in chat_prompts(r, n // 3 + 1)]
    texts = [p for p in base for _ in range(repeat)][:n]
    times = poisson_times(len(texts), r, T0, mean_s=8.0)
    temps, ns = (0.0, 0.5, 1.0, 1.5), (1, 2, 4, 8)
    return [
        event(i, ts, customer_id=customer_id, prompt=p, endpoint="/v1/completions",
              max_tokens=1, output_tokens=1, input_tokens=40, logprobs=True,
              top_logprobs=r.randint(5, 20), temperature=temps[i % 4], n=ns[(i // 4) % 4],
              logit_bias_count=r.randint(1, 50) if logit_bias else None, account=account)
        for i, (p, ts) in enumerate(zip(texts, times, strict=True))
    ]


def peak(customer_id: str, events: list[InferenceEvent]) -> tuple[str, float]:
    result = replay(events)
    alerts = [a for a in result.alerts if a["customer_id"] == customer_id]
    return max_severity(alerts), result.engine.customers[customer_id].risk


@pytest.mark.parametrize("logit_bias", [True, False], ids=["logit_bias", "max_tokens_1_sweep"])
def test_blatant_logprob_harvest_from_a_young_account_alerts_without_cot(logit_bias: bool
                                                                         ) -> None:
    events = probe_sweep(150, customer_id="young", account=YOUNG, logit_bias=logit_bias)
    assert not any("step by step" in (e.prompt or "") for e in events)
    severity, _ = peak("young", events)
    assert rank(severity) >= rank("medium"), severity
    result = replay(events)
    alert = next(a for a in result.alerts if a["customer_id"] == "young")
    assert "logprob_harvest" in alert["tactics"]
    assert all(r["contribution"] != 0 for r in alert["reasons"])


def test_the_same_sweep_from_an_established_contracted_account_is_lower_and_quiet() -> None:
    young_sev, young_risk = peak("x", probe_sweep(150, customer_id="x", account=YOUNG,
                                                  logit_bias=True))
    sev, risk = peak("x", probe_sweep(150, customer_id="x", account=CONTRACTED,
                                      logit_bias=True))
    assert risk < young_risk
    assert rank(sev) < rank("medium") <= rank(young_sev)


def test_an_eval_harness_rerunning_a_benchmark_is_not_flagged_and_reruns_lower_risk() -> None:
    r = random.Random(5)
    items = [f"Question: {p}\nAnswer:" for p in chat_prompts(r, 120)]
    # A contracted eval vendor scores a multiple-choice benchmark with logprobs, twice.
    harness = probe_sweep(240, customer_id="harness", account=CONTRACTED, logit_bias=False,
                          prompts=items * 2, repeat=1)
    first = replay(harness[:120]).engine.customers["harness"]
    result = replay(harness)
    st = result.engine.customers["harness"]
    assert st.signals["rerun_rate"] >= SIGNAL_BY_NAME["rerun_rate"].hi
    assert not [a for a in result.alerts if rank(a["severity"]) >= rank("medium")]
    # The re-run is an innocent explanation: it lowers the risk of the same usage pattern.
    assert st.risk < first.risk or st.risk < 0.05
    no_rerun = dict(st.signals, rerun_rate=0.0)
    assert score(no_rerun, {})[0] > score(st.signals, {})[0]


# --- analyst feedback teaches a shared, bounded correction ------------------------------------


def _two_customers() -> Engine:
    eng = Engine()
    run_engine(probe_sweep(150, customer_id="a", account=YOUNG, logit_bias=True), engine=eng,
               finish=False)
    run_engine(escalating_events(customer_id="b", start=eng.watermark_ms + SECOND),
               engine=eng, finish=False)
    return eng


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.mark.parametrize("verdict", ["false_positive", "confirmed"])
def test_one_verdict_moves_another_customers_log_odds_by_at_most_the_bound(verdict: str
                                                                           ) -> None:
    eng = _two_customers()
    b = eng.customers["b"].signals
    before = score(b, {}, learnt=dict(eng.population.learnt.offsets))[0]
    eng.feedback(Feedback("a", verdict, eng.watermark_ms))
    after = score(b, {}, learnt=eng.population.learnt.offsets)[0]
    assert eng.population.learnt.verdicts == 1
    assert eng.population.learnt.offsets, "the verdict taught the shared model"
    assert abs(_logit(after) - _logit(before)) <= MAX_VERDICT_SHIFT + 1e-9
    a = eng.customers["a"].signals
    a_now = score(a, {}, learnt=eng.population.learnt.offsets)[0]
    a_then = score(a, {})[0]
    assert (a_now > a_then) if verdict == "confirmed" else (a_now < a_then)


def test_a_repeated_verdict_on_the_same_episode_teaches_once() -> None:
    eng = _two_customers()
    for _ in range(5):
        eng.feedback(Feedback("a", "confirmed", eng.watermark_ms))
    assert eng.population.learnt.verdicts == 1


def test_many_verdicts_stay_within_the_offset_cap_and_keep_signs() -> None:
    lo = LearntOffsets()
    evidence = {s.name: 1.0 for s in SIGNALS}
    for i in range(200):
        lo.learn_one(evidence, confirmed=i % 3 == 0, predicted=0.5)
    for name, off in lo.offsets.items():
        assert abs(off) <= MAX_OFFSET + 1e-12
        spec = SIGNAL_BY_NAME[name]
        assert (spec.weight + off) * RAMP_BY_NAME[name].sign >= -1e-12


def test_verdicts_are_learnt_only_through_feedback() -> None:
    eng = _two_customers()
    assert eng.population.learnt.verdicts == 0 and not eng.population.learnt.offsets
    eng.feedback(Feedback("a", "allowlisted", eng.watermark_ms))
    assert eng.population.learnt.verdicts == 0
