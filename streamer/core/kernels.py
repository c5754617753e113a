"""The hot per-event kernels, native when the C extension is built, pure Python otherwise.

Three small functions carry much of the per-event cost of the core (``make bench``'s offline
steps): the SimHash of a prompt's tokens, the Hamming distance to the nearest recent prompt, and
the half-space-trees walk of the population outlier score. ``streamer/core/_kernels.c``
implements each in C; this module exposes one name per kernel, bound to the C function when the
extension imported and to its pure-Python twin below when it did not (no compiler at install
time). The twins are the definitions: the C code must return the same integers and the same IEEE
doubles, accumulated in the same order, and ``tests/unit/test_kernels.py`` checks them value for
value (under ``CI=true`` it also fails when the extension is missing).

>>> simhash_tokens([b"what", b"is", b"0"]) == py_simhash_tokens([b"what", b"is", b"0"])
True
>>> nearest_distance(0b1011, [0b1000, 0b1111]), nearest_distance(5, [])
(1, 64)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

#: Seed of the low 32 bits of a feature hash (``crc32(feature, SEED)``).
SIMHASH_SEED = 0x9E3779B9
_MASK64 = (1 << 64) - 1
_crc32 = zlib.crc32


def py_simhash_tokens(tokens: list[bytes]) -> int:
    """64-bit SimHash (Charikar 2002) of the uni- and bi-grams of ``tokens``.

    The feature hash of a token or bigram ``f`` (a bigram is ``b"a b"``) is
    ``crc32(f) << 32 | crc32(f, SIMHASH_SEED)``; bit ``k`` of the result is set when more than
    half of the ``2 * len(tokens) - 1`` features have it. No tokens: 0.
    """
    if not tokens:
        return 0
    feats: list[int] = []
    after_hi = after_lo = 0
    for i, tok in enumerate(tokens):
        hi, lo = _crc32(tok), _crc32(tok, SIMHASH_SEED)
        feats.append((hi << 32) | lo)
        if i:
            feats.append((_crc32(tok, after_hi) << 32) | _crc32(tok, after_lo))
        after_hi, after_lo = _crc32(b" ", hi), _crc32(b" ", lo)
    half = len(feats)
    return sum(1 << k for k in range(64)
               if 2 * sum((f >> k) & 1 for f in feats) > half)


def py_nearest_distance(h: int, others: list[int]) -> int:
    """Smallest Hamming distance from ``h`` (its low 64 bits) to any of ``others``; 64 for none."""
    if not others:
        return 64
    return min(map(int.bit_count, map((h & _MASK64).__xor__, others)))


def py_hst_score(vals: list[float], split_feature: Sequence[int], split_at: Sequence[float],
                 partial_at: Sequence[float], stops_at: Sequence[int], n_trees: int,
                 height: int, denominator: float) -> float:
    """Half-space-trees score of complete ``vals``: per tree, walk down by the splits until a
    node where the walk stops, add that node's precomputed partial score; ``1 - total /
    denominator`` (see :meth:`streamer.core.estimators.HalfSpaceTrees.score_values`)."""
    n_nodes, n_branches = (1 << (height + 1)) - 1, (1 << height) - 1
    score = 0.0
    for t in range(n_trees):
        base, tree = t * n_nodes, t * n_branches
        node = 0
        for _ in range(height):
            if stops_at[base + node]:
                break
            at = tree + node
            node = 2 * node + 1 if vals[split_feature[at]] < split_at[at] else 2 * node + 2
        score += partial_at[base + node]
    return 1 - score / denominator


def py_hst_learn(vals: list[float], split_feature: Sequence[int], split_at: Sequence[float],
                 l_mass: list[int], n_trees: int, height: int) -> None:
    """Fold complete ``vals`` into ``l_mass`` in place: +1 on every node of each tree's path
    from the root to a leaf (:meth:`streamer.core.estimators.HalfSpaceTrees.learn_values`)."""
    n_nodes, n_branches = (1 << (height + 1)) - 1, (1 << height) - 1
    for t in range(n_trees):
        base, tree = t * n_nodes, t * n_branches
        node = 0
        for _ in range(height):
            l_mass[base + node] += 1
            at = tree + node
            node = 2 * node + 1 if vals[split_feature[at]] < split_at[at] else 2 * node + 2
        l_mass[base + node] += 1


simhash_tokens: Callable[[list[bytes]], int]
nearest_distance: Callable[[int, list[int]], int]
hst_score: Callable[..., float]
hst_learn: Callable[..., None]
try:
    from streamer.core import _kernels  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - built without a C compiler
    NATIVE = False
    simhash_tokens, nearest_distance, hst_score, hst_learn = (
        py_simhash_tokens, py_nearest_distance, py_hst_score, py_hst_learn)
else:
    NATIVE = True
    simhash_tokens, nearest_distance, hst_score, hst_learn = (
        _kernels.simhash_tokens, _kernels.nearest_distance, _kernels.hst_score,
        _kernels.hst_learn)
