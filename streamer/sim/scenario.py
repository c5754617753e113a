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
from typing import Any

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
