"""Putting a scenario together: build every account, merge and sort their events, label them.

>>> sim = simulate("smoke", seed=1)
>>> first = next(sim.events())
>>> first["ts"] >= "2026-03-02T00:00:00.000Z", sim.labels["scenario"]
(True, 'smoke')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from streamer.sim.archetypes import OrdinaryBuilder
from streamer.sim.campaigns import CampaignBuilder
from streamer.sim.data import get_bank
from streamer.sim.records import Record, to_event
from streamer.sim.scenario import ARCHETYPES, Scenario, load_scenario
from streamer.sim.world import Actor, World


@dataclass(frozen=True, slots=True)
class Simulation:
    """A generated, labelled event stream. ``events()`` can be iterated any number of times."""

    scenario: Scenario
    seed: int
    labels: dict[str, Any]
    records: tuple[Record, ...]
    data_source: str

    def events(self) -> Iterator[dict[str, Any]]:
        """Event dicts of the input contract, sorted by ``ts`` then ``event_id``."""
        return (to_event(r) for r in self.records)

    def __len__(self) -> int:
        return len(self.records)


def simulate(scenario: str | Scenario, seed: int = 0, part: str | None = None) -> Simulation:
    """Generate ``scenario`` (a name, a path, or a loaded :class:`Scenario`) with ``seed``."""
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    bank = get_bank()
    world = World(scn, seed, bank)
    actors: list[Actor] = []
    ordinary = OrdinaryBuilder(world)
    # Resellers first: hydra campaigns may route through their infrastructure.
    order = sorted(ARCHETYPES, key=lambda a: a != "reseller")
    for arch in order:
        for i in range(scn.customers.get(arch, 0)):
            actors.extend(ordinary.build(arch, i))
    campaigns: dict[str, dict[str, Any]] = {}
    for i, spec in enumerate(scn.campaigns):
        members, info = CampaignBuilder(world, spec, i).build()
        kept = [a for a in members if a.records]
        if not kept:
            continue
        info["accounts"] = [a.customer_id for a in kept]
        campaigns[spec.campaign_id] = info
        actors.extend(kept)
    actors = [a for a in actors if a.records]
    records: list[Record] = []
    for a in actors:
        records.extend(r for r in a.records if scn.start_ms <= r[0] < scn.end_ms)
    records.sort(key=lambda r: (r[0], r[1]))
    present = {r[2] for r in records}
    labels = {
        "scenario": scn.name,
        "seed": seed,
        "start_ms": scn.start_ms,
        "end_ms": scn.end_ms,
        "customers": {a.customer_id: a.label for a in actors if a.customer_id in present},
        "campaigns": campaigns,
    }
    for info in campaigns.values():
        info["accounts"] = [c for c in info["accounts"] if c in present]
    return Simulation(scn, seed, labels, tuple(records), bank.source)
