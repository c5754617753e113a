"""Hand-made event streams for the core behaviour tests (``tests/unit/test_core_*.py``).

Everything here is deterministic: prompts are built from a seeded :class:`random.Random`, so a
test that builds the same stream twice gets the same events.

The content builders follow the documented markers (:mod:`streamer.core.markers`):

* ordinary chat: random words, no coercion / rubric / self-instruct phrases, no shared wrapper;
* CoT coercion: "step by step" / "show your reasoning" around novel content;
* rubric grading: "grade the student's answer using the rubric" around novel content;
* self-instruct: "generate 20 new questions similar to the examples" around novel examples.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from streamer.core import customer
from streamer.core.customer import CustomerState
from streamer.core.engine import Engine
from streamer.core.events import AccountInfo, ClientInfo, InferenceEvent
from streamer.core.outputs import Alert, ClusterSignal, FeatureRecord
from streamer.core.population import Population

#: 2026-03-02T00:00:00Z in epoch milliseconds.
T0 = 1_772_409_600_000
SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Letters only (no digits: digits are masked to 0 by the fingerprints) and no vowel-free runs
# that could spell a marker word by accident.
_LETTERS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"


def word(rng: random.Random) -> str:
    """A random pronounceable nonsense word (never a marker or topic keyword in practice)."""
    return "".join(rng.choice(_LETTERS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))


def words(rng: random.Random, n: int) -> str:
    return " ".join(word(rng) for _ in range(n))


# --- prompt builders ------------------------------------------------------------------------


def chat_prompts(rng: random.Random, n: int) -> list[str]:
    """Ordinary free-form chat: every prompt different, no shared wrapper, no markers."""
    openers = ("hey", "hello", "quick one", "so", "ok", "hmm", "by the way", "also")
    return [f"{rng.choice(openers)} {words(rng, rng.randint(10, 16))}?" for _ in range(n)]


def cot_prompts(rng: random.Random, n: int, wrapper: str = "") -> list[str]:
    """Chain-of-thought coercion wrapped around novel content (a harvesting template)."""
    head = wrapper or "Think step by step and show your reasoning before answering"
    return [f"{head}. Question: {words(rng, 12)}" for _ in range(n)]


def rubric_prompts(rng: random.Random, n: int) -> list[str]:
    """Rubric grading prompts (rationale harvesting when answered at length)."""
    return [
        f"Grade the student's answer using the rubric and explain each criterion. "
        f"Question: {words(rng, 8)} Student answer: {words(rng, 8)}"
        for _ in range(n)
    ]


def self_instruct_prompts(rng: random.Random, n: int) -> list[str]:
    """Self-instruct expansion: "generate N new questions similar to the examples"."""
    return [
        f"Examples: {words(rng, 10)}. Generate 20 new questions similar to the examples "
        f"above about {words(rng, 3)}"
        for _ in range(n)
    ]


def wrapped_prompts(rng: random.Random, n: int, wrapper: str) -> list[str]:
    """Novel content inside a fixed wrapper with no tactic markers (``{q}`` marks the content)."""
    return [wrapper.format(q=words(rng, 12)) for _ in range(n)]


# --- events -------------------------------------------------------------------------------


def event(
    i: int,
    ts_ms: int,
    *,
    customer_id: str = "c1",
    prompt: str | None = None,
    model: str = "model-a",
    input_tokens: int = 60,
    output_tokens: int = 120,
    client: dict[str, Any] | None = None,
    account: dict[str, Any] | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> InferenceEvent:
    """One already-validated event (tests of decoding use :func:`event_from_dict` instead)."""
    return InferenceEvent(
        event_id=event_id or f"{customer_id}-e{i}",
        ts_ms=ts_ms,
        customer_id=customer_id,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        prompt=prompt,
        client=ClientInfo(**(client or {})),
        account=AccountInfo(**(account or {})),
        **extra,
    )


def fixed_times(n: int, start: int = T0, gap_ms: int = 2 * SECOND) -> list[int]:
    return [start + i * gap_ms for i in range(n)]


def poisson_times(n: int, rng: random.Random, start: int = T0, mean_s: float = 20.0) -> list[int]:
    """Arrival times with exponential (Poisson-process) gaps: human-like irregular pacing."""
    out, t = [], float(start)
    for _ in range(n):
        out.append(int(t))
        t += rng.expovariate(1.0 / mean_s) * 1000.0
    return out


def stream(
    prompts: Sequence[str | None],
    times: Sequence[int],
    *,
    customer_id: str = "c1",
    start_index: int = 0,
    **kw: Any,
) -> list[InferenceEvent]:
    """Events pairing ``prompts`` with ``times`` (extra keyword arguments go to every event)."""
    return [
        event(start_index + i, ts, customer_id=customer_id, prompt=p, **kw)
        for i, (p, ts) in enumerate(zip(prompts, times, strict=True))
    ]


# --- running -----------------------------------------------------------------------------


def run_customer(
    events: Iterable[InferenceEvent],
    population: Population | None = None,
    state: CustomerState | None = None,
) -> tuple[CustomerState, Population, list[Alert | FeatureRecord | ClusterSignal]]:
    """Feed one customer's events through ``customer.step`` (no cluster stage)."""
    pop = population if population is not None else Population()
    outputs: list[Alert | FeatureRecord | ClusterSignal] = []
    st = state
    for ev in events:
        if st is None:
            st = CustomerState(ev.customer_id)
        _, outs = customer.step(st, ev, pop)
        outputs.extend(outs)
    assert st is not None, "empty stream"
    return st, pop, outputs


