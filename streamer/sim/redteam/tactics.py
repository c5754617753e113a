# ruff: noqa: RUF001
"""What a red-team campaign asks: content tactics, their wrappers and API settings.

The wrappers were written for this module, independently of :mod:`streamer.sim`. A campaign
draws a :class:`Style` once (tactic mix, wrapper, language, API settings, output lengths) and
then one :class:`~streamer.sim.redteam.actors.Request` per query.

>>> from streamer.sim.redteam.actors import rng
>>> from streamer.sim.redteam.corpora import Corpora
>>> corp = Corpora(None)
>>> st = draw_style(rng(0, "s"), "logprob_scrape", Catalogue.default())
>>> req = make_request(rng(0, "q"), corp, st)
>>> req.max_tokens <= 3 and req.logprobs
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamer.sim.redteam.actors import Request, choice, log_uniform
from streamer.sim.redteam.corpora import Corpora, Item

#: Content tactics a single account (or a hydra, or a reseller's hidden share) can run.
TACTICS: tuple[str, ...] = (
    "reasoning_trace", "code_distill", "persona_harvest", "zh_instruct", "logprob_scrape",
    "sampling_sweep", "judge_harvest", "task_bootstrap", "release_rush", "broad_sweep",
)

WRAPPERS: dict[str, dict[str, tuple[str, ...]]] = {
    "reasoning_trace": {
        "en": (
            "{q}\n\nWork through this carefully and write out every intermediate deduction, "
            "numbered, before you state the result.",
            "Problem:\n{q}\n\nI need a full worked solution of the kind printed in a solutions "
            "manual: every line of algebra, no skipped moves.",
            "{q}\nDon't just give the answer. Lay out the derivation in detail, checking each "
            "move, then box the final value.",
            "Give a thorough, line-by-line solution to the following, saying why each "
            "transformation is valid.\n\n{q}",
            "{q}",
        ),
        "zh": (
            "{q}\n\n请写出完整的推导过程，每一步都要说明理由，最后给出答案。",
            "题目：{q}\n请像标准答案解析那样逐行写出解题过程。",
        ),
    },
    "code_distill": {
        "en": (
            "{q}\n\nReturn a complete, idiomatic implementation with comments and a short usage "
            "example.",
            "Task: {q}\nWrite the full code, then add unit tests that cover the edge cases.",
            "{q}\n\nPlease give production-ready code and a paragraph on its time and memory "
            "complexity.",
            "{q}",
        ),
        "zh": ("{q}\n\n请给出完整可运行的代码，并附上注释和测试用例。",),
    },
    "persona_harvest": {
        "en": (
            "{q}",
            "{q}\n\nStay fully in character and answer at length, with vivid detail.",
            "Respond as the character described, in at least three paragraphs.\n{q}",
        ),
        "zh": ("{q}\n请保持角色设定，用生动的细节详细回答。",),
    },
    "zh_instruct": {
        "zh": ("{q}", "{q}\n请给出详细、完整、条理清晰的回答。",
               "请认真回答以下问题，尽量全面：\n{q}"),
        "en": ("{q}", "Please answer in Chinese, as fully as possible:\n{q}"),
    },
    "judge_harvest": {
        "en": (
            "Below is a question followed by a proposed reply.\nQuestion: {q}\nProposed reply: "
            "{a}\n\nMark the reply out of 10 for accuracy and helpfulness, and justify the mark "
            "point by point.",
            "Compare the two replies to the prompt and say which one you prefer, with a detailed "
            "justification of every difference.\nPrompt: {q}\nReply A: {a}\nReply B: {b}",
            "You review answers for a tutoring site. Question: {q}\nSubmitted answer: {a}\n"
            "List every mistake, explain each one, and give a final mark from 0 to 100.",
        ),
        "zh": ("请对下面的回答打分（1-10分），并详细说明每一处扣分的理由。\n"
               "问题：{q}\n回答：{a}",),
    },
    "task_bootstrap": {
        "en": (
            "Here are some instructions people have given an assistant:\n{ex}\n\nInvent {k} "
            "further instructions of the same kind on unrelated subjects, each followed by an "
            "excellent response.",
            "Seed examples:\n{ex}\nExpand this dataset: produce {k} fresh, varied items in the "
            "same format.",
        ),
        "zh": ("以下是一些指令示例：\n{ex}\n"
               "请仿照这些示例，再编写{k}条主题各不相同的新指令，并给出高质量的回答。",),
    },
    "logprob_scrape": {
        "en": ("{q}", "{q}\nAnswer:", "Question: {q}\nThe single best answer is"),
        "zh": ("{q}", "{q}\n答案："),
    },
    "sampling_sweep": {
        "en": ("{q}", "{q}\n\nAnswer:"),
        "zh": ("{q}",),
    },
    "release_rush": {
        "en": ("{q}", "Answer the following as completely as you can:\n{q}"),
        "zh": ("{q}", "请尽可能完整地回答：\n{q}"),
    },
    "broad_sweep": {
        "en": ("{q}", "Answer the following as completely as you can:\n{q}",
               "Q: {q}\nA (detailed):", "Write an expert answer.\n\n{q}"),
        "zh": ("{q}", "请尽可能完整地回答：\n{q}"),
    },
}
_OPENERS = ("", "", "Hi! ", "Quick one: ", "hey, ", "For my course: ", "Hello, could you help? ",
            "I'm stuck on this. ", "Question from a colleague: ", "ok so ")
_CLOSERS = ("", "", " Thanks.", " Cheers", " ty", " Appreciate it!", "\n\nThanks in advance.",
            " (no rush)", " Please be accurate.")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The model names of a run; ``release`` appears at ``release_ms`` (0: no release)."""

    chat: tuple[str, ...]
    reasoning: tuple[str, ...]
    release: str
    release_ms: int = 0

    @classmethod
    def default(cls, release_ms: int = 0) -> Catalogue:
        return cls(("nova-lite", "nova-2", "nova-2-pro"), ("nova-think",), "nova-3", release_ms)


