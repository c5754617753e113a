"""Extraction campaigns: accounts, pacing and content for each tactic.

Content tactics (one per campaign): ``broad_sweep``, ``cot_coercion``, ``rubric_grading``,
``narrow_code``, ``agentic_tools``, ``self_instruct``, ``logprob_harvest``. Operational
tactics wrap one of those (``sub_tactic``): ``release_chasing`` (moves to a newly released model
within a day), ``hydra`` (many small load-balanced or synchronised accounts with shared
infrastructure subsets, some routed through a reseller) and ``adaptive_evasion`` (clean-looking
aged accounts, residential networks, paraphrased templates, human-like jittered timing and a
warm-up of ordinary traffic before the harvest).

A campaign's accounts draw prompts from one shared shuffled pool, so almost every prompt is
novel across the whole campaign, as a distillation run wants coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamer.sim import templates as tpl
from streamer.sim.arrivals import paced_arrivals, trace_arrivals
from streamer.sim.data import DataBank, FloatArray
from streamer.sim.identity import (
    ASNS,
    HOSTING,
    PROXY,
    RESIDENTIAL,
    SCRIPT_AGENTS,
    SDK_AGENTS,
    UTC_OFFSET,
    Asn,
    Identity,
    api_keys,
    make_account,
    make_client,
    pick,
    stable_hex,
    system_prompt_hashes,
    tls_fingerprint,
)
from streamer.sim.records import Emitter, prompt_tokens
from streamer.sim.scenario import CampaignSpec
from streamer.sim.split import Sampler
from streamer.sim.world import Actor, World

#: Median answer length (tokens) of a campaign account in a split run, log-uniform: from short
#: answers to long ones (500-1,400 in the shipped scenarios), as wide as ordinary apps' range.
CAMPAIGN_OUT_MEDIAN_SPLIT = (150.0, 2500.0)
CAMPAIGN_COUNTRIES = ("US", "SG", "HK", "CN", "RU", "AE", "GB", "DE", "NL", "KR", "IN", "BR")


class Pool:
    """A campaign-wide shuffled prompt pool: draws without replacement, reshuffles when spent."""

    def __init__(self, texts: Sequence[Any], rng: np.random.Generator) -> None:
        self.texts = texts
        self.rng = rng
        self.order = rng.permutation(len(texts))
        self.i = 0

    def next(self) -> Any:
        if self.i >= len(self.order):
            self.order, self.i = self.rng.permutation(len(self.texts)), 0
        item = self.texts[int(self.order[self.i])]
        self.i += 1
        return item


@dataclass(slots=True)
class Request:
    prompt: str
    output: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    reasoning_median: float = 0.0
    extra_input: int = 120


class Content:
    """Prompt and request parameters of one content tactic, shared by a campaign's accounts."""

    def __init__(self, tactic: str, bank: DataBank, rng: np.random.Generator,
                 evasive: bool = False, sampler: Sampler | None = None,
                 params: dict[str, Any] | None = None) -> None:
        self.tactic = tactic
        self.evasive = evasive
        self.draws = sampler or Sampler()
        # logprob_harvest: share of requests with logit_bias, share of one-token probes.
        self.logit_bias_share = float((params or {}).get("logit_bias_share", 1.0))
        self.probe_share = float((params or {}).get("probe_share", 0.8))
        gsm = tuple(q for q, _ in bank.gsm8k)
        everything = (gsm + bank.flan_cot + bank.code_alpaca + bank.humaneval
                      + bank.alpaca_seed + bank.self_instruct)
        pools = {
            "broad_sweep": everything + bank.sharegpt,
            "cot_coercion": gsm + bank.flan_cot,
            "rubric_grading": bank.gsm8k,
            "narrow_code": bank.code_alpaca + bank.humaneval,
            "agentic_tools": bank.self_instruct + bank.alpaca_seed + bank.code_alpaca,
            "self_instruct": bank.alpaca_seed + bank.self_instruct,
            "logprob_harvest": everything,
        }
        self.pool = Pool(pools[tactic], rng)
        self.sweep: list[Request] = []

    def _wrap(self, rng: np.random.Generator, template: str, **kw: Any) -> str:
        text = template.format(**kw)
        return tpl.paraphrase(rng, text) if self.evasive else text

    def next(self, rng: np.random.Generator, per_account: dict[str, Any]) -> Request:
        t = self.tactic
        out = int(rng.lognormal(np.log(per_account.get("out_median", 800.0)), 0.45))
        chat = {"endpoint": "/v1/chat/completions", "stream": per_account.get("stream", False),
                "temperature": per_account.get("temperature"),
                "max_tokens": per_account.get("max_tokens")}
        if t == "cot_coercion":
            q = self.pool.next()
            return Request(self._wrap(rng, pick(rng, tpl.COT_WRAPPERS), q=q), out, chat, 4000.0)
        if t == "rubric_grading":
            q, a = self.pool.next()
            return Request(self._wrap(rng, tpl.RUBRIC_CAMPAIGN, q=q, a=tpl.strip_calc(a)),
                           out, chat, 2000.0)
        if t == "narrow_code":
            return Request(self._wrap(rng, pick(rng, tpl.CODE_WRAPPERS), q=self.pool.next()),
                           out, chat, 2500.0)
        if t == "agentic_tools":
            tools = [str(x) for x in rng.choice(tpl.TOOLS, int(rng.integers(4, 12)),
                                                replace=False)]
            prompt = self._wrap(rng, tpl.AGENT, tools=", ".join(tools), task=self.pool.next())
            kw = dict(chat, endpoint=per_account.get("endpoint", "/v1/responses"),
                      tool_count=len(tools) + int(rng.integers(0, 8)))
            if rng.random() < 0.6:
                kw["stop_reason"] = "tool_use"
                out = max(20, out // 3)
            return Request(prompt, out, kw, 1500.0, 900)
        if t == "self_instruct":
            examples = "\n".join(f"{i + 1}. {self.pool.next()[:600]}" for i in range(3))
            n = pick(rng, (10, 20, 50))
            return Request(self._wrap(rng, tpl.SELF_INSTRUCT, examples=examples, n=n),
                           out * 2, chat, 1000.0)
        if t == "logprob_harvest":
            return self._harvest(rng)
        return Request(self._wrap(rng, pick(rng, tpl.SWEEP_WRAPPERS), q=self.pool.next()),
                       out, chat, 1500.0)

    def _harvest(self, rng: np.random.Generator) -> Request:
        """Next request of a logprob sweep: each prompt re-sent over n/temperature settings."""
        if not self.sweep:
            q = str(self.pool.next())
            prompt = q if rng.random() < 0.5 else f"Continue the text:\n{q}"
            top = self.draws.integers(rng, 5, 21)
            bias = self.draws.integers(rng, 1, 51)
            for _ in range(int(rng.integers(2, 5))):
                max_tokens = 1 if rng.random() < self.probe_share else int(rng.integers(2, 6))
                n = pick(rng, (1, 2, 4, 8))
                biased = self.logit_bias_share >= 1.0 or rng.random() < self.logit_bias_share
                self.sweep.append(Request(prompt, max_tokens, {
                    "endpoint": "/v1/completions", "max_tokens": max_tokens,
                    "temperature": pick(rng, (0.0, 0.5, 1.0, 1.5)), "n": n, "logprobs": True,
                    "top_logprobs": top, "logit_bias_count": bias if biased else None,
                    "stream": False,
                }, 0.0, 10))
        return self.sweep.pop()


@dataclass(slots=True)
class Member:
    ident: Identity
    emitter: Emitter
    settings: dict[str, Any]
    times: FloatArray
    active: tuple[float, float]  # planned harvest window (s from start)


class CampaignBuilder:
    """Creates the accounts and traffic of one campaign."""

    def __init__(self, world: World, spec: CampaignSpec, index: int) -> None:
        self.world = world
        self.spec = spec
        self.rng = world.rng("campaign", index, spec.tactic)
        self.index = index
        self.start_s = spec.start_ms / 1000.0
        self.end_s = spec.end_ms / 1000.0
        self.sub = str(spec.get("sub_tactic", "cot_coercion")) if spec.tactic in (
            "hydra", "adaptive_evasion", "release_chasing") else spec.tactic
        if spec.tactic == "release_chasing" and "sub_tactic" not in spec.params:
            self.sub = "broad_sweep"
        self.content = Content(self.sub, world.bank, self.rng,
                               evasive=spec.tactic == "adaptive_evasion", sampler=world.sampler,
                               params=spec.params)
        self.system_prompt = stable_hex("campaign-sys", world.seed, index, n=16)
        n_infra = int(spec.get("infra_groups", max(2, spec.accounts // 25 + 2)))
        self.infra = [self._infra(i) for i in range(n_infra)]
        self.payments = ["pf_" + stable_hex("cpay", world.seed, index, i, n=14)
                         for i in range(max(1, spec.accounts // 4))]
        self.switch = self._switch_s() if spec.tactic == "release_chasing" else None

    # ---- identities -------------------------------------------------------------------------
    def _infra(self, i: int) -> tuple[str, tuple[str, str]]:
        rng = self.rng
        asn = pick(rng, PROXY) if rng.random() < 0.5 else pick(rng, HOSTING)
        ua, stack = pick(rng, SCRIPT_AGENTS)
        if rng.random() < 0.6:  # a custom client stack: rare TLS fingerprint shared by a subset
            stack = f"custom-{self.world.seed}-{self.index}-{i}"
        return asn, (ua, stack)

    def identity(self, rng: np.random.Generator, cid: str, k: int) -> Identity:
        w = self.world
        draws = w.sampler
        tactic = self.spec.tactic
        if tactic == "adaptive_evasion":  # aged, clean, residential, consistent geography
            asn = pick(rng, RESIDENTIAL)
            country = ASNS[asn].country
            account = make_account(rng, w.scenario.start_ms, age_days=draws.age(rng, 40, 500),
                                   country=country, channel="self_serve")
            agent = pick(rng, SDK_AGENTS)
            clients = [make_client(rng, asn, agent) for _ in range(draws.integers(rng, 1, 4))]
            return Identity(cid, account, clients, api_keys(rng, cid, 1),
                            system_prompt_hashes(rng, cid, 1, 0.5))
        hydra = tactic == "hydra"
        via_reseller = hydra and w.resellers and rng.random() < float(
            self.spec.get("via_reseller", 0.3))
        clean = rng.random() < (0.15 if hydra else 0.25)
        asn, agent = self.infra[k % len(self.infra)]
        geo: Asn = ASNS[asn]
        country = geo.country if clean or rng.random() < 0.5 else pick(rng, CAMPAIGN_COUNTRIES)
        channel = "partner" if via_reseller else pick(
            rng, ("free_trial", "free_trial", "self_serve", "self_serve", "partner"))
        if clean:
            asn = pick(rng, RESIDENTIAL)
            agent = pick(rng, SDK_AGENTS)
            channel = "self_serve"
        payment = pick(rng, self.payments) if rng.random() < 0.5 else None
        account = make_account(rng, w.scenario.start_ms,
                               age_days=draws.age(rng, 0.2, 10) if hydra
                               else draws.age(rng, 0.5, 30),
                               country=country, channel=channel, payment=payment)
        if via_reseller:
            reseller = pick(rng, w.resellers)
            clients = [pick(rng, reseller.clients)]
        else:
            clients = [make_client(rng, asn, agent) for _ in range(draws.integers(rng, 1, 3))]
            if not clean and agent[1].startswith("custom"):
                for c in clients:
                    c["tls_fingerprint"] = tls_fingerprint(agent[1])
        sys_hashes: list[str | None] = [self.system_prompt] if rng.random() < 0.6 else [None]
        return Identity(cid, account, clients, api_keys(rng, cid, draws.integers(rng, 1, 3)),
                        sys_hashes)

    def _member(self, k: int) -> Member:
        w = self.world
        rng = w.rng("campaign", self.index, "account", k)
        cid = w.new_customer_id("campaign", self.index, k)
        ident = self.identity(rng, cid, k)
        draws = w.sampler
        error_rate = 0.01 if self.spec.tactic == "adaptive_evasion" else draws.uniform(
            rng, 0.02, 0.08)
        em = Emitter(ident, rng, f"{w.scenario.name}:{w.seed}", error_rate,
                     ms_per_token=draws.uniform(rng, 12, 25))
        settings: dict[str, Any] = {
            "temperature": pick(rng, (None, 0.0, 0.7, 1.0)),
            "max_tokens": pick(rng, (None, 4096, 8192, 16000)),
            "stream": bool(rng.random() < 0.3),
            # split runs: answer lengths as wide as ordinary apps' (archetypes.OUT_SCALE_RANGE)
            "out_median": draws.uniform(rng, 500, 1400) if draws.part is None
            else draws.uniform(rng, *CAMPAIGN_OUT_MEDIAN_SPLIT, log=True),
        }
        return Member(ident, em, settings, np.empty(0), (self.start_s, self.end_s))

    # ---- traffic ----------------------------------------------------------------------------
    def build(self) -> tuple[list[Actor], dict[str, Any]]:
        spec = self.spec
        members = [self._member(k) for k in range(spec.accounts)]
        if spec.tactic == "hydra":
            self._hydra_times(members)
        else:
            for m in members:
                m.times = self._times(m)
        models = self._models()
        for m in members:
            if spec.tactic == "adaptive_evasion":
                self._warmup(m)
            for t in m.times.tolist():
                self._request(m, t, models(t, m.emitter.rng))
        actors = []
        for m in members:
            label = {
                "role": "campaign", "archetype": spec.tactic, "lookalike": False,
                "campaign_id": spec.campaign_id, "tactic": spec.tactic,
                "active_from_ms": self.world.abs_ms(m.active[0]),
                "active_to_ms": self.world.abs_ms(m.active[1]),
            }
            actors.append(Actor(m.ident.customer_id, label, m.emitter.records))
        info: dict[str, Any] = {
            "tactic": spec.tactic,
            "start_ms": min(a.label["active_from_ms"] for a in actors),
            "end_ms": max(a.label["active_to_ms"] for a in actors),
            "accounts": [a.customer_id for a in actors],
            "hydra": spec.tactic == "hydra",
        }
        if spec.tactic == "hydra":
            info["sub_tactic"] = self.sub
        return actors, info

    def _times(self, m: Member) -> FloatArray:
        rng = m.emitter.rng
        draws = self.world.sampler
        rate = self.spec.rate_per_account_per_hour * draws.uniform(rng, 0.7, 1.3)
        if self.spec.tactic == "adaptive_evasion":
            trace = pick(rng, [c for c in self.world.bank.trace_clients
                               if c.active_windows >= 1000] or self.world.bank.trace_clients)
            offset = int(rng.integers(0, 14)) * 86400 + 3600 * UTC_OFFSET.get(
                str(m.ident.account["country"]), 0.0)
            times = trace_arrivals(rng, trace, self.start_s, self.end_s, rate, offset, 4.0)
            return np.sort(times + rng.normal(0.0, 20.0, times.size)).clip(self.start_s,
                                                                           self.end_s - 0.001)
        drawn_cv = draws.uniform(rng, 0.1, 0.4)
        times = paced_arrivals(rng, self.start_s, self.end_s, rate,
                               cv=float(self.spec.get("cv", drawn_cv)))
        if self.spec.tactic == "release_chasing":
            switch = self.switch
            if switch is not None:  # the operator scales up on the new model
                more = paced_arrivals(rng, switch, self.end_s,
                                      rate * (float(self.spec.get("ramp", 2.0)) - 1.0), cv=0.3)
                times = np.sort(np.concatenate([times, more]))
        return times

    def _hydra_times(self, members: list[Member]) -> None:
        """Load-balance (or synchronise) a campaign stream over short-lived small accounts."""
        rng = self.rng
        cap = int(self.spec.get("max_requests_per_account", 150))
        lo = max(5, cap // 4)
        draws = self.world.sampler
        quotas = (rng.integers(lo, cap + 1, len(members)) if draws.part is None
                  else np.asarray([draws.integers(rng, lo, cap + 1) for _ in members],
                                  dtype=np.int64))
        total = int(quotas.sum())
        span = self.end_s - self.start_s
        timing = str(self.spec.get("timing", "load_balanced"))
        concurrent = int(self.spec.get("concurrent", max(8, len(members) // 5)))
        if timing == "synchronised":
            period = float(self.spec.get("period_s", 30.0))
            waves = np.arange(self.start_s + 1.0, self.end_s, period)
            master = np.repeat(waves, concurrent)[:total]
            master = master + rng.uniform(0.0, 0.8, master.size)
        else:
            master = paced_arrivals(rng, self.start_s, self.end_s, total / span * 3600.0,
                                    cv=0.5, limit=total)
        assigned: list[list[float]] = [[] for _ in members]
        active = list(range(min(concurrent, len(members))))
        nxt = len(active)
        sync = timing == "synchronised"
        for rr, t in enumerate(master.tolist()):
            if not active:
                break
            if sync:  # every active account fires once per wave
                slot = rr % len(active)
            else:  # load balancer: the less used of two random accounts
                a, b = rng.integers(0, len(active), 2)
                slot = int(a if len(assigned[active[a]]) <= len(assigned[active[b]]) else b)
            k = active[slot]
            assigned[k].append(t)
            if len(assigned[k]) >= quotas[k]:
                if nxt < len(members):
                    active[slot] = nxt
                    nxt += 1
                else:
                    active.pop(slot)
        for m, ts in zip(members, assigned, strict=True):
            m.times = np.sort(np.asarray(ts, dtype=float))
            if m.times.size:
                m.active = (float(m.times[0]), float(m.times[-1]))
            else:
                m.active = (self.start_s, self.start_s)

    def _switch_s(self) -> float | None:
        releases = self.world.released()
        if not releases:
            return None
        _, at = releases[0]
        hours = float(self.spec.get("switch_within_hours", 6.0))
        share = self.world.sampler.uniform(self.rng, 0.25, 1.0)
        return min(self.end_s, at + share * min(hours, 24.0) * 3600)

    def _models(self) -> Any:
        w = self.world
        avail = list(w.scenario.models.available)
        preferred = [m for m in avail if w.is_reasoning(m)] or avail
        wanted = self.spec.get("models", None)
        base = list(wanted) if wanted else (
            preferred if self.sub in ("cot_coercion", "rubric_grading") else avail[-2:])
        switch = self.switch
        new = w.released()[0][0] if w.released() else None

        def choose(t: float, rng: np.random.Generator) -> str:
            if switch is not None and new is not None and t >= switch and rng.random() < 0.9:
                return new
            return str(pick(rng, base))

        return choose

    def _request(self, m: Member, t: float, model: str) -> None:
        rng = m.emitter.rng
        req = self.content.next(rng, m.settings)
        kw = dict(req.kwargs)
        reasoning = None
        if self.world.is_reasoning(model) and req.reasoning_median:
            reasoning = int(rng.lognormal(np.log(req.reasoning_median), 0.5))
        m.emitter.emit(self.world.abs_ms(t), model, req.prompt,
                       prompt_tokens(req.prompt) + req.extra_input, req.output,
                       reasoning_tokens=reasoning, **kw)

    def _warmup(self, m: Member) -> None:
        """Adaptive accounts first send a few hours of ordinary-looking chat."""
        w = self.world
        rng = m.emitter.rng
        hours = float(self.spec.get("warmup_hours", 6.0))
        begin = max(0.0, self.start_s - hours * 3600.0)
        times = paced_arrivals(rng, begin, self.start_s, w.sampler.uniform(rng, 4, 15), cv=1.2)
        model = pick(rng, list(w.scenario.models.available))
        for t in times.tolist():
            prompt = pick(rng, w.bank.sharegpt)
            pair = pick(rng, w.bank.azure_conv)
            m.emitter.emit(w.abs_ms(t), model, prompt,
                           max(int(pair[0]), prompt_tokens(prompt) + 100), int(pair[1]),
                           endpoint="/v1/chat/completions", temperature=0.7, stream=True)
