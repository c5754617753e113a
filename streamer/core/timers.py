"""Event-time timers: one live deadline per customer, fired in deadline order, with a budget.

A customer who stops sending still needs its open window closed and, two hours later, its
episode resolved. The driver keeps, per partition, a :class:`Timers` queue holding *one* live
deadline per customer: setting a new deadline replaces the old one, so the queue is bounded by
the number of customers with something pending. Replaced entries are left in the heap and
skipped when they surface; the heap is rebuilt from the live deadlines whenever stale entries
outnumber live ones, so it never holds more than about twice as many entries as customers
(``heap_size`` is exported as a metric).

:meth:`Timers.pop_due` hands out at most ``limit`` customers at a time: that is how closing a
window boundary shared by many customers is paced instead of bursting.

The queue is not persisted: each customer state carries everything its deadline derives from
(:func:`streamer.core.customer.next_deadline`), so after a restart or a rebalance the driver
rebuilds the queue from the stored states (:meth:`streamer.core.driver.Driver.adopt`).

>>> t = Timers()
>>> t.set("a", 120_000); t.set("b", 30_000); t.set("a", 60_000)
>>> len(t), t.next_at()
(2, 30000)
>>> t.pop_due(59_999)
['b']
>>> t.pop_due(10**9)
['a']
>>> len(t), t.next_at() is None
(0, True)
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass(slots=True)
class Timers:
    """Live deadlines (event-time ms) by key, with a lazily cleaned heap."""

    due: dict[str, int] = field(default_factory=dict)
    heap: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.due)

    @property
    def heap_size(self) -> int:
        return len(self.heap)

    def set(self, key: str, when: int | None) -> None:
        """Give ``key`` the deadline ``when`` (``None``: nothing pending), replacing any other."""
        if self.due.get(key) == when:
            return
        if when is None:
            del self.due[key]
            return
        self.due[key] = when
        heapq.heappush(self.heap, (when, key))
        if len(self.heap) > 2 * len(self.due) + 64:
            self.heap = [(w, k) for k, w in self.due.items()]
            heapq.heapify(self.heap)

    def _clean_top(self) -> None:
        heap, due = self.heap, self.due
        while heap and due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)

    def next_at(self) -> int | None:
        """The earliest live deadline, or ``None``."""
        self._clean_top()
        return self.heap[0][0] if self.heap else None

    def pop_due(self, watermark_ms: int, limit: int | None = None) -> list[str]:
        """Remove and return the keys whose deadline is ``<= watermark_ms``, earliest first
        (ties by key), at most ``limit`` of them."""
        out: list[str] = []
        heap, due = self.heap, self.due
        while limit is None or len(out) < limit:
            self._clean_top()
            if not heap or heap[0][0] > watermark_ms:
                break
            _, key = heapq.heappop(heap)
            del due[key]
            out.append(key)
        return out
