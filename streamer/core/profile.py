"""Per-customer behavioural profile: bounded, updated once per event, no text kept.

The profile holds exponentially weighted rates of per-event indicators (how often prompts are
templated-but-novel, carry chain-of-thought coercion, probe log-probabilities …), a small ring of
recent prompt SimHashes, template-signature counts, timing and sampling-setting statistics.
Everything is capped, so a profile stays a few kilobytes however long a customer lives.

>>> from streamer.core.events import InferenceEvent
>>> p = CustomerProfile()
>>> for i in range(30):
...     _ = p.learn_one(InferenceEvent(event_id=str(i), ts_ms=1_000_000 + i * 2000, customer_id="c",
...         model="m", input_tokens=50, output_tokens=900, max_tokens=1000,
...         prompt=f"Think step by step and show your reasoning. Question {i}: what is {i} +"
...                f" {i * 7}"
...                f" apples and {i * 3} pears, {'x' * (i % 5)} total ?"), model_age_ms=None)
>>> round(p.rate("cot"), 2) > 0.9, p.n
(True, 30)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from streamer.core.events import InferenceEvent
from streamer.core.fingerprints import (
    RotatingBloom,
    nearest_distance,
    simhash64,
    template_signatures,
)
from streamer.core.markers import TOPICS, prompt_markers

#: Per-event indicators whose exponentially weighted rate the profile keeps.
INDICATORS: tuple[str, ...] = (
    "templated",  # the prompt's wrapper (first/last words) was seen before
    "novel",  # no near-duplicate among the recent prompts
    "harvest",  # templated wrapper around novel content
    "cot",  # chain-of-thought / reasoning-trace coercion
    "rubric",  # rubric / grading prompt
    "rubric_rationale",  # rubric prompt answered at length (rationale harvesting)
    "self_instruct",  # "write N new questions like …"
    "logprob_probe",  # logprobs with a tiny completion: distribution harvesting
    "logit_bias",  # logit_bias present
    "multi_sample",  # n > 1
    "saturated",  # output hit a large max_tokens
    "tool_use",  # tools offered
    "log_output",  # log(1 + output tokens)
    "log_input",  # log(1 + input tokens)
    "reasoning_share",  # reasoning tokens / output tokens
    "new_model",  # request to a model released within the last day
    "has_text",  # prompt text (or simhash) was available
    "error",  # the request failed (rate limits, refusals): scrapers push against limits
    "rerun",  # not among the recent prompts but seen long ago: a benchmark being re-run
)
_IDX = {name: i for i, name in enumerate(INDICATORS)}
ALPHA = 1.0 / 24.0  # EW memory of about 24 events
RECENT_PROMPTS = 48
MAX_TEMPLATES = 24
MAX_SETTINGS = 12
NEAR_DUPLICATE_BITS = 4
RATE_HALF_LIFE_MS = 3_600_000
HOUR_MS = 3_600_000
NEW_MODEL_MS = 24 * HOUR_MS


def _bump(counts: dict[int, float] | dict[str, float], key: int | str, cap: int) -> float:
    """Increment ``counts[key]`` (evicting the smallest entry past ``cap``); return old count."""
    old = counts.get(key, 0.0)  # type: ignore[arg-type]
    counts[key] = old + 1.0  # type: ignore[index]
    if len(counts) > cap:
        smallest = min(counts, key=counts.__getitem__)  # type: ignore[arg-type]
        del counts[smallest]  # type: ignore[arg-type]
    return old


@dataclass(slots=True)
class CustomerProfile:
    """A customer's recent behaviour (see module docstring)."""

    n: int = 0
    weight: float = 0.0
    sums: list[float] = field(default_factory=lambda: [0.0] * len(INDICATORS))
    topics: list[float] = field(default_factory=lambda: [0.0] * len(TOPICS))
    recent: list[int] = field(default_factory=list)
    templates: dict[int, float] = field(default_factory=dict)
    settings: dict[str, float] = field(default_factory=dict)
    last_ts_ms: int = 0
    gap_mean_s: float = 0.0
    gap_sq_s: float = 0.0
    gap_n: int = 0
    decayed_count: float = 0.0
    hour_last_seen: list[int] = field(default_factory=lambda: [-1] * 24)
    first_ts_ms: int = 0
    seen_long: RotatingBloom = field(default_factory=RotatingBloom)

    def rate(self, indicator: str) -> float:
        """Exponentially weighted mean of one indicator over recent events."""
        return self.sums[_IDX[indicator]] / self.weight if self.weight else 0.0

    def learn_one(self, event: InferenceEvent, model_age_ms: int | None) -> dict[str, float]:
        """Fold one event in; return its indicator values (for window aggregation)."""
        x = dict.fromkeys(INDICATORS, 0.0)
        sim: int | None = event.prompt_simhash
        if event.prompt:
            sim = simhash64(event.prompt)
            marks = prompt_markers(event.prompt)
            x["cot"] = float(marks.cot)
            x["rubric"] = float(marks.rubric)
            x["rubric_rationale"] = float(marks.rubric and event.output_tokens >= 150)
            x["self_instruct"] = float(marks.self_instruct)
            self._decay_topics()
            self.topics[TOPICS.index(marks.topic)] += 1.0
            pre, suf = template_signatures(event.prompt)
            if pre:
                seen = max(_bump(self.templates, pre, MAX_TEMPLATES),
                           _bump(self.templates, suf, MAX_TEMPLATES))
                x["templated"] = float(seen >= 1.0)
        if sim is not None:
            x["has_text"] = 1.0
            x["novel"] = float(nearest_distance(sim, self.recent) > NEAR_DUPLICATE_BITS)
            x["rerun"] = float(bool(x["novel"]) and sim in self.seen_long)
            self.seen_long.add(sim)
            self.recent.append(sim)
            if len(self.recent) > RECENT_PROMPTS:
                del self.recent[0]
        x["harvest"] = x["templated"] * x["novel"]
        small = (event.max_tokens is not None and event.max_tokens <= 5) or event.output_tokens <= 3
        x["logprob_probe"] = float(bool(event.logprobs) and small)
        x["logit_bias"] = float((event.logit_bias_count or 0) > 0)
        x["multi_sample"] = float((event.n or 1) > 1)
        x["saturated"] = float(
            event.max_tokens is not None and event.max_tokens >= 256
            and event.output_tokens >= 0.9 * event.max_tokens
        )
        x["tool_use"] = float((event.tool_count or 0) > 0)
        x["log_output"] = math.log1p(event.output_tokens)
        x["log_input"] = math.log1p(event.input_tokens)
        if event.reasoning_tokens:
            x["reasoning_share"] = min(1.0, event.reasoning_tokens / max(1, event.output_tokens))
        x["new_model"] = float(model_age_ms is not None and model_age_ms < NEW_MODEL_MS)
        x["error"] = float(event.status is not None and event.status not in {"ok", "success"})
        setting = f"{event.temperature}|{event.top_p}|{event.n}|{event.top_logprobs}"
        for k in self.settings:
            self.settings[k] *= 1.0 - ALPHA
        _bump(self.settings, setting, MAX_SETTINGS)

        self.weight = self.weight * (1.0 - ALPHA) + 1.0
        for i, name in enumerate(INDICATORS):
            self.sums[i] = self.sums[i] * (1.0 - ALPHA) + x[name]
        self._learn_timing(event.ts_ms)
        self.n += 1
        return x

    def _decay_topics(self) -> None:
        for i in range(len(self.topics)):
            self.topics[i] *= 1.0 - ALPHA

    def _learn_timing(self, ts_ms: int) -> None:
        if self.n == 0:
            self.first_ts_ms = ts_ms
        elif ts_ms >= self.last_ts_ms:
            gap = (ts_ms - self.last_ts_ms) / 1000.0
            a = ALPHA if self.gap_n >= 8 else 1.0 / (self.gap_n + 1)
            self.gap_mean_s += a * (gap - self.gap_mean_s)
            self.gap_sq_s += a * (gap * gap - self.gap_sq_s)
            self.gap_n += 1
        if ts_ms >= self.last_ts_ms:
            dt = ts_ms - self.last_ts_ms if self.n else 0
            self.decayed_count = self.decayed_count * 0.5 ** (dt / RATE_HALF_LIFE_MS) + 1.0
            self.last_ts_ms = ts_ms
        else:
            self.decayed_count += 1.0
        self.hour_last_seen[(ts_ms // HOUR_MS) % 24] = ts_ms // HOUR_MS

    # --- derived quantities -------------------------------------------------------------

    def requests_per_hour(self) -> float:
        """Decayed request count with a one-hour half-life, as requests per hour."""
        return self.decayed_count * math.log(2)

    def inter_arrival_cv(self) -> float:
        """Coefficient of variation of recent inter-arrival gaps (1 ≈ Poisson, ≪1 ≈ machine)."""
        if self.gap_n < 8 or self.gap_mean_s <= 0:
            return 1.0
        var = max(0.0, self.gap_sq_s - self.gap_mean_s**2)
        return math.sqrt(var) / self.gap_mean_s

    def active_hours_last_day(self) -> int:
        """Distinct clock hours with traffic among the last 24 hours."""
        now_hour = self.last_ts_ms // HOUR_MS
        return sum(1 for h in self.hour_last_seen if h >= 0 and now_hour - h < 24)

    def observed_hours(self) -> float:
        return (self.last_ts_ms - self.first_ts_ms) / HOUR_MS

    def top_templates(self, k: int) -> list[int]:
        """The ``k`` most used template signatures that repeated (count >= 2)."""
        ranked = sorted(self.templates.items(), key=lambda kv: (-kv[1], kv[0]))
        return [sig for sig, count in ranked[:k] if count >= 2.0]

    def topic_entropy(self) -> float:
        """Shannon entropy (bits) of the recent coarse topic mix."""
        return _entropy(self.topics)

    def settings_entropy(self) -> float:
        """Shannon entropy (bits) of recent sampling settings (temperature, top_p, n, logprobs)."""
        return _entropy(list(self.settings.values()))


def _entropy(weights: list[float]) -> float:
    total = sum(weights)
    if total <= 0:
        return 0.0
    return -sum(w / total * math.log2(w / total) for w in weights if w > 0)
