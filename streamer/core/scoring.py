"""From signals to an explained risk in 0..1: a fitted additive log-odds model.

Each signal has an evidence ramp: no contribution at or below ``lo`` (what ordinary traffic
shows), its full weight (in log-odds) at or above ``hi``. The risk is
``sigmoid(PRIOR + Σ weight · ramp)``. The ramps are fixed transformations; the weights and the
prior are **fitted** by ``streamer calibrate`` (:mod:`streamer.calibration`) on calibration
traffic only — a sign-constrained (hence monotone) L2-regularised logistic regression — and
shipped as data in ``streamer/core/weights/detector-weights.json`` together with the fit's
seed, data description and date. They are loaded once, at import.

The prior is placed so that *medium* (risk 0.6) sits at the target false-positive rate on
calibration traffic; *low*, *high* and *critical* keep their fixed distance in log-odds from
it. Because the model is fitted, one family of evidence may reach *medium* alone when the data
say it is decisive (a young account harvesting logprobs with ``logit_bias``), while the trust
signals of a look-alike (an established contracted account, benchmark re-runs) lower the risk.

Every reason carries its contribution in log-odds, so an alert explains itself:

>>> risk, reasons = score({}, baselines={})
>>> risk < 0.05, reasons
(True, [])
>>> blatant = {"logprob_probe_rate": 0.95, "logit_bias_rate": 0.95, "settings_entropy": 3.0,
...            "account_risk": 0.8, "machine_pacing": 0.5}  # a young account's scripted probes
>>> risk, reasons = score(blatant, baselines={})
>>> rank_of(severity_of(risk)) >= rank_of("medium"), reasons[0].contribution > 0
(True, True)
>>> trusted = {**blatant, "account_risk": 0.0, "account_trust": 1.0, "rerun_rate": 0.6}
>>> score(trusted, baselines={})[0] < risk
True

Analyst feedback teaches a small shared correction online (:class:`LearntOffsets`), with a
bounded step: one verdict moves any other customer's log-odds by at most
:data:`MAX_VERDICT_SHIFT`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from streamer.core.alerts import rank
from streamer.core.kernels import contributions as _kernel_contributions
from streamer.core.outputs import Reason

WEIGHTS_RESOURCE = "detector-weights.json"
WEIGHTS_FORMAT = "streamer-detector-weights/1"
#: Risk at which each severity starts (medium and above: a human should look).
SEVERITY_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("critical", 0.95),
    ("high", 0.85),
    ("medium", 0.6),
    ("low", 0.3),
)


@dataclass(frozen=True, slots=True)
class RampSpec:
    """The fixed part of a signal: its ramp, its sign and what it means."""

    name: str
    lo: float
    hi: float
    sign: int  # +1: evidence of extraction, -1: an innocent explanation (trust)
    tactic: str
    description: str

    def ramp(self, value: float) -> float:
        """0 at or below ``lo``, 1 at or above ``hi``, linear between."""
        return min(1.0, max(0.0, (value - self.lo) / (self.hi - self.lo)))


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A signal with its fitted weight (log-odds at full ramp)."""

    name: str
    lo: float
    hi: float
    weight: float
    tactic: str
    description: str


