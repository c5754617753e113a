"""Each signal on small hand-made streams, through ``customer.step`` with a fresh Population.

Expectations come from the documented meaning of each signal and from its evidence ramp in
``scoring.SIGNALS``: an extraction-shaped stream must reach the ramp's ``hi`` (full evidence), an
ordinary stream must stay at or below its ``lo`` (no evidence).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from streamer.core import customer
from streamer.core.context import account_risk, account_trust
from streamer.core.customer import CustomerState, compute_signals
from streamer.core.events import InferenceEvent
from streamer.core.population import MODEL_NEW_AFTER_WATCHING_MS, Population
from streamer.core.profile import NEW_MODEL_MS, CustomerProfile
from streamer.core.scoring import SIGNAL_BY_NAME, score
from tests.unit.core_streams import (
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    T0,
    chat_prompts,
    cot_prompts,
    event,
    fixed_times,
    poisson_times,
    rubric_prompts,
    run_customer,
    self_instruct_prompts,
    signals_of,
    stream,
    wrapped_prompts,
)

N = 60


def lo(name: str) -> float:
    return SIGNAL_BY_NAME[name].lo


def hi(name: str) -> float:
    return SIGNAL_BY_NAME[name].hi


def contribution(signals: dict[str, float], name: str) -> float:
    _, reasons = score(signals, baselines={})
    return sum(r.contribution for r in reasons if r.signal == name)


def human_stream(prompts: Sequence[str | None], seed: int = 0,
                 **kw: Any) -> list[InferenceEvent]:
    return stream(prompts, poisson_times(len(prompts), random.Random(seed)), **kw)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


# --- what is asked ------------------------------------------------------------------------


def test_cot_rate_rises_with_cot_prompts_and_stays_zero_for_chat(rng: random.Random) -> None:
    chat = signals_of(human_stream(chat_prompts(rng, N)))
    assert chat["cot_rate"] <= 0.01

    # The same customer switches from chat to CoT coercion: the rate climbs step by step.
    prompts: list[str | None] = [*chat_prompts(rng, 30), *cot_prompts(rng, 40)]
    events = human_stream(prompts)
    st, pop, _ = run_customer(events[:30])
    rates = [compute_signals(st, pop)["cot_rate"]]
    for ev in events[30:]:
        customer.step(st, ev, pop)
        rates.append(compute_signals(st, pop)["cot_rate"])
    assert rates[0] <= 0.01
    assert all(b >= a for a, b in itertools.pairwise(rates))
    assert rates[-1] >= hi("cot_rate")
    assert contribution(compute_signals(st, pop), "cot_rate") == pytest.approx(
        SIGNAL_BY_NAME["cot_rate"].weight, abs=1e-3)


def test_rubric_rationale_needs_rubric_prompts_and_long_outputs(rng: random.Random) -> None:
    rubric_long = signals_of(human_stream(rubric_prompts(rng, N), output_tokens=700))
    rubric_short = signals_of(human_stream(rubric_prompts(rng, N), output_tokens=2))
    chat_long = signals_of(human_stream(chat_prompts(rng, N), output_tokens=700))
    assert rubric_long["rubric_rationale_rate"] >= hi("rubric_rationale_rate")
    assert rubric_short["rubric_rationale_rate"] <= lo("rubric_rationale_rate")
    assert chat_long["rubric_rationale_rate"] <= lo("rubric_rationale_rate")
    # The LLM-as-judge look-alike (rubric, one-token rating) gets no rubric evidence at all.
    assert contribution(rubric_short, "rubric_rationale_rate") == 0.0


def test_self_instruct_rate(rng: random.Random) -> None:
    si = signals_of(human_stream(self_instruct_prompts(rng, N)))
    chat = signals_of(human_stream(chat_prompts(rng, N)))
    assert si["self_instruct_rate"] >= hi("self_instruct_rate")
    assert chat["self_instruct_rate"] <= lo("self_instruct_rate")


def test_harvest_rate_same_wrapper_different_content(rng: random.Random) -> None:
    wrapper = "Please answer the following question for me: {q} and reply in plain words"
    harvest = signals_of(human_stream(wrapped_prompts(rng, N, wrapper)))
    assert harvest["harvest_rate"] >= hi("harvest_rate")
    assert harvest["novel_rate"] >= 0.95

    # A customer repeating one prompt: templated, but nothing novel, so no harvesting.
    one = chat_prompts(rng, 1)[0]
    repeat = signals_of(human_stream([one] * N))
    assert repeat["novel_rate"] <= 0.1
    assert repeat["harvest_rate"] <= lo("harvest_rate")

    # Free-form prompts: all novel, but no shared wrapper, so no harvesting either.
    free = signals_of(human_stream(chat_prompts(rng, N)))
    assert free["novel_rate"] >= 0.95
    assert free["harvest_rate"] <= lo("harvest_rate")


def test_near_duplicate_prompts_are_not_novel(rng: random.Random) -> None:
    base = chat_prompts(rng, 8)
    # Each prompt comes back with one trailing word changed: near duplicates, not new content.
    prompts: list[str | None] = [*base, *[p.rstrip("?") + " please?" for p in base] * 6]
    st, pop, _ = run_customer(human_stream(prompts))
    assert compute_signals(st, pop)["novel_rate"] < 0.5


# --- how the API is used --------------------------------------------------------------------


def logprob_sweep(n: int, rng: random.Random, *, repeat_each: int = 2) -> list[InferenceEvent]:
    """max_tokens=1 with logprobs, sweeping temperature, logit_bias on every other request;
    each prompt is sent ``repeat_each`` times in a row (one per setting)."""
    temps = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5]
    base = chat_prompts(rng, n // repeat_each)
    prompts = [p for p in base for _ in range(repeat_each)]
    return [
        event(i, T0 + i * 1500, prompt=prompts[i], max_tokens=1, output_tokens=1, logprobs=True,
              top_logprobs=5, temperature=temps[i % len(temps)],
              logit_bias_count=3 if i % 2 else 0)
        for i in range(len(prompts))
    ]


def test_logprob_probe_logit_bias_and_settings_entropy(rng: random.Random) -> None:
    probe = signals_of(logprob_sweep(96, rng))
    assert probe["logprob_probe_rate"] >= hi("logprob_probe_rate")
    assert probe["logit_bias_rate"] >= hi("logit_bias_rate")
    assert probe["settings_entropy"] >= hi("settings_entropy")

    chat = signals_of(human_stream(chat_prompts(rng, N), temperature=0.7, max_tokens=800))
    assert chat["logprob_probe_rate"] == 0.0
    assert chat["logit_bias_rate"] == 0.0
    assert chat["settings_entropy"] <= 0.01  # one fixed setting: no sweep


def test_logprobs_with_long_completions_are_not_a_probe(rng: random.Random) -> None:
    s = signals_of(human_stream(chat_prompts(rng, N), logprobs=True, top_logprobs=5,
                                max_tokens=500, output_tokens=300))
    assert s["logprob_probe_rate"] == 0.0


def test_machine_pacing_fixed_gaps_vs_poisson_gaps() -> None:
    fixed = signals_of(stream([None] * N, fixed_times(N, gap_ms=2 * SECOND)))
    assert fixed["machine_pacing"] >= hi("machine_pacing")
    assert fixed["machine_pacing"] == pytest.approx(1.0, abs=0.01)
    poisson = []
    for seed in range(6):
        r = random.Random(seed)
        poisson.append(signals_of(stream([None] * N, poisson_times(N, r, mean_s=20)))[
            "machine_pacing"])
    assert max(poisson) < lo("machine_pacing")
    assert sum(poisson) / len(poisson) < 0.2


def test_machine_pacing_needs_enough_gaps() -> None:
    s = signals_of(stream([None] * 5, fixed_times(5)))
    assert s["machine_pacing"] == 0.0


def test_new_model_rate_only_for_models_released_after_watching_an_hour(
        rng: random.Random) -> None:
    pop = Population()
    # The population watches ordinary traffic on model-a (present from the start) for 3 hours;
    # model-early appears within the first hour (already there when watching started).
    watcher = [event(i, T0 + i * MINUTE, customer_id="watcher",
                     model="model-a" if i % 10 else "model-early") for i in range(180)]
    st_watch, _, _ = run_customer(watcher[:20], pop)
    # model-new appears for the first time two hours in.
    release = T0 + 2 * HOUR
    assert release - T0 > MODEL_NEW_AFTER_WATCHING_MS
    run_customer(watcher[20:], pop, st_watch)
    chaser = [event(i, release + i * 30 * SECOND, customer_id="chaser", model="model-new")
              for i in range(40)]
    old_model = [event(i, release + i * 30 * SECOND, customer_id="steady", model="model-a")
                 for i in range(40)]
    early_model = [event(i, release + i * 30 * SECOND, customer_id="early", model="model-early")
                   for i in range(40)]
    s_chaser = signals_of(chaser, pop)
    s_old = signals_of(old_model, pop)
    s_early = signals_of(early_model, pop)
    assert s_chaser["new_model_rate"] >= hi("new_model_rate")
    assert s_old["new_model_rate"] == 0.0
    assert s_early["new_model_rate"] == 0.0

    # A day after its release the model is no longer new.
    later = [event(i, release + NEW_MODEL_MS + HOUR + i * 30 * SECOND, customer_id="late",
                   model="model-new") for i in range(40)]
    assert signals_of(later, pop)["new_model_rate"] == 0.0


def test_no_model_is_new_while_the_population_has_just_started() -> None:
    # Every model looks new at start-up; none may count as released.
    events = [event(i, T0 + i * MINUTE, model=f"model-{i % 3}") for i in range(50)]
    assert signals_of(events)["new_model_rate"] == 0.0


def test_error_rate(rng: random.Random) -> None:
    times = poisson_times(N, rng)
    failing = [event(i, ts, status="rate_limited" if i % 5 == 0 else "ok")
               for i, ts in enumerate(times)]
    ok = [event(i, ts, status=("ok", "success", None)[i % 3]) for i, ts in enumerate(times)]
    s_fail = signals_of(failing)
    s_ok = signals_of(ok)
    assert s_fail["error_rate"] >= hi("error_rate")
    assert s_ok["error_rate"] == 0.0


def test_rerun_rate_benchmark_replay_vs_immediate_repeats(rng: random.Random) -> None:
    items = chat_prompts(rng, 200)
    # A 200-item benchmark run twice: the second pass re-runs items seen long ago (> 48 back).
    bench = stream([*items, *items], fixed_times(400, gap_ms=5 * SECOND))
    st, pop, _ = run_customer(bench[:200])
    first_pass = compute_signals(st, pop)["rerun_rate"]
    run_customer(bench[200:], pop, st)
    second_pass = compute_signals(st, pop)["rerun_rate"]
    assert first_pass <= lo("rerun_rate")
    assert second_pass >= hi("rerun_rate")
    # rerun_rate is negative evidence (benchmark re-runs are not harvesting).
    assert contribution(compute_signals(st, pop), "rerun_rate") < 0

    # The logprob stream sends each prompt twice in a row: a near duplicate, not a re-run.
    probe = signals_of(logprob_sweep(120, rng))
    assert probe["rerun_rate"] <= lo("rerun_rate")


@pytest.mark.parametrize(("account", "asn", "risky", "trusted"), [
    ({"created_at_ms": T0 - 12 * HOUR, "signup_channel": "free_trial"}, "AS16509", True, False),
    ({"created_at_ms": T0 - 900 * DAY, "signup_channel": "sales"}, "AS7922", False, True),
    ({"created_at_ms": T0 - 900 * DAY, "signup_channel": "partner"}, None, False, True),
    ({}, None, False, False),
])
def test_account_risk_and_trust_from_account_context(account: dict[str, Any], asn: str | None,
                                                      risky: bool, trusted: bool) -> None:
    events = [event(i, T0 + i * MINUTE, account=account, client={"asn": asn})
              for i in range(12)]
    s = signals_of(events)
    if risky:
        assert s["account_risk"] >= hi("account_risk")
    else:
        assert s["account_risk"] <= lo("account_risk")
    if trusted:
        assert s["account_trust"] >= hi("account_trust")
        assert contribution(s, "account_trust") < 0  # trust lowers risk
    else:
        assert s["account_trust"] <= lo("account_trust")


def test_account_age_is_measured_in_event_time() -> None:
    acct = {"created_at_ms": T0 - 12 * HOUR, "signup_channel": "self_serve"}
    young = [event(i, T0 + i * MINUTE, account=acct) for i in range(10)]
    st, pop, _ = run_customer(young)
    risk_young = compute_signals(st, pop)["account_risk"]
    # Same account, a month later in event time: no longer a throw-away-looking account.
    run_customer([event(100 + i, T0 + 30 * DAY + i * MINUTE, account=acct) for i in range(10)],
                 pop, st)
    risk_later = compute_signals(st, pop)["account_risk"]
    assert risk_young > risk_later
    assert risk_later == 0.0
    assert account_risk(0.5, None, None) == risk_young


def test_context_helpers_are_monotone_in_age() -> None:
    ages = [0.1, 1, 3, 10, 20, 60, 100, 400, 1000]
    for channel in ("free_trial", "self_serve", "sales", None):
        risks = [account_risk(a, channel, None) for a in ages]
        trusts = [account_trust(a, channel) for a in ages]
        assert all(b <= a for a, b in itertools.pairwise(risks))
        assert all(b >= a for a, b in itertools.pairwise(trusts))
        assert all(0.0 <= x <= 1.0 for x in risks + trusts)
    # A hosting network adds a little risk, never enough alone for full account evidence.
    assert account_risk(None, None, "AS16509") > account_risk(None, None, "AS7922") == 0.0
    assert account_risk(None, None, "AS16509") < hi("account_risk")


def test_mean_log_output() -> None:
    const = signals_of([event(i, T0 + i * 10 * SECOND, output_tokens=1000) for i in range(40)])
    assert const["mean_log_output"] == pytest.approx(math.log1p(1000), rel=1e-9)
    assert const["mean_log_output"] >= hi("mean_log_output")
    short = signals_of([event(i, T0 + i * 10 * SECOND, output_tokens=20) for i in range(40)])
    assert short["mean_log_output"] == pytest.approx(math.log1p(20), rel=1e-9)
    assert short["mean_log_output"] <= lo("mean_log_output")
    # An exponentially weighted mean: after switching, it moves towards the new level.
    mixed = signals_of([event(i, T0 + i * 10 * SECOND, output_tokens=20 if i < 40 else 1000)
                        for i in range(60)])
    assert math.log1p(20) < mixed["mean_log_output"] < math.log1p(1000)


def test_simhash_only_stream_gets_novelty_but_no_markers() -> None:
    r = random.Random(9)
    hashes = [f"{r.getrandbits(64):016x}" for _ in range(N)]
    # A gateway that shares only fingerprints: distinct hashes are novel content ...
    evs = [event(i, T0 + i * 20 * SECOND, prompt_simhash=int(h, 16)) for i, h in enumerate(hashes)]
    s = signals_of(evs)
    assert s["novel_rate"] >= 0.95
    for name in ("cot_rate", "rubric_rationale_rate", "self_instruct_rate", "harvest_rate"):
        assert s[name] == 0.0, name
    assert s["topic_entropy"] == 0.0
    # ... and one hash repeated is not.
    same = [event(i, T0 + i * 20 * SECOND, prompt_simhash=int(hashes[0], 16)) for i in range(N)]
    assert signals_of(same)["novel_rate"] <= 0.1


def test_stream_without_any_text_gets_no_content_rates() -> None:
    s = signals_of([event(i, T0 + i * 20 * SECOND) for i in range(N)])
    for name in ("novel_rate", "harvest_rate", "cot_rate", "rerun_rate", "topic_entropy"):
        assert s[name] == 0.0, name


def test_topic_entropy_is_broad_for_a_capability_sweep() -> None:
    topics = [
        "solve the equation 3x + 5 = 20 for x",
        "write a python function that reverses a linked list",
        "true or false: all squares are rectangles, which of the following implies it",
        "explain how a molecule of water forms in chemistry class",
        "write a poem about the sea at night for my mother",
        "how do I transfer money from my bank account abroad",
        "give me a recipe for a cappuccino with oat milk",
        "why do cats purr when they are happy and relaxed",
        "tell me something nice about tuesdays",
    ]
    r = random.Random(3)
    prompts: list[str | None] = [
        f"{topics[i % len(topics)]} ({' '.join(r.choice('xyzw') * 3 for _ in range(6))})"
        for i in range(90)
    ]
    broad = signals_of(human_stream(prompts))
    narrow = signals_of(human_stream([f"{topics[1]} {i}" for i in range(80)]))
    assert broad["topic_entropy"] >= hi("topic_entropy")
    assert narrow["topic_entropy"] <= lo("topic_entropy")


def test_profile_compute_signals_only_from_the_profile_and_context() -> None:
    """CustomerProfile used directly agrees with the customer stage's signals."""
    r = random.Random(4)
    evs = human_stream(cot_prompts(r, 30), output_tokens=900)
    prof = CustomerProfile()
    for ev in evs:
        prof.learn_one(ev, model_age_ms=None)
    st = CustomerState("c1", profile=prof)
    direct = compute_signals(st, Population())
    via_step = signals_of(evs)
    for name in ("cot_rate", "harvest_rate", "novel_rate", "mean_log_output", "machine_pacing",
                 "requests_per_hour"):
        assert direct[name] == pytest.approx(via_step[name]), name


def test_requests_per_hour_follows_event_time() -> None:
    busy = signals_of([event(i, T0 + i * 6 * SECOND) for i in range(600)])  # 600/h for 1 h
    slow = signals_of([event(i, T0 + i * 6 * MINUTE) for i in range(20)])  # 10/h for 2 h
    assert busy["requests_per_hour"] > 300  # the documented lo of the volume ramp
    assert 3 < slow["requests_per_hour"] < 30
