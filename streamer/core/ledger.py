"""Exact replay detection: which offsets of a partition this process has already handled.

A customer state stores the last input offset it reflects (``last_offset``); after a restart
the partition is read again from the committed offset, and every record at or below a
customer's ``last_offset`` is a replay, skipped exactly — however many of them there are.

One case needs a second rule: a consumer may hand a record over *after* later ones (Faust
around a rebalance or a re-fetch). Such a record is at or below ``last_offset`` too, but was
never processed. The :class:`OffsetLedger` tells the two apart: it remembers, for the current
process, the offsets of the partition it handled (as ranges, so a contiguous stream costs one
range). An offset inside the span this process has handled but missing from it was skipped,
and is processed now; anything else at or below ``last_offset`` is a replay. The ledger is
bounded: past ``MAX_RANGES`` ranges the oldest are folded into the floor (treated as handled),
and that is counted.

>>> led = OffsetLedger()
>>> for o in (100, 101, 103, 104):
...     led.add(o)
>>> led.out_of_order(102), led.out_of_order(101), led.out_of_order(99), led.out_of_order(105)
(True, False, False, False)
>>> led.add(102); led.ranges
[[100, 104]]
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

MAX_RANGES = 1024


@dataclass(slots=True)
class OffsetLedger:
    """Offsets of one partition handled by this process (in memory only; see module doc)."""

    ranges: list[list[int]] = field(default_factory=list)
    #: offsets at or below are treated as handled (before this process's first, or folded)
    floor: int = -1
    folded: int = 0

    def add(self, offset: int) -> None:
        r = self.ranges
        if not r:
            if self.floor < 0:
                self.floor = offset - 1
            r.append([offset, offset])
            return
        last = r[-1]
        if offset == last[1] + 1:
            last[1] = offset
            return
        if offset > last[1]:
            r.append([offset, offset])
        elif offset <= self.floor or offset in self:
            return
        else:
            i = bisect.bisect_left(r, [offset, offset])
            if i > 0 and r[i - 1][1] + 1 == offset:
                r[i - 1][1] = offset
                if i < len(r) and r[i][0] == offset + 1:
                    r[i - 1][1] = r[i][1]
                    del r[i]
            elif i < len(r) and r[i][0] == offset + 1:
                r[i][0] = offset
            else:
                r.insert(i, [offset, offset])
        while len(r) > MAX_RANGES:
            self.floor = max(self.floor, r[0][1])
            del r[0]
            self.folded += 1

    def __contains__(self, offset: int) -> bool:
        if offset <= self.floor:
            return True
        i = bisect.bisect_right(self.ranges, [offset, 2**63]) - 1
        return i >= 0 and self.ranges[i][0] <= offset <= self.ranges[i][1]

    def contiguous(self) -> int:
        """The largest offset up to which every offset was handled (``-1``: none yet)."""
        return self.ranges[0][1] if self.ranges else self.floor

    def out_of_order(self, offset: int) -> bool:
        """Was ``offset`` skipped by this process (inside its span, never handled)?"""
        if not self.ranges:
            return False
        return self.floor < offset < self.ranges[-1][1] and offset not in self