RAMPS: tuple[RampSpec, ...] = (
    # What is asked: coercion and harvesting markers.
    RampSpec("cot_rate", 0.1, 0.5, 1, "cot_coercion",
             "share of prompts coercing step-by-step reasoning traces"),
    RampSpec("rubric_rationale_rate", 0.2, 0.6, 1, "rubric_grading",
             "share of rubric/grading prompts answered with long rationales"),
    RampSpec("self_instruct_rate", 0.05, 0.3, 1, "self_instruct",
             "share of prompts asking for new questions/tasks in bulk"),
    RampSpec("harvest_rate", 0.3, 0.8, 1, "capability_sweep",
             "share of prompts that wrap novel content in a repeated template"),
    RampSpec("mean_log_output", 5.3, 6.3, 1, "capability_sweep",
             "mean log(1 + output tokens): long answers being harvested"),
    RampSpec("novel_rate", 0.9, 0.99, 1, "capability_sweep",
             "share of prompts with no near-duplicate among recent ones"),
    RampSpec("topic_entropy", 2.0, 2.8, 1, "capability_sweep",
             "entropy (bits) of prompt topics: breadth of capability coverage"),
    RampSpec("reasoning_share", 0.85, 0.97, 1, "cot_coercion",
             "reasoning tokens as a share of output"),
    RampSpec("tool_code_focus", 0.6, 0.95, 1, "narrow_capability",
             "share of traffic that is tool use or code on a narrow focus"),
    # How the API is used.
    RampSpec("logprob_probe_rate", 0.2, 0.7, 1, "logprob_harvest",
             "share of requests probing log-probabilities with tiny completions"),
    RampSpec("logit_bias_rate", 0.05, 0.4, 1, "logprob_harvest",
             "share of requests carrying logit_bias"),
    RampSpec("settings_entropy", 1.0, 2.5, 1, "logprob_harvest",
             "entropy (bits) of sampling settings: temperature/n sweeps"),
    RampSpec("saturated_rate", 0.3, 0.8, 1, "capability_sweep",
             "share of answers that hit a large max_tokens"),
    RampSpec("new_model_rate", 0.5, 0.9, 1, "release_chasing",
             "share of traffic moved to a model released within a day"),
    # When and how much.
    RampSpec("machine_pacing", 0.4, 0.85, 1, "automation",
             "regularity of inter-arrival times (1 - coefficient of variation)"),
    RampSpec("error_rate", 0.02, 0.05, 1, "automation",
             "share of failed requests: scripts pushing against rate limits"),
    RampSpec("requests_per_hour", 300.0, 3000.0, 1, "volume",
             "request rate (per hour, 1 h half-life)"),
    # Who is asking.
    RampSpec("account_risk", 0.2, 0.8, 1, "account_context",
             "new account / free trial / anonymising network"),
    RampSpec("account_trust", 0.3, 1.0, -1, "trust",
             "established contracted account (lowers risk)"),
    RampSpec("rerun_rate", 0.15, 0.5, -1, "trust",
             "share of prompts re-running items seen long ago: benchmark re-runs, not "
             "harvesting (lowers risk)"),
    # Models.
    RampSpec("drift_z", 4.0, 10.0, 1, "behaviour_change",
             "largest jump from this customer's own normal (z-score)"),
    RampSpec("population_outlier", 0.8, 0.97, 1, "population_outlier",
             "HalfSpaceTrees anomaly score against all customers"),
    RampSpec("cluster_evidence", 0.3, 0.9, 1, "hydra_cluster",
             "evidence pooled over accounts that act together"),
)
RAMP_BY_NAME = {r.name: r for r in RAMPS}


@dataclass(frozen=True, slots=True)
class Weights:
    """A fitted model: prior (intercept), one weight per signal, and how it was fitted."""

    prior: float
    weights: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": WEIGHTS_FORMAT, **self.meta, "prior": self.prior,
                "weights": {r.name: self.weights.get(r.name, 0.0) for r in RAMPS}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Weights:
        """Parse (and check) a weights document: every weight must respect its ramp's sign."""
        if data.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"not a {WEIGHTS_FORMAT} document")
        weights = {str(k): float(v) for k, v in dict(data["weights"]).items()}
        for name, w in weights.items():
            spec = RAMP_BY_NAME.get(name)
            if spec is None:
                raise ValueError(f"unknown signal {name!r}")
            if w * spec.sign < 0 or not math.isfinite(w):
                raise ValueError(f"weight of {name!r} has the wrong sign: {w}")
        meta = {k: v for k, v in data.items() if k not in ("format", "prior", "weights")}
        return cls(float(data["prior"]), weights, meta)


BOOTSTRAP_RESOURCE = "bootstrap-weights.json"


def load_weights(resource: str = WEIGHTS_RESOURCE) -> Weights:
    """Weights shipped in the package (``streamer/core/weights/``): the fitted ones, or with
    ``BOOTSTRAP_RESOURCE`` the hand-set table the first calibration round collects with."""
    text = resources.files("streamer.core.weights").joinpath(resource).read_text(
        encoding="utf-8")
    return Weights.from_json(json.loads(text))


def specs_for(weights: Weights) -> tuple[SignalSpec, ...]:
    return tuple(SignalSpec(r.name, r.lo, r.hi, weights.weights.get(r.name, 0.0), r.tactic,
                            r.description) for r in RAMPS)


