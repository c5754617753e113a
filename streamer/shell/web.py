"""The worker's web endpoints (Faust's own web server).

* ``GET /health`` — 200 while every agent runs and the worker keeps consuming; 503 otherwise
  (an agent crashed, or partitions are assigned, messages are waiting and no batch completed
  for ``STALL_S`` seconds). Point a liveness probe at it. ``"status": "degraded"`` (still 200)
  while the DLQ-rate guard trips: too many input messages dead-lettered (``input`` says why).
* ``GET /customers/{customer_id}`` — the customer's processed-event count, risk and episode;
  routed to the worker that owns the customer's partition when several workers run.
* ``GET /stats`` — events processed and invalid messages seen by this worker; ``input_status``,
  the DLQ-rate guard, dropped optional fields and dead letters per field and reason.
"""

from __future__ import annotations

import time
from typing import Any

STALL_S = 60.0


def register_pages(app: Any, proc: Any, states: Any, health: Any) -> None:
    from faust import web

    def agents_alive() -> tuple[bool, str]:
        for agent in app.agents.values():
            for actor in getattr(agent, "_actors", []):
                task = getattr(actor, "actor_task", None)
                if task is not None and task.done():
                    exc = task.exception() if not task.cancelled() else None
                    return False, f"agent {agent.name} stopped: {exc!r}"
        return True, ""

    def waiting() -> bool:
        consumer = app.consumer
        try:
            assignment = consumer.assignment()
            highwater = consumer.highwater
            position = consumer._last_offset
        except Exception:
            return False
        for tp in assignment:
            hw = highwater(tp)
            if hw is not None and hw > 0 and position.get(tp, -1) + 1 < hw:
                return True
        return False

    @app.page("/health")
    async def health_page(self: web.View, request: web.Request) -> web.Response:
        alive, why = agents_alive()
        stalled = time.monotonic() - health.last_batch > STALL_S and waiting()
        if health.failure:
            alive, why = False, health.failure
        degraded = proc.quality.guard.degraded  # too many dead letters: 200, but say so
        body = {"status": ("degraded" if degraded else "ok") if alive and not stalled
                else "unhealthy", "input": proc.quality.guard.status().to_dict(),
                "agents_alive": alive, "detail": why or ("stalled" if stalled else ""),
                "batches": health.batches,
                "seconds_since_last_batch": round(time.monotonic() - health.last_batch, 1)}
        return self.json(body, status=200 if alive and not stalled else 503)

    @app.page("/stats")
    async def stats_page(self: web.View, request: web.Request) -> web.Response:
        try:
            assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        except Exception:
            assigned = []
        return self.json({"events_processed": proc.processed, "invalid": proc.invalid,
                          "customers_cached": len(proc.cache), "assigned": assigned,
                          "batches": health.batches, **proc.quality.snapshot()})

    @app.page("/customers/{customer_id}")
    @app.table_route(table=states, match_info="customer_id")
    async def customer_page(self: web.View, request: web.Request,
                            customer_id: str) -> web.Response:
        summary = proc.customer_summary(customer_id, lambda k: states.get(k.encode()))
        if summary is None:
            return self.json({"customer_id": customer_id, "events_processed": 0}, status=404)
        return self.json(summary)

    del health_page, stats_page, customer_page
