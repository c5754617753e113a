"""Scenarios: small declarative TOML files describing who sends traffic, for how long.

A scenario names its clock start and duration, the model catalogue (with releases), how many
ordinary customers of each archetype to create (with optional per-archetype overrides) and its
extraction campaigns, each with one main tactic and its parameters. See the files shipped in
``streamer/sim/scenarios/``. Keys::

    name, description, start (RFC 3339), duration_hours, volume_scale (ordinary volume factor)
    [models]     available = [...], reasoning = [...], releases = [{model, at_hours}]
    [customers]  <archetype> = <count>            (see ARCHETYPES)
    [archetype.<name>] volume = [lo, hi]         (requests/hour range, log-uniform)
    [[campaigns]] tactic, accounts, start_hours, duration_hours, rate_per_account_per_hour,
                  id (optional) and tactic parameters:
                  sub_tactic (hydra / adaptive_evasion / release_chasing: the content tactic),
                  cv (pacing), models = [...],
                  hydra: max_requests_per_account, timing = "load_balanced"|"synchronised",
                         period_s, concurrent, via_reseller (share), infra_groups
                  release_chasing: switch_within_hours (<= 24), ramp
                  adaptive_evasion: warmup_hours
                  logprob_harvest: logit_bias_share (default 1), probe_share (default 0.8)

>>> s = load_scenario("smoke")
>>> s.name, s.duration_ms <= 3_600_000, len(s.campaigns) >= 1
('smoke', True, True)
>>> "smoke" in list_scenarios()
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from streamer.errors import StreamerError
from streamer.sim.identity import parse_start

SCENARIO_DIR = Path(__file__).with_name("scenarios")

ARCHETYPES: tuple[str, ...] = (
    "chat_app", "support_bot", "coding_assistant", "rag_app", "batch_pipeline",
    "eval_harness", "llm_judge", "data_labelling", "reseller", "enterprise_multi_account",
    "release_day_spike",
)
LOOKALIKES: frozenset[str] = frozenset({
    "eval_harness", "llm_judge", "data_labelling", "reseller", "enterprise_multi_account",
    "release_day_spike",
})
TACTICS: tuple[str, ...] = (
    "broad_sweep", "cot_coercion", "rubric_grading", "narrow_code", "agentic_tools",
    "self_instruct", "logprob_harvest", "release_chasing", "hydra", "adaptive_evasion",
)
CONTENT_TACTICS = tuple(t for t in TACTICS if t not in ("hydra", "release_chasing",
                                                       "adaptive_evasion"))


class ScenarioError(StreamerError):
    """A scenario file is missing or invalid."""


@dataclass(frozen=True, slots=True)
class Models:
    available: tuple[str, ...]
    reasoning: frozenset[str]
    releases: tuple[tuple[str, int], ...]  # (model, release time in ms from start)


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """One extraction campaign; ``params`` keeps tactic-specific keys from the TOML table."""

    tactic: str
    accounts: int
    start_ms: int
    end_ms: int
    rate_per_account_per_hour: float
    campaign_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any) -> Any:
        return self.params.get(key, default)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    start_ms: int
    duration_ms: int
    models: Models
    customers: dict[str, int]
    overrides: dict[str, dict[str, Any]]
    campaigns: tuple[CampaignSpec, ...]
    volume_scale: float = 1.0

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def describe(name: str) -> str:
    """The one-line description of a scenario."""
    return load_scenario(name).description


def _hours(table: dict[str, Any], key: str, default: float) -> int:
    return round(float(table.get(key, default)) * 3_600_000)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a TOML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(list_scenarios())
        raise ScenarioError(f"no scenario {str(name_or_path)!r} (built-in: {known})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return _parse(raw, path.stem)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc


def _parse(raw: dict[str, Any], stem: str) -> Scenario:
    duration_ms = _hours(raw, "duration_hours", 1.0)
    if duration_ms <= 0:
        raise ValueError("duration_hours must be > 0")
    m = raw.get("models", {})
    models = Models(
        available=tuple(m.get("available", ["atlas-2-mini", "atlas-2", "atlas-2-reasoning"])),
        reasoning=frozenset(m.get("reasoning", ["atlas-2-reasoning"])),
        releases=tuple((str(r["model"]), _hours(r, "at_hours", 0.0))
                       for r in m.get("releases", [])),
    )
    customers = {str(k): int(v) for k, v in raw.get("customers", {}).items()}
    unknown = set(customers) - set(ARCHETYPES)
    if unknown:
        raise ValueError(f"unknown archetypes {sorted(unknown)}")
    campaigns = []
    for i, c in enumerate(raw.get("campaigns", [])):
        tactic = str(c["tactic"])
        if tactic not in TACTICS:
            raise ValueError(f"unknown tactic {tactic!r}")
        start = _hours(c, "start_hours", 0.0)
        end = start + _hours(c, "duration_hours", duration_ms / 3_600_000)
        known = {"tactic", "accounts", "start_hours", "duration_hours",
                 "rate_per_account_per_hour", "id"}
        campaigns.append(CampaignSpec(
            tactic=tactic,
            accounts=int(c.get("accounts", 3)),
            start_ms=max(0, start),
            end_ms=min(duration_ms, end),
            rate_per_account_per_hour=float(c.get("rate_per_account_per_hour", 120.0)),
            campaign_id=str(c.get("id", f"C{i + 1:02d}-{tactic}")),
            params={k: v for k, v in c.items() if k not in known},
        ))
    return Scenario(
        name=str(raw.get("name", stem)),
        description=str(raw.get("description", "")),
        start_ms=parse_start(str(raw.get("start", "2026-03-02T00:00:00Z"))),
        duration_ms=duration_ms,
        models=models,
        customers=customers,
        overrides={str(k): dict(v) for k, v in raw.get("archetype", {}).items()},
        campaigns=tuple(campaigns),
        volume_scale=float(raw.get("volume_scale", 1.0)),
    )


# ---- randomised scenarios (domain randomisation for calibration) -----------------------------

#: Ranges of the randomised scenario parameters: (lo, hi, log-spaced?). Counts are integers in
#: ``[lo, hi)``. Each part of the split (:mod:`streamer.sim.split`) draws in its own bands.
#: Inside the generators, split runs also randomise nuisance parameters that must not become
#: evidence: ordinary apps' answer lengths and sampling settings and their accounts' youth
#: (:data:`streamer.sim.archetypes.OUT_SCALE_RANGE` and its neighbours), batch jobs' answer
#: lengths, and campaigns' answer lengths
#: (:data:`streamer.sim.campaigns.CAMPAIGN_OUT_MEDIAN_SPLIT`).
RANDOM_RANGES: dict[str, tuple[float, float, bool]] = {
    "duration_hours": (2.0, 5.0, False),
    "start_hour": (0, 24, False),
    "volume_scale": (0.5, 1.6, True),
    "release_at": (0.2, 0.7, False),  # share of the run
    "campaigns": (2, 5, False),
    "accounts": (1, 7, False),
    "hydra_accounts": (20, 200, True),
    "hydra_max_requests": (5, 150, True),
    "hydra_via_reseller": (0.0, 0.6, False),
    "hydra_period_s": (15.0, 90.0, True),
    "hydra_concurrent": (5, 40, False),
    "campaign_start": (0.0, 0.5, False),  # share of the run
    "campaign_length": (0.3, 1.0, False),  # share of what remains
    "rate_per_account_per_hour": (10.0, 600.0, True),
    "cv": (0.05, 0.6, False),
    "switch_within_hours": (0.5, 12.0, True),
    "ramp": (1.3, 3.0, False),
    "warmup_hours": (0.5, 6.0, False),
    "logit_bias_share": (0.0, 1.0, False),
    "probe_share": (0.5, 1.0, False),
    "eval_runs_per_day": (8.0, 60.0, True),
}
#: Ordinary customers per archetype in a randomised scenario: integers in ``[lo, hi)``.
RANDOM_CUSTOMERS: dict[str, tuple[int, int]] = {
    "chat_app": (4, 16), "support_bot": (2, 8), "coding_assistant": (2, 8), "rag_app": (1, 5),
    "batch_pipeline": (1, 4), "eval_harness": (1, 5), "llm_judge": (1, 4),
    "data_labelling": (1, 4), "reseller": (0, 2), "enterprise_multi_account": (0, 9),
    "release_day_spike": (0, 5),
}


def random_scenario(seed: int, part: Literal["calibration", "heldout"]) -> Scenario:
    """A scenario whose mix and parameters are all drawn at random in ``part``'s bands.

    >>> a, b = random_scenario(3, "calibration"), random_scenario(3, "calibration")
    >>> a == b, a.name
    (True, 'random-calibration-3')
    >>> 2 <= len(a.campaigns) <= 4 and all(c.tactic in TACTICS for c in a.campaigns)
    True
    """
    from streamer.sim.identity import rng_for
    from streamer.sim.split import Sampler

    rng = rng_for(seed, "random-scenario", part)
    draws = Sampler(part)

    def x(name: str) -> float:
        lo, hi, log = RANDOM_RANGES[name]
        return draws.uniform(rng, lo, hi, log=log)

    def n(name: str) -> int:
        lo, hi, _ = RANDOM_RANGES[name]
        return draws.integers(rng, int(lo), int(hi))

    hours = x("duration_hours")
    duration_ms = round(hours * 3_600_000)
    release = rng.random() < 0.6
    releases = ((("atlas-3-reasoning", round(x("release_at") * duration_ms)),) if release
                else ())
    customers = {arch: draws.integers(rng, lo, hi) for arch, (lo, hi) in
                 RANDOM_CUSTOMERS.items()}
    if not release:
        customers["release_day_spike"] = 0
    campaigns = []
    tactics = [t for t in TACTICS if release or t != "release_chasing"]
    for i in range(n("campaigns")):
        tactic = str(tactics[int(rng.integers(0, len(tactics)))])
        start = x("campaign_start") * duration_ms
        end = start + x("campaign_length") * (duration_ms - start)
        params: dict[str, Any] = {"cv": x("cv")}
        accounts = n("accounts")
        if tactic in ("hydra", "adaptive_evasion", "release_chasing"):
            params["sub_tactic"] = str(CONTENT_TACTICS[int(rng.integers(0, len(CONTENT_TACTICS)))])
        if tactic == "hydra":
            accounts = round(x("hydra_accounts"))
            params.update(max_requests_per_account=round(x("hydra_max_requests")),
                          timing="synchronised" if rng.random() < 0.3 else "load_balanced",
                          via_reseller=x("hydra_via_reseller"), period_s=x("hydra_period_s"),
                          concurrent=n("hydra_concurrent"))
        elif tactic == "release_chasing":
            params.update(switch_within_hours=x("switch_within_hours"), ramp=x("ramp"))
        elif tactic == "adaptive_evasion":
            params["warmup_hours"] = x("warmup_hours")
        if "logprob_harvest" in (tactic, params.get("sub_tactic")):
            params.update(logit_bias_share=x("logit_bias_share"), probe_share=x("probe_share"))
        campaigns.append(CampaignSpec(
            tactic=tactic, accounts=accounts, start_ms=round(start), end_ms=round(end),
            rate_per_account_per_hour=x("rate_per_account_per_hour"),
            campaign_id=f"R{i + 1:02d}-{tactic}", params=params))
    start_hour = n("start_hour")
    runs = x("eval_runs_per_day")  # short runs still see benchmarks re-run
    return Scenario(
        name=f"random-{part}-{seed}",
        description=f"randomised {part} scenario (seed {seed})",
        start_ms=parse_start("2026-03-02T00:00:00Z") + start_hour * 3_600_000,
        duration_ms=duration_ms,
        models=Models(("atlas-2-mini", "atlas-2", "atlas-2-reasoning"),
                      frozenset({"atlas-2-reasoning", "atlas-3-reasoning"}), releases),
        customers=customers, overrides={"eval_harness": {"volume": [runs, runs]}},
        campaigns=tuple(campaigns),
        volume_scale=x("volume_scale"),
    )