WEIGHTS = load_weights()
PRIOR: float = WEIGHTS.prior
SIGNALS: tuple[SignalSpec, ...] = specs_for(WEIGHTS)
SIGNAL_BY_NAME = {s.name: s for s in SIGNALS}


def use_weights(weights: Weights) -> None:
    """Score with ``weights`` from now on, in this process (``streamer calibrate`` uses it to
    collect a second round of traffic with the first round's fit; the detector never does)."""
    global WEIGHTS, PRIOR, SIGNALS, SIGNAL_BY_NAME
    WEIGHTS, PRIOR, SIGNALS = weights, weights.prior, specs_for(weights)
    SIGNAL_BY_NAME = {s.name: s for s in SIGNALS}

#: Largest change (log-odds) one analyst verdict may make to any *other* customer's score.
MAX_VERDICT_SHIFT = 0.25
#: Largest total correction (log-odds at full ramp) feedback may make to one signal's weight.
MAX_OFFSET = 1.5
#: SGD learning rate of the feedback model (before the bound above is applied).
FEEDBACK_LEARNING_RATE = 0.5


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def logit(p: float) -> float:
    p = min(1 - 1e-12, max(1e-12, p))
    return math.log(p / (1 - p))


rank_of = rank  # severity ranks are defined once, in streamer.core.alerts


def severity_of(risk: float) -> str:
    """Severity name for a risk; ``none`` below *low*.

    >>> severity_of(0.7), severity_of(0.1)
    ('medium', 'none')
    """
    for name, threshold in SEVERITY_THRESHOLDS:
        if risk >= threshold:
            return name
    return "none"


def ramps(signals: Mapping[str, float]) -> dict[str, float]:
    """The non-zero evidence ramps of a set of signal values (what the weights multiply)."""
    out: dict[str, float] = {}
    for spec in RAMPS:
        value = signals.get(spec.name)
        if value is None:
            continue
        r = spec.ramp(value)
        if r > 0.0:
            out[spec.name] = r
    return out


@dataclass(slots=True)
class LearntOffsets:
    """What analyst verdicts taught the shared model: per-signal weight corrections.

    Plain data (floats in a dict, two counters) so any state codec can store it. Learning is
    one bounded logistic-regression SGD step per verdict (River's ``learn_one`` style): the
    step is scaled so that the sum of its absolute changes is at most ``MAX_VERDICT_SHIFT``
    — as every ramp is in [0, 1], no other customer's log-odds move by more than that — and
    every correction stays within ``±MAX_OFFSET`` and never flips a weight's sign.

    >>> lo = LearntOffsets()
    >>> shift = lo.learn_one({"logprob_probe_rate": 1.0, "logit_bias_rate": 1.0}, False, 0.9)
    >>> round(sum(abs(v) for v in shift.values()), 6) <= MAX_VERDICT_SHIFT
    True
    >>> lo.offsets["logprob_probe_rate"] < 0, lo.verdicts
    (True, 1)
    """

    offsets: dict[str, float] = field(default_factory=dict)
    verdicts: int = 0

    def learn_one(self, evidence: Mapping[str, float], confirmed: bool,
                  predicted: float) -> dict[str, float]:
        """One verdict on a customer whose ramps were ``evidence`` and risk ``predicted``;
        returns the changes applied (log-odds at full ramp, per signal)."""
        error = (1.0 if confirmed else 0.0) - min(1.0, max(0.0, predicted))
        step = {n: FEEDBACK_LEARNING_RATE * error * min(1.0, max(0.0, r))
                for n, r in evidence.items() if n in SIGNAL_BY_NAME}
        total = sum(abs(v) for v in step.values())
        if total > MAX_VERDICT_SHIFT:
            step = {n: v * MAX_VERDICT_SHIFT / total for n, v in step.items()}
        applied: dict[str, float] = {}
        for name, delta in step.items():
            base = SIGNAL_BY_NAME[name].weight
            old = self.offsets.get(name, 0.0)
            new = min(MAX_OFFSET, max(-MAX_OFFSET, old + delta))
            if (base + new) * RAMP_BY_NAME[name].sign < 0:
                new = -base  # never flip a weight's sign: evidence stays evidence
            if new != old:
                self.offsets[name] = new
                applied[name] = new - old
        self.verdicts += 1
        return applied


