"""The hot per-event kernels, native when the C extension is built, pure Python otherwise.

A few small functions carry much of the per-event cost of the core (``make bench``'s offline
steps): one pass from ASCII prompt text to its tokens, SimHash and wrapper edges; the SimHash of
a token list; the Hamming distance to the nearest recent prompt; the half-space-trees walks of
the population outlier score (score and learn) and its clamped input vector; the P² step of the
running quantiles; the capped counts of templates and settings; the exponentially weighted
sums and decays of the profile; the entropies of its topic and setting mixes; and the
log-odds sum of the evidence ramps (with Python's exact ``round(x, 4)``).
``streamer/core/_kernels.c`` implements each in C; this module exposes one name per kernel,
bound to the C function when the extension imported and to its pure-Python twin below when it
did not (no compiler at install time). The twins are the definitions: the C code must return
the same integers and the same IEEE doubles, accumulated in the same order, and
``tests/unit/test_kernels.py`` checks them value for value (under ``CI=true`` it also fails
when the extension is missing).

>>> simhash_tokens([b"what", b"is", b"0"]) == py_simhash_tokens([b"what", b"is", b"0"])
True
>>> nearest_distance(0b1011, [0b1000, 0b1111]), nearest_distance(5, [])
(1, 64)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

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


# Bytes that belong to a word ([a-z0-9'] of the lower-cased text) map to themselves, digits to
# "0", everything else (including every byte of a non-ASCII character) to a space.
_TABLE = bytearray(b" " * 256)
for _c in b"abcdefghijklmnopqrstuvwxyz'":
    _TABLE[_c] = _c
for _c in b"0123456789":
    _TABLE[_c] = ord("0")
WORD_BYTES = bytes(_TABLE)


def ascii_tokens(lowered: bytes, limit: int) -> list[bytes]:
    """The word tokens of lower-cased ASCII bytes: ``[a-z0-9']+`` with every run of digits one
    ``0``, the first ``limit`` (:func:`streamer.core.fingerprints.word_bytes`'s ASCII path)."""
    data = lowered.translate(WORD_BYTES)
    while b"00" in data:  # a run of digits is one "0", as ``\d+ -> 0`` does
        data = data.replace(b"00", b"0")
    return data.split()[:limit]


def py_ascii_fingerprint(lowered: bytes, limit: int, edge: int) -> tuple[int, int, bytes, bytes]:
    """(SimHash, count, first ``edge`` tokens joined by spaces, last ``edge`` joined) of the
    :func:`ascii_tokens` of lower-cased ASCII text: a prompt's fingerprint from one pass."""
    if not lowered.isascii():
        raise ValueError("ascii_fingerprint: ASCII text only")
    tokens = ascii_tokens(lowered, limit)
    e = min(edge, len(tokens))
    return (py_simhash_tokens(tokens), len(tokens), b" ".join(tokens[:e]),
            b" ".join(tokens[len(tokens) - e:]))


def py_bump(counts: dict[Any, float], key: Any, cap: int) -> float:
    """Count one more of ``key`` in ``counts`` (from 0.0); past ``cap`` entries, drop the first
    entry (insertion order) with the smallest count. Returns the count before."""
    old = counts.get(key, 0.0)
    counts[key] = old + 1.0
    if len(counts) > cap:
        smallest = min(counts, key=counts.__getitem__)
        del counts[smallest]
    return old


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


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics (±inf or nan on a zero divisor), as C divides."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def py_p2_update(h: list[float], pos: list[float], markers: list[float],
                 desired: tuple[float, ...], x: float) -> None:
    """One step of the P² quantile (Jain & Chlamtac 1985) once its five heights are sorted:
    find the cell of ``x`` (the extremes move out to it), shift the positions above it and the
    desired positions, then move each middle marker whose position is off by one or more,
    by the piecewise-parabolic prediction or, outside its neighbours, the linear one. The
    lists are changed in place (:meth:`streamer.core.estimators.Quantile.update`)."""
    if x < h[0]:
        h[0] = x
        k = 1
    elif h[0] <= x < h[1]:
        k = 1
    elif h[1] <= x < h[2]:
        k = 2
    elif h[2] <= x < h[3]:
        k = 3
    elif h[3] <= x < h[4]:
        k = 4
    else:
        k = 4
        if h[4] < x:
            h[4] = x
    for i in range(k, 5):
        pos[i] += 1.0
    for i, d in enumerate(desired):
        markers[i] += d
    for i in range(1, 4):
        n, hq = pos[i], h[i]
        d = markers[i] - n
        if not ((d >= 1.0 and pos[i + 1] - n > 1.0) or (d <= -1.0 and pos[i - 1] - n < -1.0)):
            continue
        d = math.copysign(1.0, d)
        hp, hm, np_, nm = h[i + 1], h[i - 1], pos[i + 1], pos[i - 1]
        left = _div((n - nm + d) * (hp - hq), np_ - n)
        right = _div((np_ - n - d) * (hq - hm), n - nm)
        qn = hq + _div(d, np_ - nm) * (left + right)
        if hm < qn < hp:
            h[i] = qn
        else:  # linear prediction towards the neighbour in direction d
            j = i + 1 if d > 0 else i - 1
            h[i] = hq + _div(d * (h[j] - hq), pos[j] - n)
        pos[i] = n + d


def py_contributions(signals: dict[str, float], rows: tuple[tuple[str, float, float, float], ...],
                     total: float, learnt: dict[str, float] | None,
                     damped: dict[str, float] | None,
                     parts: list[tuple[str, float]] | None) -> float:
    """The log-odds ``total`` plus every evidence ramp's contribution: per ``(name, lo, span,
    weight)`` row whose signal is present, the ramp ``r = (value - lo) / span`` clamped to
    [0, 1] (NaN to 0) and, where ``r > 0``, ``round((weight + learnt[name]) * r *
    damped[name], 4)`` (defaults 0 and 1); zero contributions are skipped, the others added in
    row order and, when ``parts`` is a list, appended to it as ``(name, contribution)``
    (:func:`streamer.core.scoring._contributions`)."""
    learnt = learnt or {}
    damped = damped or {}
    get = signals.get
    for name, lo, span, base in rows:
        value = get(name)
        if value is None:
            continue
        r = (value - lo) / span
        r = r if r > 0.0 else 0.0  # max(0.0, r), NaN included
        r = r if r < 1.0 else 1.0  # min(1.0, r)
        if r > 0.0:
            contribution = round((base + learnt.get(name, 0.0)) * r * damped.get(name, 1.0), 4)
            if contribution == 0.0:
                continue
            total += contribution
            if parts is not None:
                parts.append((name, contribution))
    return total


def py_entropy(weights: list[float] | dict[Any, float]) -> float:
    """Shannon entropy (bits) of the positive weights (of a list, or a dict's values), summed
    left to right; 0.0 when their total is not positive.

    >>> py_entropy([1.0, 1.0]), py_entropy({"a": 2.0}), py_entropy([30.0, 5e-324])
    (1.0, -0.0, -0.0)
    """
    values = list(weights.values()) if isinstance(weights, dict) else weights
    total = 0.0
    for w in values:
        total += w
    if total <= 0:
        return 0.0
    acc = 0.0
    for w in values:
        if w > 0:
            p = w / total
            if p > 0:  # 0 log 0 = 0: a weight decayed to a subnormal underflows here
                acc += p * math.log2(p)
    return -acc


def py_scale(values: list[float] | dict[Any, float], factor: float) -> None:
    """Multiply every value of a list or a dict by ``factor``, in place."""
    if isinstance(values, dict):
        for k in values:
            values[k] *= factor
    else:
        for i in range(len(values)):
            values[i] *= factor


def py_ew_fold(sums: list[float], x: list[float], decay: float) -> list[float]:
    """``[s * decay + v for s, v in zip(sums, x)]`` (the lengths must agree)."""
    return [s * decay + v for s, v in zip(sums, x, strict=True)]


def py_divided(values: list[float], divisor: float) -> list[float]:
    """``[v / divisor for v in values]`` (a zero divisor raises, as Python does)."""
    return [v / divisor for v in values]


def py_count_above(values: list[int], floor: int) -> int:
    """How many of ``values`` (ints) are greater than ``floor``."""
    return len([v for v in values if v > floor])


def py_rounded(values: dict[str, float], ndigits: int) -> dict[str, float]:
    """``{k: round(v, ndigits) for k, v in values.items()}`` (``ndigits`` in 0..22)."""
    if not 0 <= ndigits <= 22:
        raise ValueError("rounded: ndigits must be in 0..22")
    return {k: round(v, ndigits) for k, v in values.items()}


def py_clamped(signals: dict[str, float],
               limits: tuple[tuple[str, float, float], ...]) -> list[float]:
    """Per ``(name, lo, hi)``: ``signals.get(name, lo)`` clamped to [lo, hi] (NaN to lo), as a
    float, in ``limits`` order (the population trees' input vector)."""
    out: list[float] = []
    get = signals.get
    for name, lo, hi in limits:
        v = get(name, lo)
        v = v if v > lo else lo
        out.append(float(v if v < hi else hi))
    return out


simhash_tokens: Callable[[list[bytes]], int]
nearest_distance: Callable[[int, list[int]], int]
hst_score: Callable[..., float]
hst_learn: Callable[..., None]
p2_update: Callable[[list[float], list[float], list[float], tuple[float, ...], float], None]
ascii_fingerprint: Callable[[bytes, int, int], tuple[int, int, bytes, bytes]]
bump: Callable[[dict[Any, float], Any, int], float]
contributions: Callable[..., float]
entropy: Callable[[list[float] | dict[Any, float]], float]
scale: Callable[[list[float] | dict[Any, float], float], None]
ew_fold: Callable[[list[float], list[float], float], list[float]]
clamped: Callable[[dict[str, float], tuple[tuple[str, float, float], ...]], list[float]]
divided: Callable[[list[float], float], list[float]]
count_above: Callable[[list[int], int], int]
rounded: Callable[[dict[str, float], int], dict[str, float]]
try:
    from streamer.core import _kernels  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - built without a C compiler
    _kernels = None
    NATIVE = False
    simhash_tokens, nearest_distance, hst_score, hst_learn, p2_update = (
        py_simhash_tokens, py_nearest_distance, py_hst_score, py_hst_learn, py_p2_update)
    ascii_fingerprint, bump = py_ascii_fingerprint, py_bump
    contributions, entropy, scale, ew_fold, clamped = (
        py_contributions, py_entropy, py_scale, py_ew_fold, py_clamped)
    divided, count_above, rounded = py_divided, py_count_above, py_rounded
else:
    NATIVE = True
    simhash_tokens, nearest_distance, hst_score, hst_learn, p2_update = (
        _kernels.simhash_tokens, _kernels.nearest_distance, _kernels.hst_score,
        _kernels.hst_learn, _kernels.p2_update)
    ascii_fingerprint, bump = _kernels.ascii_fingerprint, _kernels.bump
    contributions, entropy, scale, ew_fold, clamped = (
        _kernels.contributions, _kernels.entropy, _kernels.scale, _kernels.ew_fold,
        _kernels.clamped)
    divided, count_above, rounded = _kernels.divided, _kernels.count_above, _kernels.rounded


def native_kernel(name: str, twin: Callable[..., Any]) -> Callable[..., Any]:
    """The C kernel ``name`` where the extension is built, else its pure-Python ``twin`` (for
    kernels whose twin lives beside its callers, as :func:`streamer.core.markers.py_ascii_stand_in`
    does)."""
    return getattr(_kernels, name) if NATIVE else twin
