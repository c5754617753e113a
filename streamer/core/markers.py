"""Content markers of extraction tactics, computed from prompt text in memory.

Patterns are written in lower case and matched against lower-cased text (faster than re.I).
The Python regexes below are the definition. For speed, every pattern is also compiled into RE2
sets (``google-re2``) that answer "which of these patterns occur?" in one pass over the text;
the sets are exact translations for ASCII text (``\\b``, ``\\d``, ``\\s``, ``\\w`` spelled out as
Python reads them on ASCII). Other text is first mapped to ASCII one character for one: no
pattern has a non-ASCII literal, so all that matters about a non-ASCII character is whether
Python's ``\\d``, ``\\s`` or ``\\w`` match it, and an ASCII stand-in with the same classes
(``0``, ``\\x1c``, ``Z``, ``\\x01``) gives the same matches.

Each marker is a yes/no per prompt; the profile keeps only how often they fire.

>>> m = prompt_markers("Think step by step and explain your reasoning before answering: 3x+1=7")
>>> m.cot, m.rubric, m.self_instruct, m.topic
(True, False, False, 'math')
>>> prompt_markers("Generate 20 new diverse questions similar to the examples below.").self_instruct
True
>>> prompt_markers("Grade the student's answer using the rubric; give a score from 1-10.").rubric
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import re2

_COT = re.compile(
    r"step[- ]by[- ]step|show (all )?(your )?(work|reasoning|steps)"
    r"|explain your (reasoning|thought)"
    r"|reasoning (process|trace|steps)|chain[- ]of[- ]thought|think (it )?through|thought process"
    r"|internal reasoning|walk me through|reason (carefully|step)|let'?s think|rationale"
    r"|justify (each|every|your) step",
)
_RUBRIC = re.compile(
    r"rubric|grade (the|this)|score (the|this|from|between|of)|on a scale of|rate (the|this)"
    r"|evaluate the (following |student'?s? )?(response|answer)|criteria|scoring guide"
    r"|assign a (score|grade)|which (response|answer) is better",
)
_SELF_INSTRUCT = re.compile(
    r"(generate|write|create|come up with|produce|list) (\d+|a list of|several|many|more|new)"
    r"[\w ,-]{0,40}(questions|tasks|instructions|prompts|examples|problems|exercises)"
    r"|similar to the (examples|tasks|questions)|new (task|instruction)s?\b",
)

TOPICS: tuple[str, ...] = (
    "math", "code", "logic", "science", "writing", "finance", "food", "commonsense",
    "general",
)
_TOPIC_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("code", re.compile(r"\bdef |```|\bfunction\b|\bpython\b|\bjava(script)?\b|\bsql\b"
                        r"|\bcode\b|\bimplement|\bclass |\bregex|\bcompile|\balgorithm"
                        r"|\bbash\b|\bapi\b")),
    ("math", re.compile(r"\d+\s*[-+*/x=]\s*\d+|\bsolve\b|\bequation|\bcalculate|\bhow many\b"
                        r"|\bprobability|\bpercent|\bsum of\b|\bintegral|\bfraction")),
    ("logic", re.compile(r"\btrue or false\b|\bwhich of the following\b|\boptions?:|\bimplies\b"
                         r"|\bpremise|\bhypothesis|\bentail|\bsyllogism|\bpuzzle")),
    ("science", re.compile(r"\bphysics|\bchemi|\bbiolog|\batom|\bcell\b|\benergy\b|\bspecies"
                           r"|\bplanet|\bmolecule")),
    ("finance", re.compile(r"\bcard\b|\baccount\b|\btransfer|\bbank|\brefund|\bpayment"
                           r"|\bbalance|\bcharge|\bexchange rate|\bwithdraw")),
    ("food", re.compile(r"\bcoffee|\blatte|\bespresso|\brecipe|\border\b|\bcup\b|\bmilk\b"
                        r"|\bsize\b|\bcappuccino")),
    ("writing", re.compile(r"\bwrite (a|an|me)\b|\bessay|\bpoem|\bstory|\bemail|\bsummar"
                           r"|\brewrite|\bparagraph|\bletter\b|\btranslate")),
    ("commonsense", re.compile(r"\bwhy (do|does|is|are)\b|\bwhat happens\b|\bwould you\b"
                               r"|\bcan a\b|\bis it possible\b")),
)


@dataclass(frozen=True, slots=True)
class PromptMarkers:
    cot: bool
    rubric: bool
    self_instruct: bool
    topic: str


_ASCII_CLASSES = {
    # Inside a character class / outside one: what Python's escapes match on ASCII text.
    "d": ("0-9", "[0-9]"),
    "s": ("\\t\\n\\x0b\\f\\r\\x1c-\\x1f ", "[\\t\\n\\x0b\\f\\r\\x1c-\\x1f ]"),
    "w": ("0-9A-Za-z_", "[0-9A-Za-z_]"),
}


def ascii_re2(pattern: str) -> str:
    """An RE2 pattern that matches exactly where the Python ``pattern`` does on ASCII text.

    RE2's ``\\b`` is ASCII already; ``\\d``/``\\s``/``\\w`` are spelled out (RE2's ``\\s`` lacks
    ``\\x0b`` and ``\\x1c``-``\\x1f``, which Python's includes).

    >>> ascii_re2(r"\\d+\\s*[\\w ,-]{0,4}\\b")
    '[0-9]+[\\\\t\\\\n\\\\x0b\\\\f\\\\r\\\\x1c-\\\\x1f ]*[0-9A-Za-z_ ,-]{0,4}\\\\b'
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _ASCII_CLASSES:
                out.append(_ASCII_CLASSES[nxt][0 if in_class else 1])
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _re2_set(patterns: Sequence[re.Pattern[str]]) -> re2.Set:
    compiled = re2.Set.SearchSet()
    for p in patterns:
        compiled.Add(ascii_re2(p.pattern))
    compiled.Compile()
    return compiled


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_STAND_IN_CACHE = 4096


