"""From signals to an explained risk in 0..1.

Each signal has an evidence ramp: no contribution at or below ``lo`` (what ordinary traffic
shows), the full ``weight`` (in log-odds) at or above ``hi``. The risk is
``sigmoid(PRIOR + Σ contributions)``; the prior puts an account with no evidence at ~0.1 %.
Evidence must come from several independent families before an alert reaches *medium*: every
single family's weight is below the distance from the prior to the medium threshold.
Account trust (an old contracted account) subtracts evidence; analyst feedback adjusts it.

Coercion markers alone are not enough for an alert; with harvested long answers from a
brand-new account they are:

>>> sig = {"harvest_rate": 0.9, "cot_rate": 0.8, "novel_rate": 0.95}
>>> risk, reasons = score(sig, baselines={})
>>> severity_of(risk), reasons[0].signal
('none', 'cot_rate')
>>> risk, reasons = score({**sig, "mean_log_output": 6.8, "account_risk": 0.8}, baselines={})
>>> severity_of(risk), [r.signal for r in reasons][:3]
('high', ['cot_rate', 'mean_log_output', 'account_risk'])
>>> score({}, baselines={})[0] < 0.01
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streamer.core.outputs import Reason

PRIOR = -7.0
SEVERITY_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("critical", 0.95),
    ("high", 0.85),
    ("medium", 0.6),
    ("low", 0.3),
)


@dataclass(frozen=True, slots=True)
class SignalSpec:
    name: str
    lo: float
    hi: float
    weight: float
    tactic: str
    description: str


SIGNALS: tuple[SignalSpec, ...] = (
    # What is asked: coercion and harvesting markers.
    SignalSpec("cot_rate", 0.1, 0.5, 3.0, "cot_coercion",
               "share of prompts coercing step-by-step reasoning traces"),
    SignalSpec("rubric_rationale_rate", 0.2, 0.6, 3.0, "rubric_grading",
               "share of rubric/grading prompts answered with long rationales"),
    SignalSpec("self_instruct_rate", 0.05, 0.3, 3.0, "self_instruct",
               "share of prompts asking for new questions/tasks in bulk"),
    SignalSpec("harvest_rate", 0.3, 0.8, 1.5, "capability_sweep",
               "share of prompts that wrap novel content in a repeated template"),
    SignalSpec("mean_log_output", 5.3, 6.3, 2.5, "capability_sweep",
               "mean log(1 + output tokens): long answers being harvested"),
    SignalSpec("novel_rate", 0.9, 0.99, 0.5, "capability_sweep",
               "share of prompts with no near-duplicate among recent ones"),
    SignalSpec("topic_entropy", 2.0, 2.8, 0.5, "capability_sweep",
               "entropy (bits) of prompt topics: breadth of capability coverage"),
    SignalSpec("reasoning_share", 0.85, 0.97, 0.5, "cot_coercion",
               "reasoning tokens as a share of output"),
    SignalSpec("tool_code_focus", 0.6, 0.95, 1.0, "narrow_capability",
               "share of traffic that is tool use or code on a narrow focus"),
    # How the API is used.
    SignalSpec("logprob_probe_rate", 0.2, 0.7, 1.0, "logprob_harvest",
               "share of requests probing log-probabilities with tiny completions"),
    SignalSpec("logit_bias_rate", 0.05, 0.4, 2.0, "logprob_harvest",
               "share of requests carrying logit_bias"),
    SignalSpec("settings_entropy", 1.0, 2.5, 1.5, "logprob_harvest",
               "entropy (bits) of sampling settings: temperature/n sweeps"),
    SignalSpec("saturated_rate", 0.3, 0.8, 0.5, "capability_sweep",
               "share of answers that hit a large max_tokens"),
    SignalSpec("new_model_rate", 0.5, 0.9, 1.0, "release_chasing",
               "share of traffic moved to a model released within a day"),
    # When and how much.
    SignalSpec("machine_pacing", 0.4, 0.85, 2.0, "automation",
               "regularity of inter-arrival times (1 - coefficient of variation)"),
    SignalSpec("error_rate", 0.02, 0.05, 1.0, "automation",
               "share of failed requests: scripts pushing against rate limits"),
    SignalSpec("requests_per_hour", 300.0, 3000.0, 0.5, "volume",
               "request rate (per hour, 1 h half-life)"),
    # Who is asking.
    SignalSpec("account_risk", 0.2, 0.8, 2.5, "account_context",
               "new account / free trial / anonymising network"),
    SignalSpec("account_trust", 0.3, 1.0, -3.0, "trust",
               "established contracted account (lowers risk)"),
    SignalSpec("rerun_rate", 0.15, 0.5, -2.5, "trust",
               "share of prompts re-running items seen long ago: benchmark re-runs, not "
               "harvesting (lowers risk)"),
    # Models.
    SignalSpec("drift_z", 4.0, 10.0, 1.5, "behaviour_change",
               "largest jump from this customer's own normal (z-score)"),
    SignalSpec("population_outlier", 0.8, 0.97, 1.0, "population_outlier",
               "HalfSpaceTrees anomaly score against all customers"),
    SignalSpec("cluster_evidence", 0.3, 0.9, 4.0, "hydra_cluster",
               "evidence pooled over accounts that act together"),
)
SIGNAL_BY_NAME = {s.name: s for s in SIGNALS}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def severity_of(risk: float) -> str:
    """Severity name for a risk; ``none`` below *low*.

    >>> severity_of(0.7), severity_of(0.1)
    ('medium', 'none')
    """
    for name, threshold in SEVERITY_THRESHOLDS:
        if risk >= threshold:
            return name
    return "none"


def score(
    signals: Mapping[str, float],
    baselines: Mapping[str, float] | Callable[[str], float],
    offset: float = 0.0,
    damped: Mapping[str, float] | None = None,
) -> tuple[float, list[Reason]]:
    """Risk and reasons (strongest first) for one set of signal values.

    ``offset`` shifts the log-odds (analyst feedback); ``damped`` scales single signals' weights
    (a pattern an analyst marked as a false positive for this customer).
    """
    total = PRIOR + offset
    reasons: list[Reason] = []
    if callable(baselines):
        baseline = baselines
    else:
        table = baselines

        def baseline(name: str) -> float:
            return table.get(name, SIGNAL_BY_NAME[name].lo)

    for spec in SIGNALS:
        value = signals.get(spec.name)
        if value is None:
            continue
        ramp = min(1.0, max(0.0, (value - spec.lo) / (spec.hi - spec.lo)))
        if ramp <= 0.0:
            continue
        contribution = spec.weight * ramp * (damped or {}).get(spec.name, 1.0)
        total += contribution
        reasons.append(Reason(
            signal=spec.name, value=round(float(value), 4),
            baseline=round(float(baseline(spec.name)), 4),
            contribution=round(contribution, 4), description=spec.description,
        ))
    reasons.sort(key=lambda r: -abs(r.contribution))
    return sigmoid(total), reasons


def tactics_of(reasons: list[Reason], min_contribution: float = 0.75) -> tuple[str, ...]:
    """Distinct tactics behind the reasons that contribute at least ``min_contribution``."""
    out: list[str] = []
    for r in reasons:
        tactic = SIGNAL_BY_NAME[r.signal].tactic
        if r.contribution >= min_contribution and tactic not in out and tactic != "trust":
            out.append(tactic)
    return tuple(out)
