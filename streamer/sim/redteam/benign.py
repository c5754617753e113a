"""Ordinary red-team traffic: products, and the look-alikes that must not be flagged.

Each archetype draws its own parameters per customer (rate, pacing, network, account age and
channel, API settings, output lengths), so no two runs see the same population.

>>> from streamer.sim.redteam.corpora import Corpora
>>> from streamer.sim.redteam.tactics import Catalogue
>>> ctx = Context(3, 1_772_409_600_000, 1_772_409_600_000 + 3_600_000, Corpora(None),
...               Catalogue.default())
>>> built = build_ordinary(ctx, "eval_harness", 0)
>>> built[0].label["lookalike"], built[0].label["role"], len(built[0].events) > 0
(True, 'ordinary', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamer.sim.redteam.actors import (
    HOUR_MS,
    NETWORKS,
    STACKS,
    Account,
    EventSink,
    Request,
    arrivals,
    choice,
    digest,
    log_uniform,
    make_account,
    make_client,
    rng,
)
from streamer.sim.redteam.corpora import Corpora, Item
from streamer.sim.redteam.tactics import Catalogue

#: Ordinary archetypes and whether each is a hard look-alike of extraction.
ARCHETYPES: dict[str, bool] = {
    "search_widget": False, "home_assistant": False, "chat_product": False, "zh_chat": False,
    "writing_tool": False, "new_startup": True, "eval_harness": True, "llm_judge": True,
    "batch_job": True, "router": True, "enterprise_fleet": True, "translation_pipeline": True,
    "reseller": True,
}
#: Default mix of a population (shares before per-run randomisation).
DEFAULT_MIX: dict[str, float] = {
    "search_widget": 0.14, "home_assistant": 0.1, "chat_product": 0.16, "zh_chat": 0.07,
    "writing_tool": 0.08, "new_startup": 0.07, "eval_harness": 0.07, "llm_judge": 0.06,
    "batch_job": 0.05, "router": 0.05, "enterprise_fleet": 0.04, "translation_pipeline": 0.05,
    "reseller": 0.06,
}


@dataclass(frozen=True, slots=True)
class Context:
    """What every builder needs: the run seed, the time window, corpora, model names."""

    seed: int
    start_ms: int
    end_ms: int
    corpora: Corpora
    catalogue: Catalogue
    salt: str = "rt"

    def models(self, r: np.random.Generator, t_ms: int) -> tuple[str, ...]:
        """Models an ordinary customer uses; after a release some move to the new one."""
        cat = self.catalogue
        pool = list(cat.chat)
        if cat.release_ms and t_ms >= cat.release_ms and r.random() < 0.3:
            pool.append(cat.release)
        k = int(r.integers(1, min(3, len(pool)) + 1))
        return tuple(str(m) for m in r.choice(pool, k, replace=False))


@dataclass(slots=True)
class Built:
    """One generated account: its ground-truth label and its events."""

    customer_id: str
    label: dict[str, Any]
    events: list[dict[str, Any]]


def _label(archetype: str) -> dict[str, Any]:
    return {"role": "ordinary", "archetype": archetype, "lookalike": ARCHETYPES[archetype],
            "campaign_id": None, "tactic": None}


def _window(ctx: Context, r: np.random.Generator, min_share: float = 0.5) -> tuple[int, int]:
    """An activity window inside the run (most customers are active most of it)."""
    span = ctx.end_ms - ctx.start_ms
    if r.random() < 0.7:
        return ctx.start_ms, ctx.end_ms
    length = int(span * r.uniform(min_share, 1.0))
    start = ctx.start_ms + int(r.integers(0, max(1, span - length)))
    return start, start + length


def _product_account(ctx: Context, r: np.random.Generator, arch: str, *, keys: int = 2,
                     clients: int = 2, network: str = "cloud", young: bool = False) -> Account:
    age = log_uniform(r, 0.3, 12.0) if young else log_uniform(r, 20.0, 1800.0)
    channel = (choice(r, ("free_trial", "self_serve", "startup_credits")) if young else
               choice(r, ("self_serve", "sales", "partner", "marketplace", "referral"),
                      (0.45, 0.25, 0.1, 0.1, 0.1)))
    acct = make_account(r, ctx.start_ms, f"{ctx.salt}/{arch}", age_days=age, channel=channel,
                        network=network, keys=keys, clients=clients)
    acct.system_prompts = [None] if r.random() < 0.3 else [
        "sp_" + digest(acct.customer_id, "sp", i, n=14) for i in range(int(r.integers(1, 4)))]
    return acct


def _simple(ctx: Context, r: np.random.Generator, acct: Account, arch: str,
            corpus: Callable[[np.random.Generator], Item], *, rate: float, pacing: str,
            out: tuple[float, float], max_tokens: tuple[int | None, ...] = (None, 512, 1024),
            temperature: tuple[float | None, ...] = (None, 0.3, 0.7, 1.0),
            wrap: Callable[[np.random.Generator, Item], str] | None = None,
            stream: bool | None = None, endpoint: str = "/v1/chat/completions",
            limit: int | None = None) -> Built:
    sink = EventSink(acct, r, f"{ctx.salt}/{arch}", error_rate=float(r.uniform(0.001, 0.02)),
                     ok_word=choice(r, ("ok", "success")))
    lo, hi = _window(ctx, r)
    mt = choice(r, max_tokens)
    temp = choice(r, temperature)
    out_mean = log_uniform(r, *out)
    for t in arrivals(r, lo, hi, rate, pacing, limit=limit):
        item = corpus(r)
        prompt = wrap(r, item) if wrap else item.text
        expected = (item.answer_chars / (1.5 if item.lang == "zh" else 3.8)
                    if item.answer_chars and r.random() < 0.5 else out_mean)
        sink.emit(t, Request(prompt=prompt, model=choice(r, ctx.models(r, t)),
                             expected_out=expected, endpoint=endpoint, max_tokens=mt,
                             temperature=temp, stream=stream))
    return Built(acct.customer_id, _label(arch), sink.events)


def _pick(items: tuple[Item, ...]) -> Callable[[np.random.Generator], Item]:
    return lambda r: choice(r, items)


def _mixed(*pools: tuple[tuple[Item, ...], float]) -> Callable[[np.random.Generator], Item]:
    weights = [w for _, w in pools]

    def draw(r: np.random.Generator) -> Item:
        items: tuple[Item, ...] = choice(r, [p for p, _ in pools], weights)
        return choice(r, items)
    return draw


def _eval_harness(ctx: Context, r: np.random.Generator, acct: Account) -> Built:
    """Benchmark runs: a fixed item pool re-run across models and temperatures, partly scored
    by log-probabilities with ``max_tokens=1``."""
    c = ctx.corpora
    source = choice(r, (c.math, c.arena, c.cot, c.code))
    pool = [choice(r, source) for _ in range(int(r.integers(80, 400)))]
    sink = EventSink(acct, r, f"{ctx.salt}/eval", error_rate=0.003)
    span = ctx.end_ms - ctx.start_ms
    runs = int(r.integers(1, 4))
    logprob_mode = r.random() < 0.5
    models = tuple(ctx.catalogue.chat) + tuple(ctx.catalogue.reasoning)
    for run in range(runs):
        start = ctx.start_ms + int(r.uniform(0, 0.8) * span)
        rate = log_uniform(r, 300.0, 3000.0)
        model = choice(r, models)
        temp = choice(r, (0.0, 0.0, 0.6, 1.0))
        scoring = logprob_mode and r.random() < 0.7
        times = arrivals(r, start, min(ctx.end_ms, start + int(r.uniform(0.2, 1.5) * HOUR_MS)),
                         rate, "machine", limit=len(pool) * (4 if scoring else 1))
        for i, t in enumerate(times):
            item = pool[i % len(pool)]
            if scoring:
                req = Request(prompt=item.text + "\nAnswer:", model=model, expected_out=1.0,
                              endpoint="/v1/completions", max_tokens=1, temperature=0.0,
                              logprobs=True, top_logprobs=5)
            else:
                req = Request(prompt=item.text, model=model, expected_out=log_uniform(r, 200, 900),
                              max_tokens=choice(r, (1024, 2048, 4096)), temperature=temp)
            sink.emit(t, req, key=run % len(acct.api_keys))
    return Built(acct.customer_id, _label("eval_harness"), sink.events)


_JUDGE = (
    "[System: evaluation]\nUser question:\n{q}\n\nAssistant response:\n{a}\n\nIs the response "
    "correct and helpful? Reply with a score 1-5 and one sentence of reasoning, as JSON.",
    "Evaluate the assistant response below for factual accuracy. Output a verdict "
    "(PASS/FAIL) and a brief explanation.\n### Question\n{q}\n### Response\n{a}",
)


def _llm_judge(ctx: Context, r: np.random.Generator, acct: Account) -> Built:
    c = ctx.corpora
    template = choice(r, _JUDGE)
    qs = choice(r, (c.arena, c.search, c.zh_chat))

    def wrap(r2: np.random.Generator, item: Item) -> str:
        return template.format(q=item.text[:1500], a=choice(r2, c.arena).text[:800])
    return _simple(ctx, r, acct, "llm_judge", _pick(qs), rate=log_uniform(r, 20, 300),
                   pacing="machine", out=(40, 250), max_tokens=(256, 512), temperature=(0.0,),
                   wrap=wrap)


def _translation(ctx: Context, r: np.random.Generator, acct: Account) -> Built:
    c = ctx.corpora
    template = choice(r, ("Translate the following text into English. Keep the formatting.\n\n"
                          "{q}", "Translate to English:\n{q}",
                          "You are a professional translator. Render this in natural English:"
                          "\n{q}"))
    return _simple(ctx, r, acct, "translation_pipeline", _mixed((c.zh_chat, 0.7),
                                                                (c.zh_instruct, 0.3)),
                   rate=log_uniform(r, 20, 400), pacing=choice(r, ("machine", "bursty")),
                   out=(80, 500), temperature=(0.0, 0.2, None),
                   wrap=lambda _r, item: template.format(q=item.text))


def _batch(ctx: Context, r: np.random.Generator, acct: Account) -> Built:
    c = ctx.corpora
    template = choice(r, ("Classify the intent of this query into one of: navigational, "
                          "informational, transactional.\nQuery: {q}",
                          "Rewrite the search query to be more specific: {q}",
                          "Extract the main entity from: {q}"))
    sink = EventSink(acct, r, f"{ctx.salt}/batch", error_rate=0.01)
    span = ctx.end_ms - ctx.start_ms
    start = ctx.start_ms + int(r.uniform(0, 0.7) * span)
    end = min(ctx.end_ms, start + int(r.uniform(0.2, 1.0) * HOUR_MS))
    model = choice(r, ctx.catalogue.chat)
    pool = choice(r, (c.search, c.assistant))
    for t in arrivals(r, start, end, log_uniform(r, 400, 2000), "machine"):
        item = choice(r, pool)
        sink.emit(t, Request(prompt=template.format(q=item.text), model=model,
                             expected_out=log_uniform(r, 3, 40), max_tokens=64,
                             temperature=0.0))
    return Built(acct.customer_id, _label("batch_job"), sink.events)


def _router(ctx: Context, r: np.random.Generator, acct: Account) -> Built:
    c = ctx.corpora
    acct.clients += [make_client(r, "cloud", stack) for stack in STACKS[: int(r.integers(2, 6))]]
    draw = _mixed((c.arena, 0.3), (c.search, 0.25), (c.assistant, 0.15), (c.zh_chat, 0.1),
                  (c.code, 0.1), (c.math, 0.1))
    sink = EventSink(acct, r, f"{ctx.salt}/router", error_rate=0.01)
    models = (*ctx.catalogue.chat, *ctx.catalogue.reasoning)
    for t in arrivals(r, ctx.start_ms, ctx.end_ms, log_uniform(r, 100, 600), "poisson"):
        item = draw(r)
        model = choice(r, models)
        sink.emit(t, Request(prompt=item.text, model=model, expected_out=log_uniform(r, 30, 800),
                             max_tokens=choice(r, (None, 1024, 4096)),
                             temperature=choice(r, (None, 0.7, 1.0)),
                             reasoning_share=0.5 if model in ctx.catalogue.reasoning else 0.0,
                             stream=choice(r, (True, False))))
    return Built(acct.customer_id, _label("router"), sink.events)


def _reseller(ctx: Context, r: np.random.Generator, acct: Account, rate: float | None = None
              ) -> tuple[EventSink, Callable[[np.random.Generator], Item], list[int]]:
    """The ordinary side of a reseller: many end users behind one account."""
    draw = reseller_draw(ctx.corpora)
    sink = EventSink(acct, r, f"{ctx.salt}/reseller", error_rate=0.01)
    times = arrivals(r, ctx.start_ms, ctx.end_ms, rate or log_uniform(r, 100, 500), "poisson")
    return sink, draw, times


def reseller_draw(c: Corpora) -> Callable[[np.random.Generator], Item]:
    """What a reseller's end users ask, mixed."""
    return _mixed((c.search, 0.3), (c.arena, 0.25), (c.assistant, 0.2), (c.zh_chat, 0.15),
                  (c.roleplay, 0.05), (c.code, 0.05))


