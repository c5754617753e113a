"""Exact replay detection: which offsets of a partition have already been handled.

After a restart or a rebalance a partition is read again from its committed offset. A record
that a customer's stored state already reflects must be skipped, however many there are; a
record that was never processed must be processed, even below the customer's last offset (a
consumer may hand a record over *after* later ones: Faust around a rebalance or a re-fetch, or
a process died before fetching a skipped record again).

Two structures answer "was offset *o* handled?" exactly:

* :class:`OffsetLedger`, in memory, per partition: the offsets *this process* handled, as
  ranges (a contiguous stream costs one range). Nothing is assumed about offsets below the
  first one it handled: Faust can drop the first records after an assignment and hand them
  over later (measured in ``tests/durability/test_rebalance.py``), so "below where this
  process started" does not mean "handled". Bounded: past ``MAX_RANGES`` ranges the oldest
  are folded into the floor (treated as handled), and that is counted.
* :class:`Handled`, stored *inside each customer state*: what had been handled of the
  partition when that version of the state was written (every offset up to ``top`` except the
  ``gaps``). A state reflects every record of its customer handled before it was written, so
  an offset in its ``Handled`` is a replay for that customer. The mark travels in the same
  record as the state, so no crash can separate the two. (A partition-wide mark under its own
  key can come back newer or older than a state after a kill -9: a replay was then
  double-counted, or a record handed over late was lost.) Its gaps are bounded
  (:data:`MAX_GAPS`): past it the oldest are taken as handled and counted; the oldest gaps
  lie below every later commit, where no consumer reads again.

>>> led = OffsetLedger()
>>> for o in (100, 101, 103, 104):
...     led.add(o)
>>> led.out_of_order(102), led.out_of_order(101), led.out_of_order(99), led.out_of_order(105)
(True, False, False, False)
>>> h = led.snapshot(Handled())
>>> h.top, h.gaps, 102 in h, 101 in h, 99 in h, 105 in h
(104, [0, 99, 102, 102], False, True, False, False)
>>> led.add(102); led.ranges
[[100, 104]]
>>> led.snapshot(h).gaps
[0, 99]
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field

MAX_RANGES = 1024
#: gaps (ranges of unhandled offsets) a :class:`Handled` keeps; past it the oldest are taken as
#: handled (counted by the driver as ``handled_gaps_dropped``)
MAX_GAPS = 16


@dataclass(slots=True)
class Handled:
    """Offsets of a partition handled when a state was written: ``<= top``, minus ``gaps``
    (flattened inclusive ``[start, end]`` pairs, ascending, all below ``top``)."""

    top: int = -1
    gaps: list[int] = field(default_factory=list)

    def __contains__(self, offset: int) -> bool:
        if offset > self.top:
            return False
        g = self.gaps
        for i in range(0, len(g), 2):
            if offset < g[i]:
                return True
            if offset <= g[i + 1]:
                return False
        return True

    def codec_check(self) -> None:
        g = self.gaps
        if len(g) % 2 or len(g) > 2 * MAX_GAPS:
            raise ValueError("gaps must be at most MAX_GAPS [start, end] pairs")
        if any(b < a for a, b in itertools.pairwise(g)) or (g and g[-1] >= self.top):
            raise ValueError("gaps must ascend and lie below top")


@dataclass(slots=True)
class OffsetLedger:
    """Offsets of one partition handled by this process (in memory only; see module doc)."""

    ranges: list[list[int]] = field(default_factory=list)
    #: offsets at or below are treated as handled (folded away past MAX_RANGES)
    floor: int = -1
    folded: int = 0
    #: gaps dropped from snapshots past :data:`MAX_GAPS` (taken as handled)
    gaps_dropped: int = 0

    def add(self, offset: int) -> None:
        r = self.ranges
        if not r:
            if offset > self.floor:
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
        if not self.ranges:
            return self.floor
        first = self.ranges[0]
        return first[1] if first[0] <= self.floor + 1 else self.floor

    def out_of_order(self, offset: int) -> bool:
        """Was ``offset`` skipped by this process (inside the span it handled, not handled)?"""
        if not self.ranges:
            return False
        r = self.ranges
        return max(self.floor, r[0][0]) < offset < r[-1][1] and offset not in self

    def snapshot(self, before: Handled) -> Handled:
        """``before`` (a state's stored mark) joined with what this process handled."""
        if not self.ranges and self.floor < 0:
            return before
        top = max(before.top, self.ranges[-1][1] if self.ranges else self.floor)
        if len(self.ranges) == 1 and not before.gaps and self.ranges[0][0] <= before.top + 1:
            return Handled(top, [])  # everything up to top was handled
        if (len(self.ranges) == 1 and len(before.gaps) == 2 and before.gaps[0] == 0
                and self.ranges[0][0] <= before.top + 1 and self.ranges[0][0] > before.gaps[1]):
            # the common case: one stream since a first offset, continued by this process
            return Handled(top, list(before.gaps))
        # handled pieces, as inclusive intervals: this process's, then the stored mark's
        pieces = [[-1, self.floor], *([a, b] for a, b in self.ranges)]
        start, g = 0, before.gaps
        for i in range(0, len(g), 2):
            pieces.append([start, g[i] - 1])
            start = g[i + 1] + 1
        pieces.append([start, before.top])
        pieces.sort()
        gaps: list[int] = []
        reach = -1
        for a, b in pieces:
            if b < a:
                continue
            if a > reach + 1:
                gaps += [reach + 1, a - 1]
            reach = max(reach, b)
        if len(gaps) > 2 * MAX_GAPS:
            self.gaps_dropped += (len(gaps) - 2 * MAX_GAPS) // 2
            gaps = gaps[-2 * MAX_GAPS:]
        return Handled(top, gaps)
