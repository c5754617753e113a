"""Seeded, labelled traffic simulator for streamer (``streamer simulate``).

Builds realistic inference-event streams from real public data (ServeGen tenant arrival traces,
Azure 2023 token lengths, ShareGPT / BANKING77 / Taskmaster prompts for ordinary customers;
GSM8K, FLAN CoT, CodeAlpaca, HumanEval, Alpaca and Self-Instruct prompts wrapped in tactic
templates for extraction campaigns), mixes ordinary customers, hard look-alikes and
distillation campaigns, and returns the events with their ground truth.

>>> sim = simulate("smoke", seed=3)
>>> sorted(sim.labels) == ["campaigns", "customers", "end_ms", "scenario", "seed", "start_ms"]
True

Public API: :func:`list_scenarios`, :func:`load_scenario`, :func:`simulate`
(-> :class:`Simulation`), :func:`write_jsonl`, :func:`produce_to_kafka`.
"""

from __future__ import annotations

from streamer.sim.scenario import Scenario, ScenarioError, list_scenarios, load_scenario
from streamer.sim.simulator import Simulation, simulate
from streamer.sim.writers import produce_to_kafka, write_jsonl

__all__ = [
    "Scenario",
    "ScenarioError",
    "Simulation",
    "list_scenarios",
    "load_scenario",
    "produce_to_kafka",
    "simulate",
    "write_jsonl",
]
