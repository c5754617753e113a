"""Red-team extraction campaigns: single accounts, hydras and a reseller's hidden share.

A :class:`Plan` fixes what a curve varies (tactic, rate, hydra size, per-account volume,
mixing share, evasion level); everything else is drawn per campaign. Evasion levels:

* 0 — none;
* 1 — paraphrased wrappers (openers, closers and a wrapper drawn per request);
* 2 — 1 + human-like jittered pacing from residential or mobile networks, shared
  infrastructure dropped (hydras: own payment, client stack, no shared system prompt);
* 3 — 2 + aged accounts on trusted channels, and a third of the queries ordinary traffic.

>>> from streamer.sim.redteam.benign import Context
>>> from streamer.sim.redteam.corpora import Corpora
>>> from streamer.sim.redteam.tactics import Catalogue
>>> t0 = 1_772_409_600_000
>>> ctx = Context(0, t0, t0 + 7_200_000, Corpora(None), Catalogue.default())
>>> out = build_campaign(ctx, Plan("C1", "logprob_scrape", t0, t0 + 3_600_000, rate=200.0))
>>> info, accounts = out
>>> info["tactic"], len(accounts), accounts[0].label["role"]
('logprob_scrape', 1, 'campaign')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamer.core.events import parse_ts
from streamer.sim.redteam.actors import (
    HOUR_MS,
    NETWORKS,
    STACKS,
    EventSink,
    Request,
    arrivals,
    choice,
    digest,
    log_uniform,
    make_account,
    rng,
)
from streamer.sim.redteam.benign import (
    Built,
    Context,
    make_reseller,
    reseller_draw,
    reseller_request,
)
from streamer.sim.redteam.tactics import Style, draw_style, make_request

EVASION_LEVELS = (0, 1, 2, 3)


@dataclass(slots=True)
class Plan:
    """One campaign. ``accounts > 1`` makes a hydra; ``share`` (0..1) hides it in a reseller."""

    campaign_id: str
    tactic: str
    start_ms: int
    end_ms: int
    rate: float | None = None  # requests/hour per account (single) or of the whole hydra
    accounts: int = 1
    per_account: int | None = None
    share: float | None = None
    evasion: int = 0
    mixed: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _ordinary_request(ctx: Context, r: np.random.Generator, t: int) -> Request:
    c = ctx.corpora
    items = choice(r, (c.search, c.arena, c.assistant, c.zh_chat))
    return Request(prompt=choice(r, items).text, model=choice(r, ctx.catalogue.chat),
                   expected_out=log_uniform(r, 30, 600))


def _account_for(ctx: Context, r: np.random.Generator, plan: Plan, salt: str,
                 **overrides: Any) -> Any:
    ev = plan.evasion
    if ev >= 3:
        age = log_uniform(r, 90, 1200)
        channel = choice(r, ("self_serve", "sales", "marketplace", "referral"))
    else:
        age = log_uniform(r, 0.05, 40.0)
        channel = choice(r, ("free_trial", "self_serve", "startup_credits", "education",
                             "marketplace"), (0.35, 0.35, 0.1, 0.1, 0.1))
    network = (choice(r, ("residential", "mobile")) if ev >= 2
               else choice(r, ("cloud", "cloud", "proxy", "residential")))
    kwargs: dict[str, Any] = {"age_days": age, "channel": channel, "network": network,
                              "keys": int(r.integers(1, 3)), "clients": int(r.integers(1, 3))}
    kwargs.update(overrides)
    return make_account(r, plan.start_ms, salt, **kwargs)


def _pacing(r: np.random.Generator, evasion: int) -> str:
    if evasion >= 2:
        return "human"
    return choice(r, ("machine", "machine", "poisson", "bursty"))


def _emit_campaign(ctx: Context, r: np.random.Generator, sink: EventSink, style: Style,
                   times: list[int], evasion: int) -> None:
    for t in times:
        if evasion >= 3 and r.random() < 0.33:
            sink.emit(t, _ordinary_request(ctx, r, t))
        else:
            sink.emit(t, make_request(r, ctx.corpora, style))


def _campaign_label(plan: Plan, tactic: str, events: list[dict[str, Any]], start: int
                    ) -> dict[str, Any]:
    return {"role": "campaign", "archetype": "campaign", "lookalike": False,
            "campaign_id": plan.campaign_id, "tactic": tactic,
            "active_from_ms": start,
            "active_to_ms": max((_ms(e) for e in events), default=start)}


def _ms(event: dict[str, Any]) -> int:
    return parse_ts(event["ts"])


def build_campaign(ctx: Context, plan: Plan) -> tuple[dict[str, Any], list[Built]]:
    """The campaign's label entry and its accounts."""
    r = rng(ctx.seed, ctx.salt, "campaign", plan.campaign_id)
    style = draw_style(r, plan.tactic, ctx.catalogue, mixed=plan.mixed,
                       paraphrase=plan.evasion >= 1)
    if plan.share is not None:
        return _reseller_mix(ctx, r, plan, style)
    if plan.accounts > 1:
        return _hydra(ctx, r, plan, style)
    rate = plan.rate or log_uniform(r, 20, 1500)
    acct = _account_for(ctx, r, plan, f"{ctx.salt}/{plan.campaign_id}")
    sink = EventSink(acct, r, f"{ctx.salt}/{plan.campaign_id}",
                     error_rate=float(r.uniform(0.0, 0.06)))
    pacing = _pacing(r, plan.evasion)
    times = arrivals(r, plan.start_ms, plan.end_ms, rate, pacing, limit=plan.per_account)
    _emit_campaign(ctx, r, sink, style, times, plan.evasion)
    info = _info(plan, plan.tactic, [acct.customer_id], hydra=False,
                 extra={"rate_per_hour": round(rate, 1), "pacing": pacing,
                        "age_days": _age(acct.account, plan.start_ms),
                        "signup_channel": acct.account["signup_channel"],
                        "network": acct.clients[0].asn, "lang": style.lang,
                        "mix": {k: round(v, 2) for k, v in style.mix.items()},
                        "models": list(style.models)})
    label = _campaign_label(plan, plan.tactic, sink.events, plan.start_ms)
    return info, [Built(acct.customer_id, label, sink.events)]