_ROWS: list[Any] = [None, ()]


def _rows() -> tuple[tuple[str, float, float, float], ...]:
    """(name, lo, hi - lo, fitted weight) of every ramp, for the current :data:`SIGNALS`."""
    if _ROWS[0] is not SIGNAL_BY_NAME:
        _ROWS[:] = [SIGNAL_BY_NAME, tuple((r.name, r.lo, r.hi - r.lo, SIGNAL_BY_NAME[r.name].weight)
                                          for r in RAMPS)]
    rows: tuple[tuple[str, float, float, float], ...] = _ROWS[1]
    return rows


def _contributions(signals: Mapping[str, float], offset: float,
                   damped: Mapping[str, float] | None,
                   learnt: Mapping[str, float] | None) -> tuple[float, list[tuple[str, float]]]:
    """Log-odds total and the non-zero (signal, contribution) pairs in :data:`RAMPS` order:
    the one definition of the model that :func:`score` and :func:`risk_of` share (the ramp
    sum itself is a kernel, :func:`streamer.core.kernels.contributions`)."""
    parts: list[tuple[str, float]] = []
    return _log_odds(signals, offset, damped, learnt, parts), parts


def _log_odds(signals: Mapping[str, float], offset: float,
              damped: Mapping[str, float] | None, learnt: Mapping[str, float] | None,
              parts: list[tuple[str, float]] | None) -> float:
    return _kernel_contributions(_as_dict(signals), _rows(), PRIOR + offset,
                                 _as_dict(learnt) if learnt else None,
                                 _as_dict(damped) if damped else None, parts)


def _as_dict(m: Mapping[str, float]) -> dict[str, float]:
    return m if isinstance(m, dict) else dict(m)


def risk_of(signals: Mapping[str, float], offset: float = 0.0,
            damped: Mapping[str, float] | None = None,
            learnt: Mapping[str, float] | None = None) -> float:
    """The risk :func:`score` gives, without building its reasons (the per-event fast path).

    >>> s = {"logprob_probe_rate": 0.6, "logit_bias_rate": 0.3, "account_risk": 0.5}
    >>> risk_of(s, 0.5, {"logit_bias_rate": 0.5}) == score(s, {}, 0.5, {"logit_bias_rate": 0.5})[0]
    True
    """
    return sigmoid(_log_odds(signals, offset, damped, learnt, None))


def score(
    signals: Mapping[str, float],
    baselines: Mapping[str, float] | Callable[[str], float],
    offset: float = 0.0,
    damped: Mapping[str, float] | None = None,
    learnt: Mapping[str, float] | None = None,
) -> tuple[float, list[Reason]]:
    """Risk and reasons (strongest first) for one set of signal values.

    ``offset`` shifts the log-odds (this customer's analyst feedback); ``damped`` scales single
    signals' weights (a pattern an analyst marked as a false positive for this customer);
    ``learnt`` adds the shared corrections taught by verdicts (:class:`LearntOffsets`).
    """
    if callable(baselines):
        baseline = baselines
    else:
        table = baselines

        def baseline(name: str) -> float:
            return table.get(name, SIGNAL_BY_NAME[name].lo)

    total, parts = _contributions(signals, offset, damped, learnt)
    reasons = [Reason(signal=name, value=round(float(signals[name]), 4),
                      baseline=round(float(baseline(name)), 4), contribution=contribution,
                      description=SIGNAL_BY_NAME[name].description)
               for name, contribution in parts]
    reasons.sort(key=lambda r: -abs(r.contribution))
    return sigmoid(total), reasons


def tactics_of(reasons: list[Reason], min_contribution: float = 0.75) -> tuple[str, ...]:
    """Distinct tactics behind the reasons that contribute at least ``min_contribution``
    log-odds. Pooled cluster evidence names ``hydra_cluster`` whenever it contributes at all:
    the cluster stage has already vouched for the cluster (its ramp starts above ``lo``)."""
    out: list[str] = []
    for r in reasons:
        tactic = SIGNAL_BY_NAME[r.signal].tactic
        strong = r.contribution >= min_contribution or (
            tactic == "hydra_cluster" and r.contribution > 0)
        if strong and tactic not in out and tactic != "trust":
            out.append(tactic)
    return tuple(out)
