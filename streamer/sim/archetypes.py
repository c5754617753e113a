"""Ordinary customers: five product archetypes and six hard look-alikes.

Every customer gets its own arrival process from a real ServeGen tenant (scaled to its
volume), real (input, output) token pairs from the Azure 2023 traces, and prompts from real
corpora (ShareGPT first turns, BANKING77, Taskmaster coffee dialogs; look-alikes also use the
benchmark corpora, as real evaluation harnesses and judges do).

Look-alikes overlap campaigns on single signals on purpose: eval harnesses (templates, the
same benchmark items, logprobs with ``max_tokens=1``, n/temperature sweeps, bursts), judges and
labellers (rubric markers, high volume, short outputs, logprobs and logit bias), batch pipelines
(round-the-clock regularity), resellers (volume, prompt diversity, many keys and agents, hosting
ASNs, fast adoption of new models), enterprise groups (shared payment and infrastructure) and
release-day customers (switch to a new model within hours and spike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamer.sim import templates as tpl
from streamer.sim.arrivals import burst_sessions, paced_arrivals, trace_arrivals
from streamer.sim.data import FloatArray, IntArray, TraceClient
from streamer.sim.identity import (
    BIG_CLOUD,
    HOSTING,
    ORDINARY_COUNTRIES,
    RESIDENTIAL,
    SCRIPT_AGENTS,
    SDK_AGENTS,
    UTC_OFFSET,
    Identity,
    api_keys,
    make_account,
    make_client,
    pick,
    system_prompt_hashes,
)
from streamer.sim.records import Emitter, prompt_tokens
from streamer.sim.scenario import LOOKALIKES
from streamer.sim.world import Actor, ModelChooser, World

PromptFn = Callable[[np.random.Generator], str]
MAX_OVER_VOLUME = 2.0  # a customer sends at most this multiple of its volume over a run

# Median requests per hour of a customer is drawn log-uniformly from this range.
VOLUME: dict[str, tuple[float, float]] = {
    "chat_app": (3, 40), "support_bot": (3, 30), "coding_assistant": (3, 30),
    "rag_app": (3, 30), "batch_pipeline": (30, 150), "eval_harness": (4, 10),
    "llm_judge": (50, 250), "data_labelling": (50, 250), "reseller": (200, 600),
    "enterprise_multi_account": (5, 40), "release_day_spike": (5, 40),
}


@dataclass(slots=True)
class Style:
    """How one app-like customer calls the API (parameters already drawn for this customer)."""

    prompt: PromptFn
    tokens: IntArray
    endpoint: tuple[str, ...]
    stream: bool | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    tools: int | None
    tool_use_p: float
    in_scale: float = 1.0
    out_scale: float = 1.0
    reasoning_median: float = 500.0
    #: (temperature, top_p, n) settings the app rotates through per request (its features
    #: call the API differently); empty: always ``temperature``/``top_p``, n unset.
    variants: tuple[tuple[float | None, float | None, int | None], ...] = ()


def _choice(rng: np.random.Generator, options: tuple[Any, ...],
            weights: tuple[float, ...] | None = None) -> Any:
    if weights is None:
        return pick(rng, options)
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _dialog_prompt(turns: tuple[tuple[str, ...], ...]) -> PromptFn:
    state = {"dialog": (), "i": 0}

    def fn(rng: np.random.Generator) -> str:
        dialog: tuple[str, ...] = state["dialog"]  # type: ignore[assignment]
        i = int(state["i"])  # type: ignore[call-overload]
        if i >= len(dialog):
            dialog, i = pick(rng, turns), 0
        state["dialog"], state["i"] = dialog, i + 1
        return str(dialog[i])

    return fn


#: Split runs only (calibration or held-out bands; the shipped scenarios are unchanged):
#: an app's answers are this many times as long as the trace's (log-uniform), and this share of
#: apps rotate through several sampling settings -- nuisance parameters randomised so that a fit
#: cannot learn "long answers" or "varied settings" as extraction from the simulator alone.
OUT_SCALE_RANGE = (0.4, 4.0)
#: Share of ordinary customers with a young account (days to weeks old) in a split run (0.08
#: in the shipped scenarios): new startups are ordinary too, so youth alone is weak evidence.
YOUNG_SHARE_SPLIT = 0.15
SETTINGS_VARIETY_SHARE = 0.3
#: Median answer length (tokens) of a batch job in a split run, log-uniform (30-160 in the
#: shipped scenarios): translation and summarising pipelines answer at length.
BATCH_OUT_MEDIAN_SPLIT = (30.0, 800.0)


def _style(world: World, arch: str, rng: np.random.Generator) -> Style:
    """Draw the calling habits of one customer of an app-like archetype (nuisance parameters
    randomised in a split run: :data:`OUT_SCALE_RANGE`, :data:`SETTINGS_VARIETY_SHARE`)."""
    style = _base_style(world, arch, rng)
    draws = world.sampler
    if draws.part is None:
        return style
    style.out_scale *= draws.uniform(rng, *OUT_SCALE_RANGE, log=True)
    if rng.random() < SETTINGS_VARIETY_SHARE:
        k = draws.integers(rng, 2, 5)
        style.variants = tuple(
            (_choice(rng, (None, 0.0, 0.3, 0.7, 1.0, 1.2)), _choice(rng, (None, None, 0.9)),
             _choice(rng, (None, None, None, 2, 3))) for _ in range(k))
    return style


def _base_style(world: World, arch: str, rng: np.random.Generator) -> Style:
    bank = world.bank
    temp = _choice(rng, (None, 0.7, 1.0, 0.5))
    endpoint: tuple[str, ...] = (_choice(rng, ("/v1/chat/completions", "/v1/responses"),
                                         (0.75, 0.25)),)
    max_tokens = _choice(rng, (None, 1024, 2048, 4096))
    draws = world.sampler
    tools = draws.integers(rng, 1, 5) if rng.random() < 0.25 else None
    if arch == "support_bot":
        if rng.random() < 0.35:
            return Style(_dialog_prompt(bank.coffee), bank.azure_conv, endpoint, True,
                         0.2, None, 400, draws.integers(rng, 3, 7), 0.45, 0.8, 0.4)
        texts = bank.banking77
        return Style(lambda r: pick(r, texts), bank.azure_conv, endpoint,
                     bool(rng.random() < 0.7), _choice(rng, (0.2, 0.3, 0.0)), None,
                     _choice(rng, (300, 500, 800)), tools, 0.15, 0.8, 0.6)
    if arch == "coding_assistant":
        texts = bank.sharegpt_code
        agentic = rng.random() < 0.5
        return Style(
            lambda r: pick(r, texts), bank.azure_code,
            (_choice(rng, ("/v1/chat/completions", "/v1/completions", "/v1/responses"),
                     (0.6, 0.15, 0.25)),),
            True, _choice(rng, (0.0, 0.2, None)), _choice(rng, (None, 0.95)),
            _choice(rng, (None, 2048, 8192)), draws.integers(rng, 4, 16) if agentic else None,
            0.45 if agentic else 0.0, 1.0, 1.0, 1500.0,
        )
    if arch == "rag_app":
        docs, questions = bank.sharegpt, bank.banking77 + bank.sharegpt[:500]

        def rag(r: np.random.Generator) -> str:
            chunks = "\n---\n".join(pick(r, docs)[:1200] for _ in range(int(r.integers(2, 5))))
            return tpl.RAG.format(docs=chunks, q=pick(r, questions))

        return Style(rag, bank.azure_conv, endpoint, bool(rng.random() < 0.5),
                     _choice(rng, (0.0, 0.1, 0.2)), None, _choice(rng, (256, 512, None)),
                     None, 0.0, 3.0, 0.4)
    if arch == "reseller":
        pools = (bank.sharegpt, bank.banking77, bank.sharegpt_code, bank.self_instruct)

        def mixed(r: np.random.Generator) -> str:
            return str(pick(r, _choice(r, pools, (0.6, 0.2, 0.15, 0.05))))

        return Style(mixed, bank.azure_conv, ("/v1/chat/completions", "/v1/responses",
                                              "/v1/completions"),
                     None, None, None, None, draws.integers(rng, 1, 6), 0.1)
    texts = bank.sharegpt
    return Style(lambda r: pick(r, texts), bank.azure_conv, endpoint,
                 bool(rng.random() < 0.8), temp, _choice(rng, (None, None, 0.9, 1.0)),
                 max_tokens, tools, 0.1)


class OrdinaryBuilder:
    """Creates the ordinary customers of a scenario."""

    def __init__(self, world: World) -> None:
        self.world = world
        clients = world.bank.trace_clients
        self.steady = [c for c in clients if c.active_windows >= 600] or list(clients)
        self.sparse = [c for c in clients if 5 <= c.active_windows < 600] or self.steady

    # ---- identities -------------------------------------------------------------------------
    def identity(self, rng: np.random.Generator, cid: str, arch: str,
                 shared: Identity | None = None) -> Identity:
        w = self.world
        country = pick(rng, ORDINARY_COUNTRIES) if shared is None else shared.account["country"]
        young = rng.random() < (0.08 if w.sampler.part is None else YOUNG_SHARE_SPLIT)
        channel = _choice(rng, ("self_serve", "sales", "partner", "free_trial"),
                          (0.25, 0.1, 0.05, 0.6) if young else (0.6, 0.22, 0.1, 0.08))
        if arch == "reseller":
            channel = "partner"
        elif arch in ("enterprise_multi_account", "eval_harness") and rng.random() < 0.7:
            channel = "sales"
        draws = w.sampler
        account = make_account(rng, w.scenario.start_ms,
                                age_days=draws.age(rng, 3, 30) if young
                                else draws.age(rng, 30, 1400),
                                country=country, channel=channel,
                                payment=None if shared is None
                                else shared.account["payment_fingerprint"])
        if shared is not None:
            return Identity(cid, account, shared.clients, api_keys(rng, cid, 2),
                            system_prompt_hashes(rng, cid, draws.integers(rng, 1, 3)))
        if arch == "coding_assistant" and rng.random() < 0.5:
            asn = pick(rng, RESIDENTIAL)
        elif rng.random() < 0.7:
            asn = pick(rng, BIG_CLOUD)
        else:
            asn = pick(rng, HOSTING)
        n_agents = draws.integers(rng, 6, 13) if arch == "reseller" else 1
        agents = SCRIPT_AGENTS if arch in ("batch_pipeline", "eval_harness") else SDK_AGENTS
        chosen = [pick(rng, agents) for _ in range(n_agents)]
        n_ips = draws.integers(rng, 4, 12) if arch == "reseller" else draws.integers(rng, 1, 4)
        ips = [make_client(rng, asn, chosen[0])["ip"] for _ in range(n_ips)]
        clients = [make_client(rng, asn, a, ip) for a in chosen for ip in ips]
        keys = draws.integers(rng, 40, 300) if arch == "reseller" else draws.integers(rng, 1, 4)
        return Identity(cid, account, clients, api_keys(rng, cid, keys),
                        system_prompt_hashes(rng, cid, draws.integers(rng, 1, 4), 0.3))

    def _arrivals(self, rng: np.random.Generator, ident: Identity, volume: float,
                  sparse: bool = False) -> FloatArray:
        pool = self.sparse if sparse else self.steady
        times = np.empty(0)
        for _ in range(8):  # a tenant idle for the whole run is replaced by another one
            trace: TraceClient = pick(rng, pool)
            offset = int(rng.integers(0, 14)) * 86400 + 3600 * UTC_OFFSET.get(
                str(ident.account["country"]), 0.0)
            times = trace_arrivals(rng, trace, 0.0, self.world.duration_s, volume, offset)
            if times.size:
                break
        cap = int(volume * self.world.duration_s / 3600.0 * MAX_OVER_VOLUME) + 10
        if times.size > cap:  # a busy stretch of the trace: thin it, keeping its shape
            times = np.sort(rng.choice(times, cap, replace=False))
        return times

    # ---- customers --------------------------------------------------------------------------
    def build(self, arch: str, index: int) -> list[Actor]:
        """One customer (or, for ``enterprise_multi_account``, one account of a group)."""
        w = self.world
        rng = w.rng("ordinary", arch, index)
        lo, hi = w.scenario.overrides.get(arch, {}).get("volume", VOLUME[arch])
        volume = w.sampler.uniform(rng, lo, hi, log=True) * w.scenario.volume_scale
        cid = w.new_customer_id("ordinary", arch, index)
        shared = self._enterprise_parent(arch, index)
        ident = self.identity(rng, cid, arch, shared)
        em = Emitter(ident, rng, f"{w.scenario.name}:{w.seed}",
                     w.sampler.uniform(rng, 0.002, 0.02))
        if arch == "eval_harness":
            self._eval_harness(rng, em, volume)
        elif arch in ("llm_judge", "data_labelling"):
            self._grader(rng, em, arch, volume)
        elif arch == "batch_pipeline":
            self._batch(rng, em, volume)
        else:
            self._app(rng, em, arch, volume)
        if arch == "reseller":
            w.resellers.append(ident)
        return [self._actor(ident, arch, em)]

    def _enterprise_parent(self, arch: str, index: int) -> Identity | None:
        if arch != "enterprise_multi_account":
            return None
        group = index // 4
        rng = self.world.rng("enterprise-group", group)
        cid = "group"  # never emitted: only its account and clients are shared
        asn = pick(rng, BIG_CLOUD)
        agent = pick(rng, SDK_AGENTS)
        ips = [make_client(rng, asn, agent)["ip"]
               for _ in range(self.world.sampler.integers(rng, 1, 3))]
        account = make_account(rng, self.world.scenario.start_ms,
                               age_days=self.world.sampler.age(rng, 200, 1500),
                               country="US", channel="sales")
        return Identity(cid, account, [make_client(rng, asn, agent, ip) for ip in ips])

    def _actor(self, ident: Identity, arch: str, em: Emitter) -> Actor:
        w = self.world
        times = [r[0] for r in em.records]
        label = {
            "role": "ordinary", "archetype": arch, "lookalike": arch in LOOKALIKES,
            "campaign_id": None, "tactic": None,
            "active_from_ms": min(times, default=w.scenario.start_ms),
            "active_to_ms": max(times, default=w.scenario.end_ms),
        }
        return Actor(ident.customer_id, label, em.records)

    def _app(self, rng: np.random.Generator, em: Emitter, arch: str, volume: float) -> None:
        w = self.world
        base = arch
        if arch in ("enterprise_multi_account", "release_day_spike"):
            base = _choice(rng, ("chat_app", "support_bot", "coding_assistant"), (0.5, 0.2, 0.3))
        style = _style(w, base, rng)
        models = ModelChooser(w, rng, 0.6 if base == "coding_assistant" else 0.2,
                              adopt=0.6 if arch == "reseller" else 0.25,
                              adopt_days=0.5 if arch == "reseller" else 3.0)
        times = self._arrivals(rng, em.ident, volume)
        spike_model, spike = None, (0.0, 0.0)
        if arch == "release_day_spike" and w.released():
            spike_model, at = w.released()[0]
            begin = at + w.sampler.uniform(rng, 0.2, 3.0) * 3600
            spike = (begin, begin + w.sampler.uniform(rng, 3.0, 8.0) * 3600)
            extra = self._arrivals(rng, em.ident, volume * w.sampler.uniform(rng, 2.0, 5.0))
            extra = extra[(extra >= spike[0]) & (extra < spike[1])]
            times = np.sort(np.concatenate([times, extra]))
        tok = style.tokens
        idx = rng.integers(0, len(tok), times.size)
        for t, i in zip(times.tolist(), idx.tolist(), strict=True):
            model = models.choose(rng, t)
            if spike_model is not None and t >= spike[0] and rng.random() < 0.85:
                model = spike_model
            self._app_request(rng, em, style, model, w.abs_ms(t), tok[i])

    def _app_request(self, rng: np.random.Generator, em: Emitter, style: Style, model: str,
                     ts_ms: int, pair: IntArray) -> None:
        prompt = style.prompt(rng)
        sys_tokens = 0 if style.endpoint[0] == "/v1/completions" else 150
        inp = max(int(pair[0] * style.in_scale), prompt_tokens(prompt) + sys_tokens)
        out = max(1, int(pair[1] * style.out_scale))
        tools = style.tools
        stop = "stop"
        if tools and rng.random() < style.tool_use_p:
            stop, out = "tool_use", max(8, out // 4)
        reasoning = None
        if self.world.is_reasoning(model):
            reasoning = int(rng.lognormal(np.log(style.reasoning_median), 1.0))
        temperature, top_p, n = style.temperature, style.top_p, None
        if style.variants:
            temperature, top_p, n = style.variants[int(rng.integers(0, len(style.variants)))]
        em.emit(ts_ms, model, prompt, inp, out, endpoint=pick(rng, style.endpoint),
                max_tokens=style.max_tokens, temperature=temperature, top_p=top_p,
                reasoning_tokens=reasoning, stop_reason=stop, stream=style.stream,
                tool_count=tools, n=n)

    def _batch(self, rng: np.random.Generator, em: Emitter, volume: float) -> None:
        w = self.world
        template = pick(rng, tpl.BATCH)
        texts = w.bank.banking77 if rng.random() < 0.6 else w.bank.sharegpt
        model = ModelChooser(w, rng, 0.05).primary
        max_tokens = _choice(rng, (256, 512))
        endpoint = _choice(rng, ("/v1/chat/completions", "/v1/completions"))
        times = paced_arrivals(rng, 0.0, w.duration_s, volume,
                               cv=w.sampler.uniform(rng, 0.3, 0.8))
        median_out = w.sampler.uniform(rng, 30, 160)
        if w.sampler.part is not None:  # split runs: summaries and translations run long too
            median_out = w.sampler.uniform(rng, *BATCH_OUT_MEDIAN_SPLIT, log=True)
            max_tokens = max(max_tokens, 4 * int(median_out))
        for t in times.tolist():
            prompt = template.format(q=pick(rng, texts))
            em.emit(w.abs_ms(t), model, prompt, prompt_tokens(prompt) + 40,
                    int(rng.lognormal(np.log(median_out), 0.5)), endpoint=endpoint,
                    max_tokens=max_tokens, temperature=0.0, stream=False, client=0, api_key=0,
                    system_prompt=0)

    def _grader(self, rng: np.random.Generator, em: Emitter, arch: str, volume: float) -> None:
        w = self.world
        bank = w.bank
        model = ModelChooser(w, rng, 0.3).primary
        use_logprobs = rng.random() < 0.4
        top = w.sampler.integers(rng, 5, 11) if use_logprobs else None
        bias = len(tpl.INTENTS) if arch == "data_labelling" and rng.random() < 0.3 else None
        explain = arch == "llm_judge" and rng.random() < 0.3
        max_tokens = 256 if explain else w.sampler.integers(rng, 1, 9)
        times = self._arrivals(rng, em.ident, volume, sparse=rng.random() < 0.4)
        for t in times.tolist():
            if arch == "llm_judge":
                q = pick(rng, bank.sharegpt)[:1500]
                a = tpl.strip_calc(pick(rng, bank.gsm8k)[1]) or pick(rng, bank.code_alpaca)
                if rng.random() < 0.3:
                    prompt = tpl.JUDGE_PAIR.format(q=q, a=a, b=pick(rng, bank.code_alpaca))
                else:
                    prompt = tpl.JUDGE.format(q=q, a=a)
            elif rng.random() < 0.7:
                prompt = tpl.LABEL_INTENT.format(labels=", ".join(tpl.INTENTS),
                                                 q=pick(rng, bank.banking77))
            else:
                prompt = tpl.LABEL_RATE.format(q=pick(rng, bank.sharegpt)[:1500])
            out = int(rng.integers(60, 200)) if explain else int(rng.integers(1, 4))
            em.emit(w.abs_ms(t), model, prompt, prompt_tokens(prompt) + 30, out,
                    endpoint="/v1/chat/completions", max_tokens=max_tokens, temperature=0.0,
                    logprobs=True if use_logprobs else None, top_logprobs=top,
                    logit_bias_count=bias, stream=False, system_prompt=0)

    def _eval_harness(self, rng: np.random.Generator, em: Emitter, runs_per_day: float) -> None:
        """Benchmark runs: the same items, re-run across models, temperatures, n and seeds."""
        w = self.world
        bank = w.bank
        bench = _choice(rng, ("mc", "gsm", "code"))
        size = w.sampler.integers(rng, 100, 400)
        if bench == "mc":
            pool: tuple[str, ...] = bank.flan_cot
        elif bench == "gsm":
            pool = tuple(q for q, _ in bank.gsm8k)
        else:
            pool = bank.humaneval
        items = [pool[int(i)] for i in rng.choice(len(pool), min(size, len(pool)),
                                                  replace=False)]
        sessions = max(1, round(runs_per_day * w.duration_s / 86400.0))
        runs = burst_sessions(rng, 0.0, w.duration_s, sessions, len(items),
                              w.sampler.integers(rng, 4, 33))
        avail = list(w.scenario.models.available) + [m for m, _ in w.released()]
        for run in runs:
            t0 = float(run[0]) if run.size else 0.0
            live = [m for m in avail if m not in dict(w.released())
                    or dict(w.released())[m] <= t0]
            model = pick(rng, live)
            temp = _choice(rng, (0.0, 0.0, 0.2, 0.7, 1.0))
            n = _choice(rng, (1, 5, 10)) if temp else 1
            for t, item in zip(run.tolist(), items, strict=False):
                ts = w.abs_ms(t)
                if bench == "mc":
                    prompt = tpl.EVAL_MC.format(q=item)
                    em.emit(ts, model, prompt, prompt_tokens(prompt), 1,
                            endpoint="/v1/completions", max_tokens=1, temperature=0.0,
                            logprobs=True, top_logprobs=5, logit_bias_count=5 if temp else None,
                            stream=False, client=0, system_prompt=0)
                elif bench == "gsm":
                    prompt = tpl.EVAL_GSM.format(q=item)
                    em.emit(ts, model, prompt, prompt_tokens(prompt) + 600,
                            int(rng.integers(60, 260)), endpoint="/v1/chat/completions",
                            max_tokens=512, temperature=temp, stream=False, client=0,
                            system_prompt=0)
                else:
                    em.emit(ts, model, item, prompt_tokens(item), int(rng.integers(40, 220)),
                            endpoint="/v1/completions", max_tokens=512, temperature=temp,
                            n=n, stream=False, client=0, system_prompt=0)
