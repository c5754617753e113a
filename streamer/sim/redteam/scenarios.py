"""Red-team scenarios: the randomised headline mix and the sweeps behind each curve.

Every scenario is a function of ``(seed, scale)``; ``scale`` (0 < scale <= 1) shrinks the
population and the number of campaigns for quick runs and tests, never a curve's x values.

>>> s = generate("rt-mix", seed=1, scale=0.1)
>>> s.labels["generator"], len(s) > 0, len(s.labels["campaigns"]) >= 3
('redteam', True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamer.sim.identity import parse_start
from streamer.sim.redteam.actors import HOUR_MS, choice, log_uniform, rng
from streamer.sim.redteam.benign import Built, Context, population
from streamer.sim.redteam.campaigns import Plan, build_campaign
from streamer.sim.redteam.corpora import get_corpora
from streamer.sim.redteam.tactics import TACTICS, Catalogue

START = "2026-04-06T00:00:00Z"
#: x values of the curves (the issue's ranges).
INTENSITY_RATES: tuple[float, ...] = (15.0, 60.0, 240.0, 960.0)
MIXING_SHARES: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50)
HYDRA_SIZES: tuple[int, ...] = (20, 100, 500, 2000)
HYDRA_VOLUMES: tuple[int, ...] = (5, 15, 50, 150)
HYDRA_SIZE_VOLUME = 15
HYDRA_VOLUME_SIZE = 60
EVASION_TACTICS: tuple[str, ...] = ("reasoning_trace", "code_distill", "logprob_scrape",
                                    "judge_harvest", "zh_instruct", "broad_sweep")
CONTENT_TACTICS: tuple[str, ...] = tuple(t for t in TACTICS if t != "release_rush")


@dataclass(frozen=True, slots=True)
class RedteamStream:
    """A generated, labelled red-team stream; ``events()`` yields the same dicts each call
    (do not mutate them), sorted by ``ts`` then ``event_id``."""

    name: str
    seed: int
    labels: dict[str, Any]
    records: tuple[dict[str, Any], ...]
    data_source: str

    def events(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


def _assemble(name: str, seed: int, ctx: Context, ordinary: list[Built],
              plans: list[Plan]) -> RedteamStream:
    customers: dict[str, dict[str, Any]] = {}
    campaigns: dict[str, dict[str, Any]] = {}
    keyed: list[tuple[str, str, dict[str, Any]]] = []
    for b in ordinary:
        if b.events:
            customers[b.customer_id] = b.label
            keyed.extend((e["ts"], e["event_id"], e) for e in b.events)
    for plan in plans:
        info, members = build_campaign(ctx, plan)
        members = [m for m in members if m.events]
        if not members:
            continue
        info["accounts"] = [m.customer_id for m in members]
        campaigns[plan.campaign_id] = info
        for m in members:
            customers[m.customer_id] = m.label
            keyed.extend((e["ts"], e["event_id"], e) for e in m.events)
    keyed.sort(key=lambda k: (k[0], k[1]))  # RFC 3339 UTC strings of one format sort by time
    labels = {"scenario": name, "seed": seed, "generator": "redteam", "part": "heldout",
              "start_ms": ctx.start_ms, "end_ms": ctx.end_ms, "customers": customers,
              "campaigns": campaigns, "data_source": ctx.corpora.source}
    return RedteamStream(name, seed, labels, tuple(k[2] for k in keyed), ctx.corpora.source)


def _context(seed: int, name: str, hours: float, release_at_h: float = 0.0) -> Context:
    start = parse_start(START)
    release = start + int(release_at_h * HOUR_MS) if release_at_h else 0
    return Context(seed, start, start + int(hours * HOUR_MS), get_corpora(),
                   Catalogue.default(release), salt=f"rt/{name}")


def _n(x: float, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(x * scale))


def _window(r: np.random.Generator, ctx: Context, hours: float) -> tuple[int, int]:
    span = ctx.end_ms - ctx.start_ms
    length = min(span, int(hours * HOUR_MS))
    start = ctx.start_ms + int(r.integers(0, max(1, span - length)))
    return start, start + length


def mix(seed: int = 0, scale: float = 1.0) -> RedteamStream:
    """The headline: 6 h, a randomised population with look-alikes, a model release at 2 h,
    single-account campaigns of random tactics, rates, evasion and tactic mixes, two hydras
    and a reseller hiding a campaign."""
    ctx = _context(seed, "rt-mix", 6.0, release_at_h=2.0)
    r = rng(seed, "rt-mix", "plans")
    plans: list[Plan] = []
    for i in range(_n(12, scale, 2)):
        tactic = choice(r, TACTICS)
        lo, hi = _window(r, ctx, r.uniform(1.0, 4.0))
        if tactic == "release_rush":
            lo = max(lo, ctx.catalogue.release_ms)
        plans.append(Plan(f"RT{i + 1:02d}", tactic, lo, hi, rate=log_uniform(r, 20, 1500),
                          evasion=int(choice(r, (0, 1, 2, 3), (0.4, 0.3, 0.2, 0.1)))))
    for j in range(2):
        lo, hi = _window(r, ctx, r.uniform(2.0, 5.0))
        size = int(log_uniform(r, 20, 400) * max(scale, 0.25))
        plans.append(Plan(f"RH{j + 1}", choice(r, CONTENT_TACTICS), lo, hi,
                          accounts=max(20, size), per_account=int(log_uniform(r, 5, 150)),
                          evasion=int(choice(r, (0, 1, 2)))))
    plans.append(Plan("RM1", choice(r, CONTENT_TACTICS), ctx.start_ms, ctx.end_ms,
                      share=float(choice(r, MIXING_SHARES))))
    return _assemble("rt-mix", seed, ctx, population(ctx, _n(110, scale, 12)), plans)


def intensity(seed: int = 0, scale: float = 1.0) -> RedteamStream:
    """Every tactic at each rate of :data:`INTENSITY_RATES` (single accounts, no evasion)."""
    ctx = _context(seed, "rt-intensity", 4.0, release_at_h=0.5)
    r = rng(seed, "rt-intensity", "plans")
    plans = []
    for tactic in TACTICS:
        for rate in INTENSITY_RATES:
            for rep in range(_n(2, scale)):
                lo, hi = _window(r, ctx, 1.0)
                if tactic == "release_rush":
                    lo = max(lo, ctx.catalogue.release_ms)
                plans.append(Plan(f"RI-{tactic}-{int(rate)}-{rep}", tactic, lo, hi, rate=rate,
                                  mixed=False, params={"rate": rate}))
    return _assemble("rt-intensity", seed, ctx, population(ctx, _n(50, scale, 10)), plans)


def mixing(seed: int = 0, scale: float = 1.0) -> RedteamStream:
    """Resellers whose ordinary traffic hides :data:`MIXING_SHARES` extraction."""
    ctx = _context(seed, "rt-mixing", 4.0)
    r = rng(seed, "rt-mixing", "plans")
    plans = []
    # Replicate k hides the same tactic at every share, so that shares are comparable.
    tactics = [choice(r, CONTENT_TACTICS) for _ in range(_n(3, scale))]
    for share in MIXING_SHARES:
        for rep, tactic in enumerate(tactics):
            plans.append(Plan(f"RX-{int(share * 100)}-{rep}", tactic,
                              ctx.start_ms, ctx.end_ms, rate=log_uniform(r, 250, 600),
                              share=share, mixed=False, params={"share_pct": share * 100}))
    return _assemble("rt-mixing", seed, ctx, population(ctx, _n(50, scale, 10)), plans)


def hydra(seed: int = 0, scale: float = 1.0) -> RedteamStream:
    """Hydras of :data:`HYDRA_SIZES` accounts (15 requests each) and of 60 accounts with
    :data:`HYDRA_VOLUMES` requests each."""
    ctx = _context(seed, "rt-hydra", 4.0)
    r = rng(seed, "rt-hydra", "plans")
    plans = []
    # One content tactic per run for every point, so that the curves isolate size and volume.
    content = choice(r, CONTENT_TACTICS)
    for size in HYDRA_SIZES:
        n = max(20, int(size * scale)) if scale < 1 else size
        lo, hi = _window(r, ctx, 3.0)
        plans.append(Plan(f"RHS-{size}", content, lo, hi, accounts=n,
                          per_account=HYDRA_SIZE_VOLUME, mixed=False,
                          params={"sweep": "size", "x": size}))
    for volume in HYDRA_VOLUMES:
        lo, hi = _window(r, ctx, 3.0)
        plans.append(Plan(f"RHV-{volume}", content, lo, hi,
                          accounts=max(20, int(HYDRA_VOLUME_SIZE * min(1.0, scale * 2))),
                          per_account=volume, mixed=False,
                          params={"sweep": "volume", "x": volume}))
    return _assemble("rt-hydra", seed, ctx, population(ctx, _n(50, scale, 10)), plans)


def evasion(seed: int = 0, scale: float = 1.0) -> RedteamStream:
    """The same tactics at each evasion level (0-3), plus a hydra per level."""
    ctx = _context(seed, "rt-evasion", 4.0)
    r = rng(seed, "rt-evasion", "plans")
    plans = []
    hydra_content = choice(r, CONTENT_TACTICS)  # the same at every level
    for level in (0, 1, 2, 3):
        for tactic in EVASION_TACTICS:
            for rep in range(_n(2, scale)):
                lo, hi = _window(r, ctx, 2.0)
                plans.append(Plan(f"RE-{tactic}-{level}-{rep}", tactic, lo, hi,
                                  rate=log_uniform(r, 60, 240), evasion=level, mixed=False,
                                  params={"level": level}))
        lo, hi = _window(r, ctx, 3.0)
        plans.append(Plan(f"RE-hydra-{level}", hydra_content, lo, hi,
                          accounts=_n(80, scale, 20), per_account=25, evasion=level, mixed=False,
                          params={"level": level}))
    return _assemble("rt-evasion", seed, ctx, population(ctx, _n(50, scale, 10)), plans)


SCENARIOS: dict[str, Callable[[int, float], RedteamStream]] = {
    "rt-mix": mix, "rt-intensity": intensity, "rt-mixing": mixing, "rt-hydra": hydra,
    "rt-evasion": evasion,
}


def generate(name: str, seed: int = 0, scale: float = 1.0) -> RedteamStream:
    """Generate red-team scenario ``name`` (one of :data:`SCENARIOS`)."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown red-team scenario {name!r} (known: {', '.join(SCENARIOS)})")
    if not 0 < scale <= 1 or math.isnan(scale):
        raise ValueError("scale must be in (0, 1]")
    return SCENARIOS[name](seed, scale)
