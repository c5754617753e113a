"""The whole detector in one process, for offline replay at full speed.

:class:`Engine` wires the customer stage, the population view and the cluster stage together
exactly as the Kafka shell does through topics, but synchronously: a cluster signal is handled
the moment it is produced, and its verdicts go straight back to the customers.

>>> from streamer.core.events import event_from_dict
>>> eng = Engine()
>>> outs = []
>>> for i in range(40):
...     outs += eng.process(event_from_dict({"event_id": f"e{i}", "ts": 1767225600000 + i * 1000,
...         "customer_id": "c1", "model": "m", "input_tokens": 10, "output_tokens": 20}))
>>> outs += eng.finish()
>>> [o["kind"] for o in outs]
['features']
>>> outs[0]["events_total"]
40
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streamer.core import customer
from streamer.core.clusters import ClusterIndex
from streamer.core.customer import CustomerState
from streamer.core.events import InferenceEvent
from streamer.core.outputs import Alert, ClusterSignal, FeatureRecord, Feedback
from streamer.core.population import Population

TICK_EVERY_MS = 60_000


@dataclass(slots=True)
class Engine:
    """Customer stage + population + cluster stage, wired in-process."""

    customers: dict[str, CustomerState] = field(default_factory=dict)
    population: Population = field(default_factory=Population)
    clusters: ClusterIndex = field(default_factory=ClusterIndex)
    watermark_ms: int = 0
    last_tick_ms: int = 0

    def state_of(self, customer_id: str) -> CustomerState:
        state = self.customers.get(customer_id)
        if state is None:
            state = self.customers[customer_id] = CustomerState(customer_id)
        return state

    def process(self, event: InferenceEvent) -> list[dict[str, Any]]:
        """One event in; alert and feature dicts out (``kind`` says which)."""
        state = self.state_of(event.customer_id)
        self.watermark_ms = max(self.watermark_ms, event.ts_ms)
        _, outputs = customer.step(state, event, self.population, watermark_ms=self.watermark_ms)
        result = self._route(outputs)
        if self.watermark_ms - self.last_tick_ms >= TICK_EVERY_MS:
            result += self.advance(self.watermark_ms)
        return result

    def feedback(self, fb: Feedback) -> list[dict[str, Any]]:
        _, outputs = customer.apply_feedback(self.state_of(fb.customer_id), fb, self.population)
        return self._route(outputs)

    def advance(self, watermark_ms: int) -> list[dict[str, Any]]:
        """Close windows and resolve quiet episodes of every customer up to ``watermark_ms``."""
        self.last_tick_ms = watermark_ms
        outputs: list[Any] = []
        for state in self.customers.values():
            outputs += customer.tick(state, watermark_ms, self.population)[1]
        return self._route(outputs)

    def finish(self) -> list[dict[str, Any]]:
        """End of stream: close every open window."""
        last = max((customer.window_deadline(s) for s in self.customers.values()
                    if s.window_events), default=self.watermark_ms)
        return self.advance(max(self.watermark_ms, last))

    def _route(self, outputs: list[Any]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for out in outputs:
            if isinstance(out, ClusterSignal):
                for verdict in self.clusters.step(out):
                    state = self.state_of(verdict.customer_id)
                    _, more = customer.apply_verdict(state, verdict, self.population)
                    result += self._route(more)
            elif isinstance(out, Alert | FeatureRecord):
                result.append(out.to_dict())
        return result


@dataclass(slots=True)
class ReplayResult:
    alerts: list[dict[str, Any]]
    features: list[dict[str, Any]]
    events: int
    engine: Engine


def replay(events: Iterable[InferenceEvent],
           progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Run a whole stream through a fresh :class:`Engine`; ``progress(n)`` is called per event."""
    eng = Engine()
    alerts: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    n = 0
    for event in events:
        for out in eng.process(event):
            (alerts if out["kind"] == "alert" else features).append(out)
        n += 1
        if progress is not None:
            progress(n)
    for out in eng.finish():
        (alerts if out["kind"] == "alert" else features).append(out)
    return ReplayResult(alerts=alerts, features=features, events=n, engine=eng)
