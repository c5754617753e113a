"""Shared state of one simulation run: scenario, seed, data, id allocation, model choice.

>>> from streamer.sim.scenario import load_scenario
>>> from streamer.sim.data import DataBank
>>> w = World(load_scenario("smoke"), 7, DataBank(None))
>>> cid = w.new_customer_id("chat_app", 0)
>>> cid.startswith("cus_") and len(cid) == 14
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamer.sim.data import DataBank
from streamer.sim.identity import Identity, customer_id, rng_for
from streamer.sim.records import Record
from streamer.sim.scenario import Scenario
from streamer.sim.split import Sampler


@dataclass(slots=True)
class Actor:
    """One simulated account: its label and its records."""

    customer_id: str
    label: dict[str, Any]
    records: list[Record]


@dataclass(slots=True)
class World:
    scenario: Scenario
    seed: int
    bank: DataBank
    resellers: list[Identity] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)
    #: How randomised generator parameters are drawn (a part's bands, or plain draws).
    sampler: Sampler = field(default_factory=Sampler)

    def rng(self, *parts: object) -> np.random.Generator:
        return rng_for(self.seed, self.scenario.name, *parts)

    def new_customer_id(self, *parts: object) -> str:
        salt = 0
        while True:
            cid = customer_id(self.seed, self.scenario.name, *parts, salt)
            if cid not in self._ids:
                self._ids.add(cid)
                return cid
            salt += 1

    @property
    def duration_s(self) -> float:
        return self.scenario.duration_ms / 1000.0

    def abs_ms(self, t_s: float) -> int:
        return self.scenario.start_ms + int(t_s * 1000.0)

    def released(self) -> list[tuple[str, float]]:
        """(model, release time in s from start) of models released during the run."""
        return [(m, at / 1000.0) for m, at in self.scenario.models.releases]

    def newest_model_at(self, t_s: float) -> str | None:
        live = [(at, m) for m, at in self.released() if at <= t_s]
        return max(live)[1] if live else None

    def is_reasoning(self, model: str) -> bool:
        return model in self.scenario.models.reasoning


class ModelChooser:
    """A customer's model habits: a primary, a secondary, and (slow) adoption of new releases."""

    def __init__(self, world: World, rng: np.random.Generator, reasoning_bias: float = 0.2,
                 adopt: float = 0.3, adopt_days: float = 3.0) -> None:
        avail = list(world.scenario.models.available)
        weights = np.array([reasoning_bias if world.is_reasoning(m) else 1.0 for m in avail])
        order = rng.choice(len(avail), size=len(avail), replace=False, p=weights / weights.sum())
        self.primary = avail[int(order[0])]
        self.secondary = avail[int(order[1 % len(avail)])]
        self.secondary_share = float(rng.uniform(0.0, 0.25))
        self.world = world
        self.adopt = adopt if rng.random() < 0.5 else 0.0
        self.adopt_s = adopt_days * 86400.0

    def choose(self, rng: np.random.Generator, t_s: float) -> str:
        for model, at in self.world.released():
            if at <= t_s and self.adopt > 0:
                share = self.adopt * min(1.0, (t_s - at) / self.adopt_s)
                if rng.random() < share:
                    return model
        return self.secondary if rng.random() < self.secondary_share else self.primary
