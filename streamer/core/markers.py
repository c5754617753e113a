"""Content markers of extraction tactics, computed from prompt text in memory.

Patterns are written in lower case and matched against lower-cased text (faster than re.I).

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
from dataclasses import dataclass

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


def topic_of(text: str) -> str:
    """The first matching coarse topic of a prompt, or ``general``."""
    head = text[:600].lower()
    for name, pattern in _TOPIC_PATTERNS:
        if pattern.search(head):
            return name
    return "general"


def prompt_markers(text: str) -> PromptMarkers:
    """Tactic markers and coarse topic of one prompt."""
    # Instructions wrap the content: they sit at the start or the end of a prompt, so long
    # prompts (RAG contexts, pasted documents) are searched at both ends only.
    edges = (text if len(text) <= 1600 else text[:1000] + "\n" + text[-600:]).lower()
    return PromptMarkers(
        cot=bool(_COT.search(edges)),
        rubric=bool(_RUBRIC.search(edges)),
        self_instruct=bool(_SELF_INSTRUCT.search(edges)),
        topic=topic_of(text),
    )
