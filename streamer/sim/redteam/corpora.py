# ruff: noqa: RUF001
"""The held-out prompt corpora the red-team generator draws on, and built-in fallbacks.

Only ``prompts/heldout_extraction/*`` and ``prompts/heldout_normal/*`` of the shared data folder
are read (the folder names come from :data:`streamer.sim.split.HELDOUT_CORPORA`): nothing the
detector was calibrated on. When the folder or a file is missing, a small built-in list written
for this module is used instead, so the generator always works.

>>> c = Corpora(None)                     # no data folder: built-in lists only
>>> c.source, len(c.math) > 5, c.zh_chat[0].lang
('fallback', True, 'zh')
>>> all(item.text for item in c.code)
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from streamer.sim.data import shared_data_dir
from streamer.sim.split import HELDOUT_CORPORA

MAX_CHARS = 3_000
EXTRACTION_DIR, NORMAL_DIR = HELDOUT_CORPORA


@dataclass(frozen=True, slots=True)
class Item:
    """One prompt, the length of its reference answer (0 when the corpus has none) and its
    script (``en`` for Latin script, ``zh`` for CJK, ``other``)."""

    text: str
    answer_chars: int = 0
    lang: str = "en"


def script_of(text: str) -> str:
    """``zh`` when CJK characters dominate, ``other`` for other non-Latin scripts, else ``en``.

    >>> script_of("how tall is the eiffel tower"), script_of("今天天气怎么样")
    ('en', 'zh')
    >>> script_of("Привет мир")
    'other'
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "en"
    cjk = sum(1 for ch in letters if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    latin = sum(1 for ch in letters if ch.isascii())
    if cjk >= 0.3 * len(letters):
        return "zh"
    return "en" if latin >= 0.6 * len(letters) else "other"


def _item(text: Any, answer: Any = "") -> Item | None:
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()[:MAX_CHARS]
    return Item(text, len(answer) if isinstance(answer, str) else 0, script_of(text))


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    yield obj


def _items(rows: Iterator[Item | None]) -> tuple[Item, ...]:
    return tuple(i for i in rows if i is not None)


# ----------------------------------------------------------------- built-in fallbacks
# Written for this module (no corpus text); enough variety to exercise every code path.

_FB_MATH = (
    "A rectangle has a perimeter of 46 and an area of 120. What are its side lengths?",
    "How many positive divisors does 360 have?",
    "Find all real x such that x^4 - 5x^2 + 4 = 0.",
    "The sum of three consecutive odd integers is 159. What is the largest?",
    "A bag holds 4 red and 6 blue marbles. Two are drawn without replacement. What is the "
    "probability both are blue?",
    "Compute the remainder when 7^2026 is divided by 13.",
    "In triangle ABC, AB = 13, BC = 14 and CA = 15. Find the length of the altitude from A.",
    "What is the smallest positive integer n such that n! ends in exactly 12 zeros?",
    "Solve for y: 3(y - 4) + 2 = 5y - 18.",
    "A train travels 180 km at 60 km/h and returns at 90 km/h. What is its average speed?",
    "Evaluate the sum 1/(1*2) + 1/(2*3) + ... + 1/(99*100).",
    "How many ways can 8 people sit around a round table if two of them refuse to sit together?",
)
_FB_CODE = (
    "Write a Go function that merges two sorted slices of integers into one sorted slice.",
    "Implement an LRU cache in Java with O(1) get and put.",
    "Write a SQL query returning the three most recent orders per customer.",
    "Create a Bash script that archives log files older than seven days.",
    "Write a Rust function that parses a semantic version string into its three parts.",
    "Implement binary search over a rotated sorted array in C++.",
    "Write a JavaScript debounce helper with a cancel method.",
    "Write a Python generator yielding the prime numbers below a limit using a sieve.",
    "Write a Kotlin data class for a 2D vector with addition and dot product.",
    "Implement a thread-safe bounded queue in C# using Monitor.",
)
_FB_ROLEPLAY = (
    "You are a lighthouse keeper in 1890. Describe your evening routine.",
    "Pretend you are a medieval herbalist explaining a remedy for a cough.",
    "Imagine you are a ship's navigator lost in fog. What do you tell the captain?",
    "You are a detective arriving at a locked-room scene. Narrate your first observations.",
    "Act as a museum guide describing a newly discovered fossil to schoolchildren.",
    "Imagine you are a chef defending an unusual dessert to a skeptical critic.",
)
_FB_ZH_INSTRUCT = (
    "请把下面这段话改写得更正式：我们明天开会讨论一下预算。",
    "给出三种提高睡眠质量的方法，并分别说明原因。",
    "解释什么是通货膨胀，并举一个日常生活中的例子。",
    "写一首关于秋天的四行短诗。",
    "判断下面的句子是否有语法错误：他昨天去了图书馆借书了。",
    "列出学习一门新编程语言的五个步骤。",
)
_FB_SEARCH = (
    "how long to boil an egg", "capital of mongolia", "symptoms of vitamin d deficiency",
    "what is a roth ira", "weather in lisbon in april", "how many ounces in a cup",
    "who wrote the odyssey", "average salary of a nurse", "define photosynthesis",
    "best time to plant tomatoes", "what causes hiccups", "how to reset a router",
    "distance from earth to mars", "meaning of the word ubiquitous",
)
_FB_ARENA = (
    "Write a short story about a robot who learns to paint, in under 300 words.",
    "Explain the difference between TCP and UDP for a beginner.",
    "My React component re-renders too often. What are common causes and fixes?",
    "Draft a polite email asking my landlord to fix the heating.",
    "Compare the French and American revolutions in a short essay.",
    "Give me a weekly meal plan for a vegetarian athlete.",
    "What are the trade-offs between microservices and a monolith?",
    "Help me write a cover letter for a junior data analyst role.",
)
_FB_ZH_CHAT = (
    "周末去杭州玩两天，有什么推荐的行程？", "怎么和同事沟通才能避免误会？",
    "帮我写一段生日祝福，送给我的奶奶。", "新手养猫需要准备哪些东西？",
    "如何用 Excel 计算一列数据的平均值？", "推荐几本适合初学者的历史书。",
)
_FB_ASSISTANT = (
    "set an alarm for seven tomorrow", "what is on my calendar today", "play some jazz",
    "turn off the kitchen lights", "how is the traffic to work", "remind me to call mom at six",
    "what's the weather like this weekend", "add milk to my shopping list",
    "tell me a joke", "lower the volume", "what time is it in tokyo", "read my new emails",
)


def _fallback(texts: tuple[str, ...], answer_chars: int = 0) -> tuple[Item, ...]:
    return tuple(Item(t, answer_chars, script_of(t)) for t in texts)


class Corpora:
    """Lazily loaded held-out corpora (``root`` is the shared data folder or ``None``)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._fallbacks: set[str] = set()

    @property
    def source(self) -> str:
        """``shared`` (all files read), ``partial`` (some fell back) or ``fallback``."""
        if self.root is None:
            return "fallback"
        return "partial" if self._fallbacks else "shared"

    def _load(self, name: str, rel: str, loader: Callable[[Path], tuple[Item, ...]],
              default: tuple[Item, ...]) -> tuple[Item, ...]:
        if self.root is not None:
            path = self.root / "prompts" / rel
            try:
                items = loader(path)
            except (OSError, ValueError, KeyError, TypeError):
                items = ()
            if items:
                return items
        self._fallbacks.add(name)
        return default

    # ---------------------------------------------------------------- extraction-style

    @cached_property
    def code(self) -> tuple[Item, ...]:
        """GPTeacher code instructions (instruction + input), with response lengths."""
        def load(p: Path) -> tuple[Item, ...]:
            rows = json.loads(p.read_text(encoding="utf-8"))
            return _items(
                _item((r.get("instruction", "") + ("\n" + r["input"] if r.get("input") else "")),
                      r.get("response", ""))
                for r in rows if isinstance(r, dict)
            )
        return self._load("code", f"{EXTRACTION_DIR}/gpteacher_codegen_instruct.json", load,
                          _fallback(_FB_CODE, 1400))

    @cached_property
    def roleplay(self) -> tuple[Item, ...]:
        def load(p: Path) -> tuple[Item, ...]:
            rows = json.loads(p.read_text(encoding="utf-8"))
            return _items(
                _item((r.get("instruction", "") + ("\n" + r["input"] if r.get("input") else "")),
                      r.get("response", ""))
                for r in rows if isinstance(r, dict)
            )
        return self._load("roleplay", f"{EXTRACTION_DIR}/gpteacher_roleplay_instruct.json", load,
                          _fallback(_FB_ROLEPLAY, 900))

    @cached_property
    def math(self) -> tuple[Item, ...]:
        """MATH competition problems (answers are short; solutions are long)."""
        def load(p: Path) -> tuple[Item, ...]:
            rows = json.loads(p.read_text(encoding="utf-8"))
            return _items(_item(r.get("problem"), "") for r in rows if isinstance(r, dict))
        return self._load("math", f"{EXTRACTION_DIR}/math_train_rllm.json", load,
                          _fallback(_FB_MATH))

    @cached_property
    def cot(self) -> tuple[Item, ...]:
        """NuminaMath human turns with the length of their chain-of-thought answer."""
        def load(p: Path) -> tuple[Item, ...]:
            out = []
            for row in _json_lines(p):
                turns = row.get("conversations") or []
                human = next((t.get("value") for t in turns if t.get("from") == "human"), None)
                gpt = next((t.get("value") for t in turns if t.get("from") == "gpt"), "")
                out.append(_item(human, gpt))
            return _items(iter(out))
        return self._load("cot", f"{EXTRACTION_DIR}/numinamath_cot_1k.jsonl", load,
                          _fallback(_FB_MATH, 1800))

    @cached_property
    def zh_instruct(self) -> tuple[Item, ...]:
        """BELLE Chinese instructions (JSON Lines despite the name)."""
        def load(p: Path) -> tuple[Item, ...]:
            return _items(
                _item((r.get("instruction", "") + ("\n" + r["input"] if r.get("input") else "")),
                      r.get("output", ""))
                for r in _json_lines(p)
            )
        return self._load("zh_instruct", f"{EXTRACTION_DIR}/belle_open_source_1k_zh.json", load,
                          _fallback(_FB_ZH_INSTRUCT, 500))

    # ---------------------------------------------------------------- ordinary traffic

    @cached_property
    def search(self) -> tuple[Item, ...]:
        """MS MARCO queries (``qid<TAB>query``)."""
        def load(p: Path) -> tuple[Item, ...]:
            out = []
            for line in p.read_text(encoding="utf-8").splitlines():
                _, _, query = line.partition("\t")
                out.append(_item(query))
            return _items(iter(out))
        return self._load("search", f"{NORMAL_DIR}/msmarco_passage_dev_subset_queries.txt", load,
                          _fallback(_FB_SEARCH))

    @cached_property
    def arena(self) -> tuple[Item, ...]:
        """Arena-Hard v2 and v0.1 user prompts (hard negatives; some not in English)."""
        def load_one(p: Path) -> list[Item | None]:
            return [_item(r.get("prompt")) for r in _json_lines(p)]

        def load(p: Path) -> tuple[Item, ...]:
            rows = load_one(p)
            v01 = p.parent / "arena_hard_v0.1_questions.jsonl"
            if v01.exists():
                rows += load_one(v01)
            return _items(iter(rows))
        return self._load("arena", f"{NORMAL_DIR}/arena_hard_v2_questions.jsonl", load,
                          _fallback(_FB_ARENA))

    @cached_property
    def zh_chat(self) -> tuple[Item, ...]:
        """AlignBench questions (Chinese, mostly real ChatGLM users)."""
        def load(p: Path) -> tuple[Item, ...]:
            return _items(_item(r.get("question"), r.get("reference") or "")
                          for r in _json_lines(p))
        return self._load("zh_chat", f"{NORMAL_DIR}/alignbench_v1.1_zh.jsonl", load,
                          _fallback(_FB_ZH_CHAT, 400))

    @cached_property
    def assistant(self) -> tuple[Item, ...]:
        """HWU64 home-assistant utterances, shuffled once (the file is sorted by intent)."""
        def load(p: Path) -> tuple[Item, ...]:
            lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
            order = np.random.default_rng(64).permutation(len(lines))
            return _items(_item(lines[int(i)]) for i in order)
        return self._load("assistant", f"{NORMAL_DIR}/hwu64_train.seq.in", load,
                          _fallback(_FB_ASSISTANT))

    def all_texts(self) -> Iterator[str]:
        """Every prompt text of every corpus (for overlap checks)."""
        for name in ("code", "roleplay", "math", "cot", "zh_instruct", "search", "arena",
                     "zh_chat", "assistant"):
            for item in getattr(self, name):
                yield item.text


_CACHE: dict[Path | None, Corpora] = {}


def get_corpora() -> Corpora:
    """The corpora of the current shared data folder (cached per folder)."""
    root = shared_data_dir()
    if root not in _CACHE:
        _CACHE[root] = Corpora(root)
    return _CACHE[root]
