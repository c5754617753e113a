"""One driver: a stream replayed through the worker on the real broker gives the same alerts
as the same stream replayed offline (issue 9, "one driver").

The offline :class:`~streamer.core.engine.Engine` runs with the worker's partition count and
Kafka's partitioner, so each partition has the same watermark, population view and timers in
both. The one documented difference — cluster verdicts travel through Kafka topics in the
worker and arrive a few records later — does not arise in the smoke scenario (its campaign has
fewer accounts than a cluster needs), so here every alert must match exactly: same customer,
alert id, status, severity and risk, in the same order per customer.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
import pytest

from streamer.core.engine import Engine
from streamer.core.events import event_from_dict
from streamer.sim.simulator import simulate
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.kafka


def _by_customer(alerts: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for a in alerts:
        out[a["customer_id"]].append((a["alert_id"], a["status"], a["severity"], a["risk"],
                                      a["trigger_event_id"], a["events_total"]))
    return dict(out)


def test_worker_replay_gives_the_offline_alerts(pipeline: Pipeline) -> None:
    events = list(simulate("smoke", seed=3).events())
    partitions = int(pipeline.env.get("STREAMER_PARTITIONS", "4"))
    eng = Engine(partitions)
    offline: list[dict[str, Any]] = []
    for ev in events:
        offline += [o for o in eng.process(event_from_dict(ev)) if o["kind"] == "alert"]
    assert offline, "the smoke scenario raises alerts offline"
    for ev in events:
        pipeline.send_event(ev)
    pipeline.flush()
    mine = {ev["customer_id"] for ev in events}

    def enough(recs: list[Any]) -> bool:
        return sum(orjson.loads(r.value)["customer_id"] in mine for r in recs) >= len(offline)

    live = [a for a in (orjson.loads(r.value) for r in pipeline.consume("alerts", enough, 180))
            if a["customer_id"] in mine]
    assert _by_customer(live) == _by_customer(offline)
