"""The shared sink loop: retries until delivered, splits rejected batches, counts bad records."""

from __future__ import annotations

from collections.abc import Sequence

from streamer.integrations.records import InvalidRecord
from streamer.integrations.sink import Backoff, DeliveryError, Sink


def _parse(raw: bytes) -> str:
    if not raw.isalnum():
        raise InvalidRecord("bad_json", "not alphanumeric")
    return raw.decode()


class Target:
    """A delivery target that is down for ``down`` calls and rejects the item ``poison``."""

    def __init__(self, down: int = 0, poison: str = "") -> None:
        self.down = down
        self.poison = poison
        self.received: list[list[str]] = []

    def deliver(self, items: Sequence[str]) -> None:
        if self.down > 0:
            self.down -= 1
            raise DeliveryError("connection refused")
        if self.poison in items:
            raise DeliveryError("400 bad payload", rejected=True)
        self.received.append(list(items))


def _sink(target: Target) -> Sink[str]:
    sink = Sink("t", _parse, target.deliver, backoff=Backoff(initial_s=0.001, max_s=0.002))
    return sink


def test_delivery_is_retried_until_it_succeeds() -> None:
    target = Target(down=4)
    sink = _sink(target)
    assert sink.process([("p@0", b"a"), ("p@1", b"b")])
    assert target.received == [["a", "b"]] and sink.stats.retries == 4


def test_a_stop_while_the_target_is_down_leaves_the_batch_undelivered() -> None:
    target = Target(down=10**9)
    sink = _sink(target)
    sink.wait = lambda _s: sink.stop.set()
    assert not sink.process([("p@0", b"a")])
    assert target.received == [] and sink.stats.delivered == 0


def test_a_rejected_item_is_skipped_and_the_rest_delivered() -> None:
    target = Target(poison="bad")
    sink = _sink(target)
    assert sink.process([("p@0", b"a"), ("p@1", b"bad"), ("p@2", b"c")])
    assert target.received == [["a"], ["c"]]
    assert sink.stats.rejected == 1 and sink.stats.delivered == 2


def test_malformed_records_are_counted_and_skipped() -> None:
    target = Target()
    sink = _sink(target)
    assert sink.process([("p@0", b"{oops"), ("p@1", b"ok"), ("p@2", b"")])
    assert target.received == [["ok"]]
    assert dict(sink.stats.malformed) == {"bad_json": 2}
    assert "malformed[bad_json=2]" in sink.stats.summary()


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(initial_s=0.5, max_s=4.0, jitter=0.2)
    delays = [b.delay(n) for n in range(8)]
    assert 0.4 <= delays[0] <= 0.6 and all(d <= 4.8 for d in delays) and delays[-1] >= 3.2
