"""Plain-data online estimators that behave exactly like the River ones they replace.

River's ``stats.EWMean``, ``stats.EWVar`` and ``stats.Quantile`` keep their state inside a Rust
object that can only be saved by pickling, and ``anomaly.HalfSpaceTrees`` keeps a tree of Python
objects. Stored state must be data only (see :mod:`streamer.core.codec`), so the detector uses
these equivalents: small dataclasses of numbers that give the same results as River for the same
inputs (``tests/unit/test_codec_estimators.py`` compares them value for value with the installed
River) and that the codec can store field by field.

>>> m = EWMean(0.5)
>>> for x in [1, 3, 5]:
...     m.update(x)
>>> m.get()
3.5
>>> v = EWVar(0.5)
>>> for x in [1, 3, 5]:
...     v.update(x)
>>> v.get()
2.75
>>> q = Quantile(0.5)
>>> for x in [9, 7, 3, 2, 6, 1, 8, 5, 4]:
...     q.update(x)
>>> q.get()
5.0
>>> hst = HalfSpaceTrees(n_trees=5, height=3, window_size=3, seed=42)
>>> for x in [0.5, 0.45, 0.43]:
...     hst.learn_one({"x": x})
>>> hst.learn_one({"x": 0.0})
>>> round(hst.score_one({"x": 0.0}), 3), round(hst.score_one({"x": 0.45}), 3)
(0.853, 0.071)
"""

from __future__ import annotations

import functools
import random
from array import array
from dataclasses import dataclass, field

from streamer.core import kernels

#: Most nodes (all trees) a stored half-space-trees model may have (the population's: 7,665).
MAX_NODES = 1 << 16


@dataclass(slots=True)
class EWMean:
    """Exponentially weighted mean; the first value is taken as is."""

    fading_factor: float = 0.5
    mean: float = 0.0
    started: bool = False

    def update(self, x: float) -> None:
        if self.started:
            a = self.fading_factor
            self.mean = a * x + (1.0 - a) * self.mean
        else:
            self.mean = float(x)
            self.started = True

    def get(self) -> float:
        return self.mean


@dataclass(slots=True)
class EWVar:
    """Exponentially weighted variance: EW mean of x² minus the square of the EW mean of x."""

    fading_factor: float = 0.5
    mean: float = 0.0
    sq_mean: float = 0.0
    started: bool = False

    def update(self, x: float) -> None:
        if self.started:
            a = self.fading_factor
            self.mean = a * x + (1.0 - a) * self.mean
            self.sq_mean = a * (x * x) + (1.0 - a) * self.sq_mean
        else:
            self.mean, self.sq_mean = float(x), float(x * x)
            self.started = True

    def get(self) -> float:
        return self.sq_mean - self.mean * self.mean


@functools.lru_cache(maxsize=64)
def _desired(q: float) -> tuple[float, float, float, float, float]:
    return (0.0, q / 2.0, q, (1.0 + q) / 2.0, 1.0)


@dataclass(slots=True)
class Quantile:
    """Running quantile by the P² algorithm (Jain & Chlamtac 1985): five markers, no samples."""

    q: float = 0.5
    heights: list[float] = field(default_factory=list)
    positions: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0, 4.0, 5.0])
    markers: list[float] = field(default_factory=list)
    ready: bool = False

    def __post_init__(self) -> None:
        if not self.markers:
            q = self.q
            self.markers = [1.0, 1.0 + 2.0 * q, 1.0 + 4.0 * q, 3.0 + 2.0 * q, 5.0]

    def update(self, x: float) -> None:
        h = self.heights
        if len(h) != 5:
            h.append(float(x))
            return
        if not self.ready:
            h.sort()
            self.ready = True
        kernels.p2_update(h, self.positions, self.markers, _desired(self.q), float(x))

    def codec_check(self) -> None:
        """Consistency of stored markers (called by the codec after decoding)."""
        if not 0.0 < self.q < 1.0:
            raise ValueError("quantile q must lie in (0, 1)")
        if len(self.markers) != 5 or len(self.positions) != 5 or len(self.heights) > 5:
            raise ValueError("quantile needs five markers")

    def get(self) -> float | None:
        h = self.heights
        if not h:
            return None
        if self.ready and len(h) == 5:
            return h[2]
        h.sort()
        index = int(min(max(len(h) - 1.0, 0.0), len(h) * self.q))
        return h[min(index, len(h) - 1)]


