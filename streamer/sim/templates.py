"""Prompt wrappers: what ordinary products and extraction campaigns put around their content.

Campaign wrappers reflect publicly reported distillation tactics (reasoning-trace coercion,
rubric grading with detailed rationales, self-instruct expansion, agentic tool tasks). The
look-alike wrappers (benchmark templates, LLM-as-judge rubrics, labelling instructions) share
surface markers with them on purpose.

>>> import numpy as np
>>> text = paraphrase(np.random.default_rng(3), "What is 2+2?")
>>> "2+2" in text
True
"""

from __future__ import annotations

import re

import numpy as np

from streamer.sim.identity import pick

COT_WRAPPERS = (
    "{q}\n\nBefore answering, articulate your internal reasoning step by step, in full detail, "
    "showing every intermediate thought. Do not skip any step.",
    "Solve the following problem. Think out loud: write down your complete chain of thought, "
    "including doubts, checks and corrections, then give the final answer on its own line.\n\n"
    "Problem: {q}",
    "I want to see exactly how you reason. For the question below, articulate your internal "
    "reasoning step by step, as you would think privately, and only then state the answer.\n\n{q}",
    "Q: {q}\nExplain your entire thought process step by step before the final answer. "
    "Be exhaustive; longer is better.",
)
RUBRIC_CAMPAIGN = (
    "You are an expert grader. Grade the student's answer using this rubric:\n"
    "1. Correctness of the final answer (0-4)\n2. Validity of every reasoning step (0-4)\n"
    "3. Clarity of explanation (0-2)\nFor each criterion write a detailed rationale explaining "
    "exactly why points were awarded or deducted, then give the total score out of 10.\n\n"
    "Question: {q}\n\nStudent answer: {a}"
)
SELF_INSTRUCT = (
    "Here are some example tasks:\n{examples}\n\nWrite {n} new questions like these. Make them "
    "diverse in topic and difficulty; for each, also give an ideal, complete answer."
)
AGENT = (
    "You are an autonomous agent. Available tools: {tools}.\nTask: {task}\n\nPlan your approach, "
    "call the tools you need, and explain why you choose each tool and what you expect it to "
    "return. Continue until the task is complete."
)
TOOLS = ("web_search", "python_exec", "read_file", "write_file", "run_shell", "sql_query",
         "http_get", "calendar_lookup", "send_email", "vector_search", "git_diff", "unit_test")
CODE_WRAPPERS = (
    "Write a complete, production-quality Python solution for the task below. Include type "
    "hints, docstrings, edge-case handling, unit tests and an explanation of the approach.\n\n"
    "{q}",
    "Complete the following code. Return the full implementation, then explain it line by "
    "line.\n\n{q}",
    "{q}\n\nImplement this in Python, then in TypeScript, and compare the two implementations.",
)
SWEEP_WRAPPERS = ("{q}", "Answer the following thoroughly and accurately.\n\n{q}",
                  "Provide a detailed, expert-level response:\n{q}",
                  "{q}\n\nGive a complete answer with explanation.")

# ---- look-alikes and ordinary products -------------------------------------------------------
EVAL_MC = "Question: {q}\nAnswer:"
EVAL_GSM = "Question: {q}\nLet's think step by step. At the end, write 'The answer is N'.\nAnswer:"
JUDGE = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an "
    "AI assistant to the user question below. Rate the following response 1-10 for helpfulness, "
    "relevance and accuracy. Output only the rating.\n\n[Question]\n{q}\n\n"
    "[The Start of Assistant's Answer]\n{a}\n[The End of Assistant's Answer]"
)
JUDGE_PAIR = (
    "Which of the two responses better answers the question? Use the rubric: correctness, "
    "helpfulness, concision. Reply with 'A' or 'B' only.\n\nQuestion: {q}\n\nResponse A: {a}\n\n"
    "Response B: {b}"
)
LABEL_INTENT = (
    "Classify the customer message into exactly one intent from this list: {labels}. "
    "Reply with the label only.\n\nMessage: {q}"
)
LABEL_RATE = (
    "Rate the following text on a scale of 1-5 for toxicity, where 1 is harmless. Output the "
    "number only.\n\nText: {q}"
)
INTENTS = ("card_arrival", "card_not_working", "exchange_rate", "top_up_failed",
           "transfer_timing", "lost_or_stolen_card", "pin_blocked", "refund_not_showing",
           "declined_card_payment", "cash_withdrawal_charge")
BATCH = (
    "Summarize the following customer message in one sentence.\n\n{q}",
    "Extract every product, date and amount mentioned in the text below as JSON with keys "
    "products, dates, amounts.\n\n{q}",
    "Translate the following text into French. Output only the translation.\n\n{q}",
    "Classify the support ticket below as billing, technical, account or other. Respond in "
    "JSON: {{\"category\": ...}}\n\n{q}",
)
RAG = "Answer using only the context below. If the answer is not there, say so.\n\n" \
      "Context:\n{docs}\n\nQuestion: {q}"

_SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("step by step", ("one step at a time", "stage by stage", "in sequence", "carefully")),
    ("explain", ("walk me through", "describe", "talk me through", "lay out")),
    ("reasoning", ("thinking", "thought process", "logic", "rationale")),
    ("detailed", ("thorough", "in-depth", "careful", "complete")),
    ("answer", ("reply", "response", "solution", "result")),
)
_OPENERS = ("", "Hi! ", "Quick question. ", "Hey, ", "Could you help with this? ",
            "For my homework: ", "I'm stuck on this one. ", "Please help: ")
_CLOSERS = ("", " Thanks!", " Please walk me through how you get there.",
            " Explain how you think about it as you go.", " Show your work.",
            " I'd like to understand the reasoning, not just the answer.")


def paraphrase(rng: np.random.Generator, text: str) -> str:
    """A light, human-looking rewording around ``text`` (evasive campaigns vary templates)."""
    out = text
    for word, options in _SYNONYMS:
        if word in out and rng.random() < 0.7:
            out = out.replace(word, pick(rng, options), 1)
    if rng.random() < 0.3:
        out = out[0].lower() + out[1:] if out else out
    return f"{pick(rng, _OPENERS)}{out}{pick(rng, _CLOSERS)}"


def strip_calc(answer: str) -> str:
    """GSM8K answers without the ``<<...>>`` calculator annotations."""
    return re.sub(r"<<[^>]*>>", "", answer)