def reseller_request(ctx: Context, r: np.random.Generator, draw: Callable[[np.random.Generator],
                     Item], t: int) -> Request:
    item = draw(r)
    return Request(prompt=item.text, model=choice(r, ctx.models(r, t)),
                   expected_out=log_uniform(r, 30, 700), max_tokens=choice(r, (None, 2048)),
                   temperature=choice(r, (None, 0.7)), stream=choice(r, (True, None)))


def make_reseller(ctx: Context, r: np.random.Generator, salt: str) -> Account:
    """A reseller account: aged partner, many keys, end users on every kind of network."""
    acct = make_account(r, ctx.start_ms, f"{ctx.salt}/{salt}",
                        age_days=log_uniform(r, 120, 1500),
                        channel=choice(r, ("partner", "sales", "self_serve")),
                        network="cloud", keys=int(r.integers(8, 60)),
                        clients=int(r.integers(2, 6)))
    return acct


def build_ordinary(ctx: Context, arch: str, index: int) -> list[Built]:
    """The account(s) of one ordinary customer of ``arch`` (a fleet is several accounts)."""
    r = rng(ctx.seed, ctx.salt, "ordinary", arch, index)
    c = ctx.corpora
    if arch == "search_widget":
        acct = _product_account(ctx, r, arch)
        return [_simple(ctx, r, acct, arch, _pick(c.search), rate=log_uniform(r, 10, 300),
                        pacing=choice(r, ("poisson", "human")), out=(40, 220),
                        max_tokens=(256, 512, None))]
    if arch == "home_assistant":
        acct = _product_account(ctx, r, arch, keys=int(r.integers(1, 5)))
        return [_simple(ctx, r, acct, arch, _pick(c.assistant), rate=log_uniform(r, 20, 500),
                        pacing="poisson", out=(10, 60), max_tokens=(64, 128, None))]
    if arch == "chat_product":
        acct = _product_account(ctx, r, arch, network=choice(r, ("cloud", "cloud", "residential")))
        return [_simple(ctx, r, acct, arch, _mixed((c.arena, 0.6), (c.search, 0.4)),
                        rate=log_uniform(r, 4, 150), pacing=choice(r, ("human", "poisson")),
                        out=(200, 900), stream=True)]
    if arch == "zh_chat":
        acct = _product_account(ctx, r, arch, network=choice(r, ("cloud", "residential")))
        return [_simple(ctx, r, acct, arch, _pick(c.zh_chat), rate=log_uniform(r, 4, 120),
                        pacing=choice(r, ("human", "poisson")), out=(200, 700), stream=True)]
    if arch == "writing_tool":
        acct = _product_account(ctx, r, arch)
        verb = choice(r, ("Improve the clarity of this text:", "Make this sound more formal:",
                          "Shorten this paragraph:", "Fix grammar and spelling:"))
        return [_simple(ctx, r, acct, arch, _mixed((c.arena, 0.5), (c.roleplay, 0.5)),
                        rate=log_uniform(r, 5, 200), pacing="poisson", out=(80, 400),
                        wrap=lambda _r, item: f"{verb}\n\n{item.text}")]
    if arch == "new_startup":
        acct = _product_account(ctx, r, arch, young=True, keys=1, clients=1)
        return [_simple(ctx, r, acct, arch, _mixed((c.arena, 0.5), (c.search, 0.3),
                                                   (c.zh_chat, 0.2)),
                        rate=log_uniform(r, 3, 80), pacing=choice(r, ("human", "poisson")),
                        out=(100, 700))]
    if arch == "eval_harness":
        acct = _product_account(ctx, r, arch, keys=int(r.integers(1, 4)), clients=1)
        return [_eval_harness(ctx, r, acct)]
    if arch == "llm_judge":
        return [_llm_judge(ctx, r, _product_account(ctx, r, arch, clients=1))]
    if arch == "translation_pipeline":
        return [_translation(ctx, r, _product_account(ctx, r, arch, clients=1))]
    if arch == "batch_job":
        return [_batch(ctx, r, _product_account(ctx, r, arch, clients=1))]
    if arch == "router":
        acct = _product_account(ctx, r, arch, keys=int(r.integers(20, 200)), clients=1)
        return [_router(ctx, r, acct)]
    if arch == "reseller":
        acct = make_reseller(ctx, r, f"reseller{index}")
        sink, draw, times = _reseller(ctx, r, acct)
        for t in times:
            sink.emit(t, reseller_request(ctx, r, draw, t))
        return [Built(acct.customer_id, _label("reseller"), sink.events)]
    if arch == "enterprise_fleet":
        return _fleet(ctx, r)
    raise ValueError(f"unknown archetype {arch!r}")