def _age(account: dict[str, Any], now_ms: int) -> float:
    return round((now_ms - parse_ts(account["created_at"])) / (24 * HOUR_MS), 2)


def _info(plan: Plan, tactic: str, accounts: list[str], *, hydra: bool,
          extra: dict[str, Any]) -> dict[str, Any]:
    return {"tactic": tactic, "start_ms": plan.start_ms, "end_ms": plan.end_ms,
            "accounts": accounts, "hydra": hydra, "evasion": plan.evasion,
            "params": {**extra, **plan.params}}


def _hydra(ctx: Context, r: np.random.Generator, plan: Plan, style: Style
           ) -> tuple[dict[str, Any], list[Built]]:
    """Many small accounts sharing subsets of infrastructure, each with a short active life."""
    n = plan.accounts
    ev = plan.evasion
    per = plan.per_account or int(r.integers(5, 150))
    share_infra = ev < 2
    payments = ["pm_" + digest(plan.campaign_id, "pay", i, n=14)
                for i in range(max(1, n // int(r.integers(4, 25))))]
    stacks = [choice(r, STACKS) for _ in range(int(r.integers(1, 4)))]
    asns = [choice(r, NETWORKS["cloud"] + NETWORKS["proxy"]) for _ in range(int(r.integers(1, 5)))]
    sps = ["sp_" + digest(plan.campaign_id, "sp", i, n=14) for i in range(int(r.integers(1, 3)))]
    span = plan.end_ms - plan.start_ms
    members: list[Built] = []
    acct_rate = plan.rate or log_uniform(r, 20, 400)
    for i in range(n):
        overrides: dict[str, Any] = {}
        if share_infra:
            overrides = {"payment": choice(r, payments), "stack": choice(r, stacks)}
        acct = _account_for(ctx, r, plan, f"{ctx.salt}/{plan.campaign_id}/{i}", **overrides)
        if share_infra:
            for cl in acct.clients:
                cl.asn = choice(r, asns)
            if r.random() < 0.7:
                acct.system_prompts = [choice(r, sps)]
        volume = max(1, int(r.poisson(per)))
        life = min(span, int(volume / acct_rate * HOUR_MS * r.uniform(0.8, 1.6)) + 60_000)
        start = plan.start_ms + int(r.integers(0, max(1, span - life)))
        sink = EventSink(acct, r, f"{ctx.salt}/{plan.campaign_id}/{i}",
                         error_rate=float(r.uniform(0.0, 0.05)))
        times = arrivals(r, start, start + life, max(acct_rate, volume * HOUR_MS / life * 1.2),
                         _pacing(r, ev), limit=volume)
        if not times:
            continue
        _emit_campaign(ctx, r, sink, style, times, ev)
        members.append(Built(acct.customer_id,
                             _campaign_label(plan, "hydra", sink.events, times[0]), sink.events))
    info = _info(plan, "hydra", [m.customer_id for m in members], hydra=True,
                 extra={"size": n, "per_account": per, "content_tactic": plan.tactic,
                        "shared_infrastructure": share_infra,
                        "account_rate_per_hour": round(acct_rate, 1), "lang": style.lang})
    return info, members


def _reseller_mix(ctx: Context, r: np.random.Generator, plan: Plan, style: Style
                  ) -> tuple[dict[str, Any], list[Built]]:
    """A reseller whose ordinary traffic carries ``share`` extraction queries from one end user
    (own API key and client)."""
    acct = make_reseller(ctx, r, plan.campaign_id)
    share = float(plan.share or 0.0)
    rate = plan.rate or log_uniform(r, 200, 900)
    sink = EventSink(acct, r, f"{ctx.salt}/{plan.campaign_id}", error_rate=0.01)
    draw = reseller_draw(ctx.corpora)
    times = arrivals(r, plan.start_ms, plan.end_ms, rate, "poisson")
    bad_key = int(r.integers(0, len(acct.api_keys)))
    extraction = 0
    for t in times:
        if r.random() < share:
            sink.emit(t, make_request(r, ctx.corpora, style), key=bad_key, client=0)
            extraction += 1
        else:
            sink.emit(t, reseller_request(ctx, r, draw, t))
    info = _info(plan, "reseller_mix", [acct.customer_id], hydra=False,
                 extra={"share": share, "content_tactic": plan.tactic,
                        "rate_per_hour": round(rate, 1), "extraction_queries": extraction})
    label = _campaign_label(plan, "reseller_mix", sink.events, plan.start_ms)
    return info, [Built(acct.customer_id, label, sink.events)]


def hydra_rate(size: int) -> float:
    """A plausible per-account rate for a hydra of ``size`` accounts (smaller when larger)."""
    return max(10.0, 300.0 / math.sqrt(max(1, size) / 20))