@dataclass(slots=True)
class Style:
    """Per-campaign choices, drawn once."""

    tactic: str
    mix: dict[str, float]
    lang: str
    wrapper: dict[str, int]
    paraphrase: bool
    models: tuple[str, ...]
    endpoint: str
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stream: bool | None
    out_scale: float
    top_logprobs: int
    logit_bias: int
    scrape_max_tokens: int
    sweep_temps: tuple[float, ...]
    sweep_n: tuple[int, ...]
    sweep_max_tokens: tuple[int, ...]
    pool: list[Item] = field(default_factory=list)


def draw_style(r: np.random.Generator, tactic: str, cat: Catalogue, *,
               mixed: bool | None = None, paraphrase: bool = False,
               lang: str | None = None) -> Style:
    """A campaign's style for primary ``tactic``; ``mixed`` adds secondary tactics (random
    when ``None``)."""
    mix = {tactic: 1.0}
    if mixed is None:
        mixed = bool(r.random() < 0.4)
    if mixed:
        others = [t for t in TACTICS if t not in (tactic, "release_rush")]
        for t in r.choice(others, int(r.integers(1, 3)), replace=False):
            mix[str(t)] = float(r.uniform(0.1, 0.4))
    if lang is None:
        lang = "zh" if tactic == "zh_instruct" else ("zh" if r.random() < 0.15 else "en")
    wrapper = {t: int(r.integers(0, len(WRAPPERS[t].get(lang) or WRAPPERS[t]["en"])))
               for t in mix}
    reasoning_model = tactic == "reasoning_trace" and r.random() < 0.6
    if tactic == "release_rush":
        models: tuple[str, ...] = (cat.release,)
    elif reasoning_model:
        models = cat.reasoning
    else:
        k = int(r.integers(1, 3))
        models = tuple(str(m) for m in r.choice(cat.chat, k, replace=False))
    return Style(
        tactic=tactic, mix=mix, lang=lang, wrapper=wrapper, paraphrase=paraphrase,
        models=models,
        endpoint=choice(r, ("/v1/chat/completions", "/v1/chat/completions", "/v1/responses")),
        max_tokens=choice(r, (None, 1024, 2048, 4096, 8192, 16384)),
        temperature=choice(r, (None, 0.0, 0.2, 0.7, 1.0)),
        top_p=choice(r, (None, None, None, 0.9, 0.95)),
        stream=choice(r, (None, True, False)),
        out_scale=float(r.lognormal(0.0, 0.3)),
        top_logprobs=int(choice(r, (5, 10, 20))),
        logit_bias=int(choice(r, (0, 0, 5, 50, 100, 300))),
        scrape_max_tokens=int(choice(r, (1, 1, 1, 2, 3))),
        sweep_temps=tuple(float(x) for x in
                          choice(r, ((0.0, 0.5, 1.0, 1.5), (0.2, 0.4, 0.6, 0.8, 1.0),
                                     (0.7, 1.0, 1.3)))),
        sweep_n=tuple(int(x) for x in choice(r, ((1, 4, 8), (8, 16), (2, 4), (1,)))),
        sweep_max_tokens=tuple(int(x) for x in
                               choice(r, ((16, 64, 256, 1024), (1, 8, 32), (128, 512)))),
    )