def signals_of(
    events: Iterable[InferenceEvent], population: Population | None = None
) -> dict[str, float]:
    """Signal values of one customer after ``events`` (fresh population unless given)."""
    st, pop, _ = run_customer(events, population)
    return customer.compute_signals(st, pop)


def run_engine(
    events: Iterable[InferenceEvent], engine: Engine | None = None, finish: bool = True
) -> tuple[Engine, list[dict[str, Any]]]:
    eng = engine if engine is not None else Engine()
    out: list[dict[str, Any]] = []
    for ev in events:
        out += eng.process(ev)
    if finish:
        out += eng.finish()
    return eng, out


def alerts_in(outputs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if o["kind"] == "alert"]


def features_in(outputs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if o["kind"] == "features"]


# --- a suspicious extraction customer -----------------------------------------------------------


def extraction_events(
    n: int,
    *,
    customer_id: str = "attacker",
    start: int = T0,
    gap_ms: int = 2 * SECOND,
    seed: int = 1,
    start_index: int = 0,
    account_created_ms: int | None = None,
    account: dict[str, Any] | None = None,
) -> list[InferenceEvent]:
    """A brand-new free-trial account harvesting long CoT answers at a machine's fixed pace.

    Evidence from several independent families (coercion markers, long harvested answers,
    account context, automation), so the documented scoring puts it well above *medium*.
    """
    rng = random.Random(seed)
    created = start - 6 * HOUR if account_created_ms is None else account_created_ms
    return stream(
        cot_prompts(rng, n),
        fixed_times(n, start, gap_ms),
        customer_id=customer_id,
        start_index=start_index,
        output_tokens=1500,
        max_tokens=2000,
        account=account or {"created_at_ms": created, "signup_channel": "free_trial"},
    )


def benign_events(
    n: int,
    *,
    customer_id: str = "benign",
    start: int = T0,
    seed: int = 2,
    start_index: int = 0,
    mean_gap_s: float = 30.0,
    output_tokens: int = 150,
) -> list[InferenceEvent]:
    """An established account chatting at a human, irregular pace with modest answers."""
    rng = random.Random(seed)
    return stream(
        chat_prompts(rng, n),
        poisson_times(n, rng, start, mean_gap_s),
        customer_id=customer_id,
        start_index=start_index,
        output_tokens=output_tokens,
        account={"created_at_ms": start - 800 * DAY, "signup_channel": "self_serve"},
    )


# --- an escalating customer and a hydra cluster ---------------------------------------------


def escalating_events(n_chat: int = 40, n_cot: int = 80, *, customer_id: str = "esc",
                      start: int = T0, seed: int = 3, start_index: int = 0,
                      gap_ms: int = 3 * SECOND) -> list[InferenceEvent]:
    """A new free-trial account at a machine's pace with medium-long answers (a little
    evidence from each of three families: *low*), then switching to chain-of-thought coercion
    (a fourth family ramps up: medium, high, critical)."""
    r = random.Random(seed)
    prompts: list[str | None] = [*chat_prompts(r, n_chat), *cot_prompts(r, n_cot)]
    return stream(prompts, fixed_times(len(prompts), start, gap_ms), customer_id=customer_id,
                  start_index=start_index, output_tokens=400,
                  account={"created_at_ms": start - 6 * HOUR, "signup_channel": "free_trial"})


HEADS = 30
REQUESTS = 10
TLS = "ja3:771,4865-4866-4867,0-23-65281"
#: Irregular, human-looking gaps (seconds): no machine-pacing evidence for any single head.
GAPS_S = (5, 140, 20, 300, 60, 10, 200, 35, 90, 15, 250)


def hydra_heads(n: int = HEADS, seed: int = 1) -> list[list[InferenceEvent]]:
    """``n`` accounts created yesterday, ~10 requests each, every other one a CoT-harvesting
    prompt (the rest ordinary chat), one shared TLS fingerprint and one shared prompt wrapper;
    modest answers, residential network. Each head alone stays below *medium*."""
    r = random.Random(seed)
    heads = []
    for a in range(n):
        cid = f"head-{a:02d}"
        t = T0 + r.randint(0, 20 * MINUTE)
        gaps = list(GAPS_S)
        r.shuffle(gaps)
        times = []
        for i in range(REQUESTS):
            times.append(t)
            t += gaps[i % len(gaps)] * SECOND
        harvest = cot_prompts(r, REQUESTS,
                              wrapper="Reason step by step, show all your work, then answer")
        cover = chat_prompts(r, REQUESTS)
        prompts = [h if i % 2 == 0 else c for i, (h, c) in enumerate(zip(harvest, cover,
                                                                           strict=True))]
        heads.append(stream(
            prompts, times, customer_id=cid, output_tokens=150,
            client={"tls_fingerprint": TLS, "asn": "AS3320", "user_agent": "python-httpx/0.27"},
            account={"created_at_ms": times[0] - DAY, "signup_channel": "self_serve"},
        ))
    return heads


def merged(streams: list[list[InferenceEvent]]) -> list[InferenceEvent]:
    return sorted((e for s in streams for e in s), key=lambda e: (e.ts_ms, e.customer_id))