@lru_cache(maxsize=_STAND_IN_CACHE)
def _stand_in(char: str) -> str:
    if re.match(r"\d", char):
        return "0"  # \d (and \w)
    if re.match(r"\s", char):
        return "\x1c"  # \s, not a literal space
    if re.match(r"\w", char):
        return "Z"  # \w; no pattern has an upper-case literal
    return "\x01"  # none of them


class _StandIns(dict[int, str]):
    def __missing__(self, code: int) -> str:
        return _stand_in(chr(code))


_STAND_INS = _StandIns()


def ascii_stand_in(lowered: str) -> str:
    """``lowered`` with each non-ASCII character replaced by an ASCII one of the same regex class.

    >>> ascii_stand_in("café ١٢ x\u00a0y —") == "cafZ 00 x" + chr(0x1C) + "y " + chr(1)
    True
    """
    return _NON_ASCII_RUN.sub(lambda m: m.group().translate(_STAND_INS), lowered)


_MARKER_PATTERNS = (_COT, _RUBRIC, _SELF_INSTRUCT)
_TOPIC_NAMES = tuple(name for name, _ in _TOPIC_PATTERNS)
_MARKER_SET = _re2_set(_MARKER_PATTERNS)
_TOPIC_SET = _re2_set([p for _, p in _TOPIC_PATTERNS])
_ALL_SET = _re2_set([*_MARKER_PATTERNS, *(p for _, p in _TOPIC_PATTERNS)])
_N_MARKERS = len(_MARKER_PATTERNS)


def _first_topic(hits: Sequence[int]) -> str:
    return _TOPIC_NAMES[min(hits)] if hits else "general"


def topic_of(text: str) -> str:
    """The first matching coarse topic of a prompt, or ``general``."""
    head = text[:600].lower()
    if not head.isascii():
        head = ascii_stand_in(head)
    return _first_topic(_TOPIC_SET.Match(head) or ())


def prompt_markers(text: str) -> PromptMarkers:
    """Tactic markers and coarse topic of one prompt."""
    # Instructions wrap the content: they sit at the start or the end of a prompt, so long
    # prompts (RAG contexts, pasted documents) are searched at both ends only.
    edges = (text if len(text) <= 1600 else text[:1000] + "\n" + text[-600:]).lower()
    if not edges.isascii():
        edges = ascii_stand_in(edges)
    if len(text) <= 600:  # the topic's head is the whole text: one pass for everything
        hits = _ALL_SET.Match(edges) or ()
        topic = _first_topic([h - _N_MARKERS for h in hits if h >= _N_MARKERS])
    else:
        hits = _MARKER_SET.Match(edges) or ()
        topic = topic_of(text)
    return PromptMarkers(cot=0 in hits, rubric=1 in hits, self_instruct=2 in hits, topic=topic)
