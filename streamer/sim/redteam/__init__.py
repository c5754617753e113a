"""A second, independently written attack and benign traffic generator (the red team).

It shares no templates, marker phrases, archetypes or parameter choices with
:mod:`streamer.sim`; its prompts come only from the held-out corpora
(``prompts/heldout_extraction`` and ``prompts/heldout_normal`` of the shared data folder, with
small built-in fallbacks). It emits native input-contract events and keeps the ground truth in
separate labels, in the format :mod:`streamer.evaluation.metrics` reads.

>>> s = generate("rt-evasion", seed=2, scale=0.1)
>>> ev = next(s.events())
>>> sorted(k for k in ("event_id", "ts", "customer_id", "model") if k in ev)
['customer_id', 'event_id', 'model', 'ts']
>>> "campaign" in str(ev)
False

Scenarios: :data:`SCENARIOS` (``rt-mix`` is the headline; the others are the sweeps behind the
curves). Public API: :func:`generate` (-> :class:`RedteamStream`).
"""

from __future__ import annotations

from streamer.sim.redteam.scenarios import SCENARIOS, RedteamStream, generate
from streamer.sim.redteam.tactics import TACTICS

__all__ = ["SCENARIOS", "TACTICS", "RedteamStream", "generate"]