@functools.lru_cache(maxsize=4)
def _splits(seed: int, n_trees: int, height: int, features: tuple[str, ...],
            limits: tuple[tuple[str, float, float], ...]) -> tuple[tuple[int, ...],
                                                                 tuple[float, ...]]:
    """Split feature indices and thresholds of ``n_trees`` trees, node by node (heap order),
    drawn in River's order: at each branch a feature weighted by its range, then a threshold
    in the padded range; the left subtree, then the right one."""
    rng = random.Random(seed)
    n_branches = (1 << height) - 1
    feat = [0] * n_branches
    at = [0.0] * n_branches
    bounds = {name: (lo, hi) for name, lo, hi in limits}
    index = {name: i for i, name in enumerate(features)}
    names = list(features)
    all_feat: list[int] = []
    all_at: list[float] = []

    def build(node: int, depth: int) -> None:
        if depth == height:
            return
        on = rng.choices(names, weights=[bounds[n][1] - bounds[n][0] for n in names])[0]
        a, b = bounds[on]
        split = rng.uniform(a + 0.15 * (b - a), b - 0.15 * (b - a))
        feat[node], at[node] = index[on], split
        bounds[on] = (a, split)
        build(2 * node + 1, depth + 1)
        bounds[on] = (split, b)
        build(2 * node + 2, depth + 1)
        bounds[on] = (a, b)

    for _ in range(n_trees):
        build(0, 0)
        all_feat += feat
        all_at += at
    return tuple(all_feat), tuple(all_at)


