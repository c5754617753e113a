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
from hashlib import blake2b as _blake2b
from itertools import islice

from streamer.core import kernels
from streamer.core.events import InferenceEvent
from streamer.core.fingerprints import (
    RotatingBloom,
    nearest_distance,
    prompt_fingerprint,
    prompt_fingerprints,
)
from streamer.core.markers import TOPICS, PromptMarkers, prompt_markers

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
_N_INDICATORS = len(INDICATORS)
(_TEMPLATED, _NOVEL, _HARVEST, _COT, _RUBRIC, _RUBRIC_RATIONALE, _SELF_INSTRUCT, _LOGPROB_PROBE,
 _LOGIT_BIAS, _MULTI_SAMPLE, _SATURATED, _TOOL_USE, _LOG_OUTPUT, _LOG_INPUT, _REASONING_SHARE,
 _NEW_MODEL, _HAS_TEXT, _ERROR, _RERUN) = range(_N_INDICATORS)
_TOPIC_INDEX = {name: i for i, name in enumerate(TOPICS)}
_OK_STATUSES = frozenset({"ok", "success"})
ALPHA = 1.0 / 24.0  # EW memory of about 24 events
_DECAY = 1.0 - ALPHA
RECENT_PROMPTS = 48
MAX_TEMPLATES = 24
MAX_SETTINGS = 12
NEAR_DUPLICATE_BITS = 4
RATE_HALF_LIFE_MS = 3_600_000
HOUR_MS = 3_600_000
NEW_MODEL_MS = 24 * HOUR_MS


#: Cap of the per-prompt cache (digest of the text -> fingerprint and markers); oldest first out.
PROMPT_CACHE_MAX = 1 << 13
_prompt_cache: dict[bytes, tuple[int, int, int, PromptMarkers]] = {}
_prompt_cache_hits = [0, 0]  # hits, misses


