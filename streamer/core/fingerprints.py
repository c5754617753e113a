"""Prompt fingerprints that keep no text: SimHash, template signatures, Hamming distance.

A prompt's raw text is reduced in memory to a few integers and then dropped:

* :func:`simhash64` — 64-bit SimHash over word uni- and bi-grams; near-duplicate prompts have
  close hashes (small Hamming distance), so "is this prompt new?" needs no text.
* :func:`template_signatures` — hashes of the prompt's first and last few words with digits
  masked. Extraction tooling wraps many different questions in one wrapper ("Solve step by step:
  …"), so the wrapper repeats while the content does not.

>>> a = simhash64("What is the capital of France? Answer briefly.")
>>> b = simhash64("What is the capital of France? Answer briefly please.")
>>> c = simhash64("Write a bash script that renames every jpg file in a folder")
>>> hamming(a, b) < hamming(a, c)
True
>>> p1 = template_signatures("Solve step by step, showing all work: what is 17 * 23?")
>>> p2 = template_signatures("Solve step by step, showing all work: a train leaves at 9am")
>>> p1[0] == p2[0], p1[1] == p2[1]
(True, False)
"""

from __future__ import annotations

import hashlib
import re
import zlib
from itertools import pairwise

import numpy as np

_WORD = re.compile(r"[a-z0-9']+")
_DIGITS = re.compile(r"\d+")
_MASK64 = (1 << 64) - 1
TEMPLATE_WORDS = 5


def stable_hash64(text: str) -> int:
    """A 64-bit hash that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def words(text: str, limit: int = 96) -> list[str]:
    """Lower-cased word tokens with digits masked: the first ``limit`` of them."""
    return _WORD.findall(_DIGITS.sub("0", text[: limit * 12].lower()))[:limit]


def _feature_hash64(feature: str) -> int:
    data = feature.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.crc32(data, 0x9E3779B9)


def simhash64(text: str) -> int:
    """64-bit SimHash of word uni- and bi-grams (Charikar 2002)."""
    toks = words(text)
    feats = toks + [a + " " + b for a, b in pairwise(toks)]
    if not feats:
        return 0
    hashes = np.fromiter((_feature_hash64(f) for f in feats), dtype=np.uint64, count=len(feats))
    bits = np.unpackbits(hashes.view(np.uint8)).reshape(len(feats), 64)
    votes = bits.sum(axis=0) * 2 > len(feats)
    return int.from_bytes(np.packbits(votes).tobytes(), "little")


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return ((a ^ b) & _MASK64).bit_count()


def nearest_distance(h: int, others: list[int]) -> int:
    """Smallest Hamming distance from ``h`` to any of ``others`` (64 when there are none).

    >>> nearest_distance(0b1011, [0b1000, 0b1111])
    1
    """
    if not others:
        return 64
    arr = np.fromiter(others, dtype=np.uint64, count=len(others))
    return int(np.bitwise_count(arr ^ np.uint64(h)).min())


class RotatingBloom:
    """Approximate set of the last ~``2 * per_filter`` 64-bit hashes in ``2 * bits / 8`` bytes.

    Two Bloom filters: new items go into the current one; when it holds ``per_filter`` items
    it becomes the previous one and a fresh filter starts, so memory is bounded and old items
    are forgotten. With the defaults (2 x 1 KiB, 600 items each) a false "seen" is ~4 %.

    >>> bloom = RotatingBloom()
    >>> bloom.add(12345)
    >>> 12345 in bloom, 99 in bloom
    (True, False)
    """

    __slots__ = ("count", "current", "per_filter", "previous")

    def __init__(self, bits: int = 8192, per_filter: int = 600) -> None:
        self.current = bytearray(bits // 8)
        self.previous = bytearray(bits // 8)
        self.per_filter = per_filter
        self.count = 0

    def _positions(self, h: int) -> tuple[int, int]:
        size = len(self.current) * 8
        mixed = (h * 0x9E3779B97F4A7C15) & _MASK64
        return (mixed >> 7) % size, (mixed >> 35) % size

    def __contains__(self, h: object) -> bool:
        if not isinstance(h, int):
            return False
        a, b = self._positions(h)
        for f in (self.current, self.previous):
            if f[a >> 3] >> (a & 7) & 1 and f[b >> 3] >> (b & 7) & 1:
                return True
        return False

    def add(self, h: int) -> None:
        if self.count >= self.per_filter:
            self.previous, self.current = self.current, bytearray(len(self.current))
            self.count = 0
        for p in self._positions(h):
            self.current[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def __getstate__(self) -> tuple[bytes, bytes, int, int]:
        return bytes(self.current), bytes(self.previous), self.per_filter, self.count

    def __setstate__(self, state: tuple[bytes, bytes, int, int]) -> None:
        cur, prev, self.per_filter, self.count = state
        self.current, self.previous = bytearray(cur), bytearray(prev)


def template_signatures(text: str) -> tuple[int, int]:
    """(prefix signature, suffix signature): hashes of the first/last ``TEMPLATE_WORDS`` words.

    Prompts shorter than twice that have no separate wrapper; both signatures are then 0.
    """
    toks = words(text[:400]) + words(text[-400:]) if len(text) > 800 else words(text)
    if len(toks) < 2 * TEMPLATE_WORDS:
        return (0, 0)
    prefix = " ".join(toks[:TEMPLATE_WORDS])
    suffix = " ".join(toks[-TEMPLATE_WORDS:])
    return (stable_hash64("p:" + prefix), stable_hash64("s:" + suffix))