def _fleet(ctx: Context, r: np.random.Generator) -> list[Built]:
    """A company with many accounts sharing payment, network, client stack, system prompt."""
    size = int(r.integers(6, 30))
    payment = "pm_" + digest("fleet", float(r.random()), n=14)
    asn = choice(r, NETWORKS["corporate"] + NETWORKS["cloud"])
    stack = choice(r, STACKS)
    sp = "sp_" + digest("fleet-sp", payment, n=14)
    c = ctx.corpora
    draw = _mixed((c.search, 0.3), (c.arena, 0.3), (c.code, 0.2), (c.assistant, 0.2))
    age = log_uniform(r, 60, 1500)
    out: list[Built] = []
    for i in range(size):
        acct = make_account(r, ctx.start_ms, f"{ctx.salt}/fleet", age_days=age + i,
                            channel="sales", network="corporate", payment=payment,
                            stack=stack, keys=int(r.integers(1, 4)))
        for cl in acct.clients:
            cl.asn = asn
        acct.system_prompts = [sp]
        out.append(_simple(ctx, r, acct, "enterprise_fleet", draw,
                           rate=log_uniform(r, 3, 60), pacing="poisson", out=(80, 700)))
    return out


def population(ctx: Context, count: int, mix: dict[str, float] | None = None) -> list[Built]:
    """``count`` ordinary customers; the archetype shares are ``mix`` (default
    :data:`DEFAULT_MIX`) jittered per seed (Dirichlet), so every run differs."""
    r = rng(ctx.seed, ctx.salt, "population")
    base = mix or DEFAULT_MIX
    names = list(base)
    shares = r.dirichlet([max(0.05, base[n] * 80) for n in names])
    counts = np.floor(shares * count).astype(int)
    for i in np.argsort(-shares)[: count - int(counts.sum())]:
        counts[int(i)] += 1
    out: list[Built] = []
    for name, k in zip(names, counts, strict=True):
        for i in range(int(k)):
            out.extend(build_ordinary(ctx, name, i))
    return out