def prompt_features(prompt: str) -> tuple[int, int, int, PromptMarkers]:
    """``(*prompt_fingerprint(prompt), prompt_markers(prompt))``, remembered for the last
    :data:`PROMPT_CACHE_MAX` distinct prompts (retries, benchmark re-runs and fixed wrappers
    repeat whole prompts). The cache is keyed by a 128-bit BLAKE2b digest of the text and keeps
    only derived numbers, never the text.

    >>> a = prompt_features("Think step by step: what is 2 + 2?")
    >>> a == (*prompt_fingerprint("Think step by step: what is 2 + 2?"),
    ...       prompt_markers("Think step by step: what is 2 + 2?"))
    True
    >>> prompt_features("Think step by step: what is 2 + 2?") is a
    True
    """
    key = _blake2b(prompt.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    hit = _prompt_cache.get(key)
    if hit is not None:
        _prompt_cache_hits[0] += 1
        return hit
    _prompt_cache_hits[1] += 1
    if len(_prompt_cache) >= PROMPT_CACHE_MAX:
        _make_room()
    value = _prompt_cache[key] = (*prompt_fingerprint(prompt), prompt_markers(prompt))
    return value


def _make_room() -> None:
    """Drop the oldest eighth of the full per-prompt cache at once. (One at a time, each
    ``next(iter(cache))`` walked past every slot deleted since the dict last compacted: about
    2 µs an insertion at the cap, against 0.2 µs.)"""
    excess = len(_prompt_cache) - PROMPT_CACHE_MAX + max(1, PROMPT_CACHE_MAX // 8)
    for key in list(islice(_prompt_cache, excess)):
        del _prompt_cache[key]


def prefetch_prompts(prompts: list[str]) -> int:
    """Put the features of a batch's prompts in the per-prompt cache, their SimHashes computed
    together (:func:`~streamer.core.fingerprints.prompt_fingerprints`); returns how many were
    computed. Optional: :meth:`CustomerProfile.learn_one` computes what is missing itself, with
    the same values. Call it with at most :data:`PROMPT_CACHE_MAX` prompts.

    >>> prefetch_prompts(["Solve step by step: 2 + 2", "Solve step by step: 2 + 2", ""])
    1
    >>> prompt_features("Solve step by step: 2 + 2")[3].cot
    True
    """
    todo: dict[bytes, str] = {}
    for prompt in prompts:
        if prompt:
            key = _blake2b(prompt.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if key not in _prompt_cache:
                todo[key] = prompt
    if not todo:
        return 0
    texts = list(todo.values())
    for key, text, fingerprint in zip(todo, texts, prompt_fingerprints(texts), strict=True):
        if len(_prompt_cache) >= PROMPT_CACHE_MAX:
            _make_room()
        _prompt_cache[key] = (*fingerprint, prompt_markers(text))
    return len(texts)


def prompt_cache_clear() -> None:
    """Empty the per-prompt cache and zero its counters (benchmarks measure it cold)."""
    _prompt_cache.clear()
    _prompt_cache_hits[:] = [0, 0]


def prompt_cache_stats() -> dict[str, int]:
    """Size, cap, hits and misses of the per-prompt cache (a metric of bounded state)."""
    return {"size": len(_prompt_cache), "cap": PROMPT_CACHE_MAX,
            "hits": _prompt_cache_hits[0], "misses": _prompt_cache_hits[1]}


#: Count one more of a key in a capped dict, evicting the smallest: a kernel
#: (:func:`streamer.core.kernels.bump`).
_bump = kernels.bump
#: Decays, sums and entropies of the profile's numbers: kernels as well.
_scale, _ew_fold, _entropy, _divided, _count_above = (
    kernels.scale, kernels.ew_fold, kernels.entropy, kernels.divided, kernels.count_above)


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

    def rates(self) -> list[float]:
        """:meth:`rate` of every indicator, in :data:`INDICATORS` order."""
        w = self.weight
        return _divided(self.sums, w) if w else [0.0] * _N_INDICATORS

    def learn_one(self, event: InferenceEvent, model_age_ms: int | None) -> dict[str, float]:
        """Fold one event in; return its indicator values by name."""
        return dict(zip(INDICATORS, self.fold(event, model_age_ms), strict=True))

    def fold(self, event: InferenceEvent, model_age_ms: int | None) -> list[float]:
        """Fold one event in; return its indicator values in :data:`INDICATORS` order (what
        :meth:`learn_one` returns, without building a dict: the per-event path)."""
        x = [0.0] * _N_INDICATORS
        sim: int | None = event.prompt_simhash
        prompt = event.prompt
        if prompt:
            sim, pre, suf, marks = prompt_features(prompt)
            if marks.cot:
                x[_COT] = 1.0
            if marks.rubric:
                x[_RUBRIC] = 1.0
                if event.output_tokens >= 150:
                    x[_RUBRIC_RATIONALE] = 1.0
            if marks.self_instruct:
                x[_SELF_INSTRUCT] = 1.0
            topics = self.topics
            _scale(topics, _DECAY)
            topics[_TOPIC_INDEX[marks.topic]] += 1.0
            if pre:
                seen = max(_bump(self.templates, pre, MAX_TEMPLATES),
                           _bump(self.templates, suf, MAX_TEMPLATES))
                if seen >= 1.0:
                    x[_TEMPLATED] = 1.0
        if sim is not None:
            x[_HAS_TEXT] = 1.0
            recent = self.recent
            if nearest_distance(sim, recent) > NEAR_DUPLICATE_BITS:
                x[_NOVEL] = 1.0
                if sim in self.seen_long:
                    x[_RERUN] = 1.0
            self.seen_long.add(sim)
            recent.append(sim)
            if len(recent) > RECENT_PROMPTS:
                del recent[0]
        x[_HARVEST] = x[_TEMPLATED] * x[_NOVEL]
        max_tokens = event.max_tokens
        output_tokens = event.output_tokens
        if event.logprobs and ((max_tokens is not None and max_tokens <= 5)
                               or output_tokens <= 3):
            x[_LOGPROB_PROBE] = 1.0
        if (event.logit_bias_count or 0) > 0:
            x[_LOGIT_BIAS] = 1.0
        if (event.n or 1) > 1:
            x[_MULTI_SAMPLE] = 1.0
        if max_tokens is not None and max_tokens >= 256 and output_tokens >= 0.9 * max_tokens:
            x[_SATURATED] = 1.0
        if (event.tool_count or 0) > 0:
            x[_TOOL_USE] = 1.0
        x[_LOG_OUTPUT] = math.log1p(output_tokens)
        x[_LOG_INPUT] = math.log1p(event.input_tokens)
        if event.reasoning_tokens:
            x[_REASONING_SHARE] = min(1.0, event.reasoning_tokens / max(1, output_tokens))
        if model_age_ms is not None and model_age_ms < NEW_MODEL_MS:
            x[_NEW_MODEL] = 1.0
        if event.status is not None and event.status not in _OK_STATUSES:
            x[_ERROR] = 1.0
        setting = f"{event.temperature}|{event.top_p}|{event.n}|{event.top_logprobs}"
        settings = self.settings
        _scale(settings, _DECAY)
        _bump(settings, setting, MAX_SETTINGS)

        self.weight = self.weight * _DECAY + 1.0
        self.sums = _ew_fold(self.sums, x, _DECAY)
        self._learn_timing(event.ts_ms)
        self.n += 1
        return x

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
        # h >= 0 and now_hour - h < 24, i.e. h > max(-1, now_hour - 24)
        floor = max(-1, self.last_ts_ms // HOUR_MS - 24)
        return _count_above(self.hour_last_seen, floor)

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
        return _entropy(self.settings)
