"""Calibration data: evidence ramps at every scoring point, labelled by the simulator.

One row per (customer, scoring point): the customer's evidence ramps
(:func:`streamer.core.scoring.ramps`) right after the core scored an event. A campaign account's
rows are positive while the account is harvesting (its label's active period; an evasive
account's warm-up is left out), an ordinary customer's rows negative.

>>> data = collect([CollectSpec(random_scenario(1, "calibration"), 1)], progress=False)
>>> data.x.shape[1] == len(FEATURES), set(data.y.tolist()) <= {0.0, 1.0}
(True, True)
>>> bool(data.y.max() == 1.0), len(data.customers) == int(data.group.max()) + 1
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from streamer.core.engine import Engine
from streamer.core.events import event_from_dict
from streamer.core.scoring import RAMPS, ramps
from streamer.errors import InvalidEvent
from streamer.sim.scenario import Scenario, load_scenario, random_scenario
from streamer.sim.simulator import simulate

FEATURES: tuple[str, ...] = tuple(r.name for r in RAMPS)
_COLUMN = {name: i for i, name in enumerate(FEATURES)}
Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CollectSpec:
    """One simulated run: a scenario (always generated on the calibration side) and a seed."""

    scenario: Scenario
    seed: int


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    scenario: str
    customer_id: str
    role: str  # "campaign" | "ordinary"
    archetype: str
    lookalike: bool
    campaign: str | None  # scenario-qualified campaign id


@dataclass(slots=True)
class Dataset:
    """Rows of evidence ramps with labels; ``group`` indexes ``customers``; ``run`` the runs."""

    x: Array
    y: Array
    group: npt.NDArray[np.int64]
    run: npt.NDArray[np.int64]
    customers: list[CustomerInfo] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events(self) -> int:
        return int(sum(r["events"] for r in self.runs))


def default_specs(seed: int, scenarios: int, shipped: Sequence[str] = ("lookalikes",)
                  ) -> list[CollectSpec]:
    """``scenarios`` randomised calibration scenarios, plus the shipped ``shipped`` ones (their
    calibration side, with seeds other than the evaluation's seed 0)."""
    specs = [CollectSpec(random_scenario(seed * 10_000 + k, "calibration"), seed * 10_000 + k)
             for k in range(scenarios)]
    specs += [CollectSpec(load_scenario(name), seed * 10_000 + 1) for name in shipped]
    return specs


def collect(specs: Sequence[CollectSpec], progress: bool | Callable[[str, int, int], None] = True
            ) -> Dataset:
    """Simulate (calibration side) and replay every spec; see the module docstring.

    ``progress`` is ``True`` for a rich progress bar, ``False`` for none, or a callback
    ``(description, events done, events total)``.
    """
    xs: list[list[float]] = []
    ys: list[float] = []
    groups: list[int] = []
    runs_of: list[int] = []
    customers: list[CustomerInfo] = []
    runs: list[dict[str, Any]] = []
    report = _reporter(progress)
    try:
        for k, spec in enumerate(specs):
            sim = simulate(spec.scenario, spec.seed, part="calibration")
            labels: dict[str, dict[str, Any]] = sim.labels["customers"]
            index: dict[str, int] = {}
            for cid, lab in labels.items():
                index[cid] = len(customers)
                camp = lab.get("campaign_id")
                customers.append(CustomerInfo(
                    sim.scenario.name, cid, str(lab["role"]), str(lab["archetype"]),
                    bool(lab["lookalike"]), f"{sim.scenario.name}/{camp}" if camp else None))
            eng = Engine()
            last: dict[str, dict[str, float]] = {}
            total = len(sim)
            name = f"[{k + 1}/{len(specs)}] {sim.scenario.name}"
            for i, raw in enumerate(sim.events()):
                if i % 1000 == 0:
                    report(name, i, total)
                try:
                    event = event_from_dict(raw)
                except InvalidEvent:
                    continue
                eng.process(event)
                cid = event.customer_id
                signals = eng.customers[cid].signals
                if not signals or signals is last.get(cid):
                    continue
                last[cid] = signals
                lab = labels[cid]
                if lab["role"] == "campaign":
                    if not lab["active_from_ms"] <= event.ts_ms <= lab["active_to_ms"]:
                        continue
                    ys.append(1.0)
                else:
                    ys.append(0.0)
                row = [0.0] * len(FEATURES)
                for feature, r in ramps(signals).items():
                    row[_COLUMN[feature]] = r
                xs.append(row)
                groups.append(index[cid])
                runs_of.append(k)
            report(name, total, total)
            runs.append({"scenario": sim.scenario.name, "seed": spec.seed, "events": total,
                         "customers": len(labels), "campaigns": len(sim.labels["campaigns"])})
    finally:
        report("", -1, -1)
    return Dataset(np.asarray(xs, dtype=np.float64).reshape(-1, len(FEATURES)),
                   np.asarray(ys, dtype=np.float64), np.asarray(groups, dtype=np.int64),
                   np.asarray(runs_of, dtype=np.int64), customers, runs)


def _reporter(progress: bool | Callable[[str, int, int], None]) -> Callable[[str, int, int], None]:
    if callable(progress):
        return progress
    if not progress:
        return lambda *_: None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn())
    tasks: dict[str, Any] = {}

    def report(name: str, done: int, total: int) -> None:
        if done < 0:
            bar.stop()
            return
        if not tasks:
            bar.start()
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done)

    return report