@dataclass(slots=True)
class HalfSpaceTrees:
    """Half-space trees (Tan, Ting & Liu 2011), built and walked as River builds and walks them.

    The trees are complete binary trees stored flat (node ``i`` has children ``2i+1``/``2i+2``);
    their split features and thresholds follow from ``seed``, ``limits`` and the sorted feature
    names of the first learnt sample, so only those parameters and the node masses are state.
    """

    n_trees: int = 10
    height: int = 8
    window_size: int = 250
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    seed: int = 0
    features: tuple[str, ...] = ()
    l_mass: list[int] = field(default_factory=list)
    r_mass: list[int] = field(default_factory=list)
    counter: int = 0
    first_window: bool = True
    #: derived from the parameters above (rebuilt by :meth:`rebuild`, never stored)
    split_feature: list[int] = field(default_factory=list, repr=False, compare=False,
                                     metadata={"transient": True})
    split_at: list[float] = field(default_factory=list, repr=False, compare=False,
                                  metadata={"transient": True})
    #: per node of ``r_mass``: the walk's partial score on reaching it, and whether the walk
    #: stops there; derived from the ``r_mass`` list it was built for (never mutated: it is
    #: replaced at each window), rebuilt when that list is replaced
    scored_mass: list[int] | None = field(default=None, repr=False, compare=False,
                                          metadata={"transient": True})
    partial_at: list[float] = field(default_factory=list, repr=False, compare=False,
                                    metadata={"transient": True})
    stops_at: list[bool] = field(default_factory=list, repr=False, compare=False,
                                 metadata={"transient": True})
    #: the splits and the scoring tables above as flat C arrays, for the native kernels
    split_buffers: tuple[object, object] | None = field(
        default=None, repr=False, compare=False, metadata={"transient": True})
    scoring_buffers: tuple[object, ...] | None = field(
        default=None, repr=False, compare=False, metadata={"transient": True})

    @property
    def n_nodes(self) -> int:
        return (1 << (self.height + 1)) - 1

    def rebuild(self) -> None:
        """Recompute the trees' splits from ``seed``, ``limits`` and ``features``."""
        if not self.features:
            self.split_feature, self.split_at = [], []
            self.split_buffers = self.scoring_buffers = None
            return
        limits = tuple((name, *self.limits.get(name, (0.0, 1.0))) for name in self.features)
        feat, at = _splits(self.seed, self.n_trees, self.height, self.features, limits)
        self.split_feature, self.split_at = list(feat), list(at)
        self.split_buffers = self.scoring_buffers = None

    def _values(self, x: dict[str, float]) -> list[float | None]:
        return [x.get(name) for name in self.features]

    def _child(self, base: int, node: int, tree: int, value: float | None) -> int:
        left, right = 2 * node + 1, 2 * node + 2
        if value is None:  # missing feature: the more visited child
            return right if self.l_mass[base + left] < self.l_mass[base + right] else left
        return left if value < self.split_at[tree + node] else right

    def learn_one(self, x: dict[str, float]) -> None:
        if not self.features:
            self.features = tuple(sorted(x))
            self.l_mass = [0] * (self.n_trees * self.n_nodes)
            self.r_mass = [0] * (self.n_trees * self.n_nodes)
            self.rebuild()
        self.learn_values(self._values(x))

    def learn_values(self, vals: list[float | None]) -> None:
        """:meth:`learn_one` of the values of :attr:`features`, in that order (the trees
        must exist: after a first :meth:`learn_one`)."""
        if not self.split_at:
            self.rebuild()
        if None not in vals:  # the common case: the native walk
            split_feature, split_at = self._split_buffers()
            kernels.hst_learn(vals, split_feature, split_at, self.l_mass, self.n_trees,
                              self.height)
            self._count_one()
            return
        n_nodes, n_branches = self.n_nodes, (1 << self.height) - 1
        l_mass = self.l_mass
        for t in range(self.n_trees):
            base, tree = t * n_nodes, t * n_branches
            node = 0
            for _ in range(self.height):
                l_mass[base + node] += 1
                node = self._child(base, node, tree, vals[self.split_feature[tree + node]])
            l_mass[base + node] += 1
        self._count_one()

    def _count_one(self) -> None:
        self.counter += 1
        if self.counter == self.window_size:
            self.r_mass = self.l_mass
            self.l_mass = [0] * len(self.r_mass)
            self.first_window = False
            self.counter = 0

    def score_one(self, x: dict[str, float]) -> float:
        """Anomaly score in [0, 1] (high is anomalous); 0 during the first window."""
        if self.first_window or not self.features:
            return 0.0
        return self.score_values(self._values(x))

    def score_values(self, vals: list[float | None]) -> float:
        """:meth:`score_one` of the values of :attr:`features`, in that order."""
        if self.first_window or not self.features:
            return 0.0
        if not self.split_at:
            self.rebuild()
        if None in vals:
            return self._score_walk(vals)
        if self.scored_mass is not self.r_mass:
            self._prepare_scoring()
        return kernels.hst_score(vals, *self._buffers(), self.n_trees, self.height,
                                 float(self.n_trees * self.window_size * self.n_nodes))

    def _split_buffers(self) -> tuple[object, object]:
        """The splits as flat C arrays (the kernels' inputs), built once per :meth:`rebuild`."""
        buffers = self.split_buffers
        if buffers is None:
            buffers = self.split_buffers = (array("q", self.split_feature),
                                            array("d", self.split_at))
        return buffers

    def _buffers(self) -> tuple[object, ...]:
        """Splits and scoring tables as flat C arrays, built once per :meth:`_prepare_scoring`."""
        buffers = self.scoring_buffers
        if buffers is None:
            buffers = self.scoring_buffers = (*self._split_buffers(),
                                              array("d", self.partial_at), bytes(self.stops_at))
        return buffers

    def _prepare_scoring(self) -> None:
        """``partial_at`` / ``stops_at`` of the current ``r_mass``: the partial score a walk
        has on reaching each node, accumulated exactly as :meth:`_score_walk` does (so scores
        are bit-identical), and whether it stops there (mass below the size limit, or a leaf)."""
        size_limit = 0.1 * self.window_size
        n_nodes, height, r_mass = self.n_nodes, self.height, self.r_mass
        partial_at = [0.0] * len(r_mass)
        stops_at = [True] * len(r_mass)
        for t in range(self.n_trees):
            base = t * n_nodes
            stack = [(0, 0, 1, 0.0)]  # node, depth, 2 ** depth, partial before the node
            while stack:
                node, depth, depth_pow, partial = stack.pop()
                r = r_mass[base + node]
                if depth == height:  # a leaf: the loop's else clause
                    partial_at[base + node] = partial + r * depth_pow
                    continue
                partial += r * depth_pow
                partial_at[base + node] = partial
                if r < size_limit:
                    continue
                stops_at[base + node] = False
                stack.append((2 * node + 1, depth + 1, depth_pow << 1, partial))
                stack.append((2 * node + 2, depth + 1, depth_pow << 1, partial))
        self.partial_at, self.stops_at, self.scored_mass = partial_at, stops_at, r_mass
        self.scoring_buffers = None

    def _score_walk(self, vals: list[float | None]) -> float:
        """The tree walk as River does it (any missing value goes to the busier child)."""
        size_limit = 0.1 * self.window_size
        n_nodes, n_branches = self.n_nodes, (1 << self.height) - 1
        r_mass, split_feature = self.r_mass, self.split_feature
        score = 0.0
        for t in range(self.n_trees):
            base, tree = t * n_nodes, t * n_branches
            node, depth_pow, partial = 0, 1, 0.0
            for _ in range(self.height):
                r = r_mass[base + node]
                partial += r * depth_pow
                if r < size_limit:
                    break
                node = self._child(base, node, tree, vals[split_feature[tree + node]])
                depth_pow <<= 1
            else:
                partial += r_mass[base + node] * depth_pow
            score += partial
        return 1 - score / (self.n_trees * self.window_size * n_nodes)

    def codec_check(self) -> None:
        """Consistency of stored parameters (called by the codec after decoding)."""
        if not (1 <= self.n_trees <= 64 and 1 <= self.height <= 12 and self.window_size >= 1
                and self.n_trees * self.n_nodes <= MAX_NODES):
            raise ValueError("half-space trees parameters out of range")
        if self.features:
            size = self.n_trees * self.n_nodes
            if len(self.l_mass) != size or len(self.r_mass) != size:
                raise ValueError("half-space trees masses do not match the trees")
            if len(set(self.features)) != len(self.features):
                raise ValueError("half-space trees features repeat")
        elif self.l_mass or self.r_mass:
            raise ValueError("half-space trees masses without trees")
        self.rebuild()
