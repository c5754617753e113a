"""The one calibration / held-out split of corpora and generator parameters.

Whatever is tuned (weights, ramps, thresholds) sees only the ``"calibration"`` part; the
headline evaluation uses the ``"heldout"`` part. The split is deterministic and independent of
seeds and of ``PYTHONHASHSEED``:

* **texts** (prompts of a corpus) are split by a keyed hash of their content, so the same
  prompt is always on the same side whichever corpus or order it comes from;
* **parameter ranges** (rates, account ages, output lengths, ...) are cut into ``BANDS`` equal
  bands, alternately calibration and held-out, so both parts cover the whole range without
  sharing a value;
* **whole corpora** listed in :data:`HELDOUT_CORPORA` (``prompts/heldout_*``) are held out
  entirely: nothing tuned ever reads them.

>>> part_of("What is 2 + 2?") in PARTS
True
>>> part_of("What is 2 + 2?") == part_of("What is 2 + 2?")
True
>>> texts = [f"question {i}" for i in range(1000)]
>>> 400 < len(select(texts, "calibration")) < 600
True
>>> set(select(texts, "calibration")).isdisjoint(select(texts, "heldout"))
True
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> xs = [draw(rng, 0.0, 100.0, "heldout") for _ in range(200)]
>>> all(band_part(x, 0.0, 100.0) == "heldout" for x in xs)
True
>>> draw(rng, 10, 10, "calibration")
10.0
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

Part = Literal["calibration", "heldout"]
PARTS: tuple[Part, Part] = ("calibration", "heldout")
#: Share of each corpus that goes to calibration.
CALIBRATION_SHARE = 0.5
#: Number of bands a parameter range is cut into (even bands: calibration, odd: held out).
BANDS = 8
#: Corpora under ``../shared/data/prompts`` that are held out as a whole.
HELDOUT_CORPORA: tuple[str, ...] = ("heldout_extraction", "heldout_normal")
_KEY = b"streamer-split-v1"

T = TypeVar("T")


def part_of(text: str) -> Part:
    """Which part a text (a prompt, an id) belongs to."""
    digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=8, key=_KEY).digest()
    u = int.from_bytes(digest, "big") / 2**64
    return "calibration" if u < CALIBRATION_SHARE else "heldout"


def select(items: Sequence[T], part: Part, key: str | int | None = None) -> list[T]:
    """The items of ``part``; each item is split by ``str(item)`` (or ``str(item[key])``)."""

    def text(item: T) -> str:
        return str(item[key]) if key is not None else str(item)  # type: ignore[index]

    return [item for item in items if part_of(text(item)) == part]


def band_part(value: float, lo: float, hi: float, *, log: bool = False) -> Part:
    """Which part of the range ``[lo, hi]`` a value falls in (bands in log space if ``log``)."""
    if hi <= lo:
        return "calibration"
    if log:
        value, lo, hi = math.log(value), math.log(lo), math.log(hi)
    band = min(BANDS - 1, max(0, math.floor((value - lo) / (hi - lo) * BANDS)))
    return "calibration" if band % 2 == 0 else "heldout"


def draw(rng: np.random.Generator, lo: float, hi: float, part: Part, *,
         log: bool = False) -> float:
    """A uniform draw from the bands of ``[lo, hi]`` that belong to ``part``.

    With ``log=True`` the bands (and the draw) are uniform in log space, for rates and sizes
    spanning orders of magnitude (``lo`` must then be > 0).
    """
    if hi <= lo:
        return float(lo)
    a, b = (math.log(lo), math.log(hi)) if log else (float(lo), float(hi))
    first = 0 if part == "calibration" else 1
    band = first + 2 * int(rng.integers(0, BANDS // 2))
    width = (b - a) / BANDS
    x = a + (band + float(rng.random())) * width
    x = min(b, max(a, x))
    return math.exp(x) if log else x


def integer(rng: np.random.Generator, lo: int, hi: int, part: Part) -> int:
    """A uniform integer of ``[lo, hi)`` whose cell ``[v, v + 1)`` has its middle in a band of
    ``part``. A range with fewer values than bands may leave a part empty; it is then shared
    (both parts draw from all of it), which is the only way the two parts can meet.

    >>> rng = np.random.default_rng(1)
    >>> cal = {integer(rng, 100, 400, "calibration") for _ in range(300)}
    >>> held = {integer(rng, 100, 400, "heldout") for _ in range(300)}
    >>> cal.isdisjoint(held), integer(rng, 5, 6, "heldout")
    (True, 5)
    """
    if hi - lo <= 1:
        return int(lo)
    if hi - lo > 4096:
        return min(hi - 1, math.floor(draw(rng, lo, hi, part)))
    values = [v for v in range(lo, hi) if band_part(v + 0.5, lo, hi) == part]
    if not values:
        values = list(range(lo, hi))
    return int(values[int(rng.integers(0, len(values)))])


@dataclass(frozen=True, slots=True)
class Sampler:
    """How a generator draws its randomised parameters.

    With ``part=None`` these are the plain NumPy draws (so an unsplit run is unchanged, random
    stream for random stream); with a part they come from that part's bands (:func:`draw`,
    :func:`integer`) and corpora are restricted with :func:`select`.

    >>> rng = np.random.default_rng(0)
    >>> 0.7 <= Sampler().uniform(rng, 0.7, 1.3) <= 1.3
    True
    >>> x = Sampler("heldout").uniform(rng, 3.0, 40.0, log=True)
    >>> band_part(x, 3.0, 40.0, log=True)
    'heldout'
    >>> Sampler("calibration").age(rng, 0.5, 30) == Sampler().age(rng, 0.5, 30)
    False
    """

    part: Part | None = None

    def uniform(self, rng: np.random.Generator, lo: float, hi: float, *,
                log: bool = False) -> float:
        if self.part is None:
            if log:
                return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            return float(rng.uniform(lo, hi))
        return draw(rng, lo, hi, self.part, log=log)

    def integers(self, rng: np.random.Generator, lo: int, hi: int) -> int:
        """An integer of ``[lo, hi)`` (NumPy's convention)."""
        if self.part is None:
            return int(rng.integers(lo, hi))
        return integer(rng, lo, hi, self.part)

    def age(self, rng: np.random.Generator, lo: float, hi: float) -> tuple[float, float]:
        """An account-age range for :func:`streamer.sim.identity.make_account`: unchanged
        without a part, else the single age drawn in the part's (log-spaced) bands."""
        if self.part is None:
            return (lo, hi)
        x = draw(rng, lo, hi, self.part, log=True)
        return (x, x)

    def corpus(self, items: Sequence[T], key: str | int | None = None) -> Sequence[T]:
        """``items`` restricted to the part (all of them without a part)."""
        if self.part is None:
            return items
        return select(items, self.part, key)