def _content_corpus(tactic: str, corp: Corpora, lang: str, r: np.random.Generator
                    ) -> tuple[Item, ...]:
    if tactic == "reasoning_trace":
        return corp.cot if r.random() < 0.5 else corp.math
    if tactic == "code_distill":
        return corp.code
    if tactic == "persona_harvest":
        return corp.roleplay
    if tactic == "zh_instruct":
        return corp.zh_instruct
    if lang == "zh" and r.random() < 0.7:
        return corp.zh_instruct
    return choice(r, (corp.math, corp.cot, corp.code, corp.roleplay, corp.zh_instruct,
                      corp.arena))


def _wrap(r: np.random.Generator, st: Style, tactic: str, **fields: str) -> str:
    options = WRAPPERS[tactic].get(st.lang) or WRAPPERS[tactic]["en"]
    if st.paraphrase:
        template = choice(r, options)
        text = template.format(**fields)
        return choice(r, _OPENERS) + text + choice(r, _CLOSERS)
    return options[st.wrapper.get(tactic, 0) % len(options)].format(**fields)


def _expected(item: Item, base: float, st: Style) -> float:
    per_char = 1.5 if item.lang == "zh" else 3.8
    if item.answer_chars:
        return max(20.0, item.answer_chars / per_char) * st.out_scale
    return base * st.out_scale


def make_request(r: np.random.Generator, corp: Corpora, st: Style) -> Request:
    """One query of a campaign with style ``st``."""
    tactics = list(st.mix)
    tactic = tactics[0] if len(tactics) == 1 else choice(r, tactics, list(st.mix.values()))
    model = choice(r, st.models)
    items = _content_corpus(tactic, corp, st.lang, r)
    item: Item = choice(r, items)
    if tactic == "logprob_scrape":
        return Request(
            prompt=_wrap(r, st, tactic, q=item.text), model=model, expected_out=1.0,
            endpoint=choice(r, ("/v1/completions", st.endpoint)),
            max_tokens=st.scrape_max_tokens, temperature=choice(r, (0.0, 1.0)),
            logprobs=True, top_logprobs=st.top_logprobs,
            logit_bias_count=(int(r.integers(max(1, st.logit_bias // 2), st.logit_bias + 1))
                              if st.logit_bias else None),
        )
    if tactic == "sampling_sweep":
        if not st.pool:
            st.pool.extend(choice(r, items) for _ in range(int(r.integers(20, 80))))
        item = choice(r, st.pool)
        mt = choice(r, st.sweep_max_tokens)
        n = choice(r, st.sweep_n)
        return Request(prompt=_wrap(r, st, tactic, q=item.text), model=model,
                       expected_out=_expected(item, 300.0, st), endpoint=st.endpoint,
                       max_tokens=mt, temperature=choice(r, st.sweep_temps),
                       top_p=st.top_p, n=n if n > 1 else None,
                       logprobs=True if r.random() < 0.3 else None)
    if tactic == "judge_harvest":
        a, b = choice(r, items), choice(r, items)
        prompt = _wrap(r, st, tactic, q=item.text, a=a.text[:600], b=b.text[:600])
        return _plain(st, model, prompt, _expected(Item("", 0), 420.0, st))
    if tactic == "task_bootstrap":
        k = int(r.integers(3, 6))
        ex = "\n".join(f"{i + 1}. {choice(r, items).text[:300]}" for i in range(k))
        prompt = _wrap(r, st, tactic, ex=ex, k=str(int(r.integers(5, 40))))
        return _plain(st, model, prompt, _expected(Item("", 0), 1100.0, st))
    if tactic == "reasoning_trace":
        reasoning = model in ("nova-think",) or model.endswith("think")
        prompt = _wrap(r, st, tactic, q=item.text)
        more = 1.0 if prompt == item.text else float(r.uniform(1.5, 3.0))
        return _plain(st, model, prompt, _expected(item, 900.0, st) * more,
                      float(r.uniform(0.4, 0.8)) if reasoning else 0.0)
    base = {"code_distill": 650.0, "persona_harvest": 450.0, "zh_instruct": 380.0}.get(tactic,
                                                                                      520.0)
    prompt = _wrap(r, st, tactic, q=item.text)
    # A wrapper asking for more than the bare item (tests, detail, length) gets a longer answer
    # than the corpus' reference answer.
    more = 1.0 if prompt == item.text else float(r.uniform(1.5, 3.0))
    return _plain(st, model, prompt, _expected(item, base, st) * more)


def _plain(st: Style, model: str, prompt: str, expected: float,
           reasoning_share: float = 0.0) -> Request:
    return Request(prompt=prompt, model=model, expected_out=expected, endpoint=st.endpoint,
                   max_tokens=st.max_tokens, temperature=st.temperature, top_p=st.top_p,
                   stream=st.stream, reasoning_share=reasoning_share)


def campaign_rate(r: np.random.Generator) -> float:
    """A single-account campaign's request rate (requests per hour)."""
    return log_uniform(r, 20.0, 1500.0)
