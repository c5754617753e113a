"""What the driver persists about a partition besides its population view.

>>> PartitionMeta().watermark_ms
0
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class PartitionMeta:
    """Per-partition driver state stored under ``__partition__/<p>``."""

    #: the partition's event-time watermark (largest accepted event time)
    watermark_ms: int = 0
