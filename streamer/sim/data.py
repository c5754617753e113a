"""Loading (and caching) the real public data the simulator builds traffic from.

The folder is found through ``$STREAMER_SHARED_DATA`` or, when that is unset, by walking up from
this package to a directory holding ``shared/data`` (the repository lives next to it). When the
folder, or any single file in it, is missing, the corresponding built-in fallback from
:mod:`streamer.sim.fallback` is used, so the simulator always works.

Files are read lazily, one corpus at a time, and cached per data folder and part.

A bank for a ``part`` (``"calibration"`` or ``"heldout"``, see :mod:`streamer.sim.split`)
restricts every corpus to that part: prompts by :func:`streamer.sim.split.select` on their
text, token-length pairs by row, ServeGen tenants by name. A built-in fallback corpus too small
to split (its part would be empty) is used whole, and named in ``unsplit``.

>>> bank = DataBank(None)          # no folder: everything comes from the fallback module
>>> bank.source, len(bank.gsm8k) > 0, bank.azure_conv.shape[1]
('fallback', True, 2)
>>> cal, held = DataBank(None, "calibration"), DataBank(None, "heldout")
>>> set(cal.banking77).isdisjoint(held.banking77), len(cal.banking77) < len(bank.banking77)
(True, True)
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from streamer.sim import fallback
from streamer.sim.split import Part, part_of, select

ENV_VAR = "STREAMER_SHARED_DATA"
MAX_PROMPT_CHARS = 4000
WINDOW_S = 600
FAMILY_CODES = {"Exponential": 0, "Gamma": 1, "Weibull": 2}

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def shared_data_dir() -> Path | None:
    """The shared data folder, or ``None`` when it cannot be found.

    An explicit ``$STREAMER_SHARED_DATA`` wins, even when it names a missing folder (which is
    how tests force the fallback).
    """
    env = os.environ.get(ENV_VAR)
    if env is not None:
        path = Path(env)
        return path if path.is_dir() else None
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class TraceClient:
    """One ServeGen tenant: per 600 s window its rate (req/s), family code and shape parameter."""

    name: str
    rate: FloatArray
    family: IntArray
    shape: FloatArray

    @property
    def active_windows(self) -> int:
        return int(np.count_nonzero(self.rate))


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_PROMPT_CHARS else text[:MAX_PROMPT_CHARS]


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _with_instance(task: dict[str, Any]) -> str:
    instances = task.get("instances") or [{}]
    extra = str(instances[0].get("input", "")).strip()
    instruction = str(task.get("instruction", "")).strip()
    return _clip(f"{instruction}\n\n{extra}" if extra else instruction)


class DataBank:
    """Lazily loaded corpora and traces from one data folder (``None`` = fallback only)."""

    def __init__(self, root: Path | None, part: Part | None = None) -> None:
        self.root = root
        self.part = part
        self.used_fallback: set[str] = set()
        self.unsplit: set[str] = set()

    @property
    def source(self) -> str:
        return "fallback" if self.root is None else str(self.root)

    def _load(self, name: str, rel: str, loader: Callable[[Path], T], default: T) -> T:
        path = None if self.root is None else self.root / rel
        if path is not None and path.is_file():
            try:
                return self._restrict(name, loader(path))
            except (OSError, ValueError, KeyError, TypeError):
                pass
        self.used_fallback.add(name)
        return self._restrict(name, default)

    def _restrict(self, name: str, items: T) -> T:
        """``items`` (a tuple of texts / text tuples, or an array of rows) in this bank's part."""
        if self.part is None:
            return items
        rows: Any = items
        if isinstance(rows, np.ndarray):
            keep = [i for i in range(len(rows)) if part_of(f"{name}:{i}") == self.part]
            out: Any = rows[np.asarray(keep, dtype=np.int64)]
        else:
            out = tuple(select(rows, self.part, 0 if rows and isinstance(rows[0], tuple)
                               else None))
        if len(out) == 0:
            self.unsplit.add(name)
            return items
        return cast(T, out)

    # ---- ordinary prompts -------------------------------------------------------------------
    @cached_property
    def sharegpt(self) -> tuple[str, ...]:
        def load(p: Path) -> tuple[str, ...]:
            rows = json.loads(p.read_text(encoding="utf-8"))
            out = []
            for row in rows:
                turns = row.get("conversations") or []
                first = next((t["value"] for t in turns if t.get("from") == "human"), "")
                if first and first.strip():
                    out.append(_clip(first))
            return tuple(out)

        return self._load("sharegpt", "prompts/normal/sharegpt_first_turns.json", load,
                          fallback.CHAT + fallback.CODE_CHAT)

    @cached_property
    def sharegpt_code(self) -> tuple[str, ...]:
        """ShareGPT first turns that look like programming questions."""
        pattern = re.compile(
            r"```|\bdef |\bfunction\b|\bpython\b|\bjavascript\b|\bsql\b|\bcode\b|\bclass\b"
            r"|\bjava\b|\berror\b|\bapi\b|\breact\b",
            re.IGNORECASE,
        )
        found = tuple(t for t in self.sharegpt if pattern.search(t))
        return found if len(found) >= 20 else self._restrict("sharegpt_code", fallback.CODE_CHAT)

    @cached_property
    def banking77(self) -> tuple[str, ...]:
        def load(p: Path) -> tuple[str, ...]:
            texts: list[str] = []
            for name in ("banking77_train.csv", "banking77_test.csv"):
                with (p.parent / name).open(encoding="utf-8", newline="") as fh:
                    texts.extend(_clip(r["text"]) for r in csv.DictReader(fh) if r["text"])
            return tuple(texts)

        return self._load("banking77", "prompts/normal/banking77_train.csv", load,
                          fallback.SUPPORT)

    @cached_property
    def coffee(self) -> tuple[tuple[str, ...], ...]:
        """User turns of coffee-ordering dialogs, one tuple per dialog."""

        def load(p: Path) -> tuple[tuple[str, ...], ...]:
            dialogs = json.loads(p.read_text(encoding="utf-8"))
            out = []
            for d in dialogs:
                turns = tuple(_clip(u["text"]) for u in d.get("utterances", [])
                              if u.get("speaker") == "user" and u.get("text"))
                if turns:
                    out.append(turns)
            return tuple(out)

        return self._load("coffee", "prompts/normal/taskmaster4_coffee.json", load,
                          fallback.ORDERS)

    # ---- extraction-style prompts -----------------------------------------------------------
    @cached_property
    def gsm8k(self) -> tuple[tuple[str, str], ...]:
        """(question, worked answer) pairs."""

        def load(p: Path) -> tuple[tuple[str, str], ...]:
            return tuple((_clip(r["question"]), _clip(r["answer"])) for r in _jsonl(p))

        return self._load("gsm8k", "prompts/extraction/gsm8k_train.jsonl", load,
                          tuple((q, "") for q in fallback.MATH))

    @cached_property
    def flan_cot(self) -> tuple[str, ...]:
        def load(p: Path) -> tuple[str, ...]:
            out: list[str] = []
            for name in ("flan_cot_aqua.tsv", "flan_cot_creak.tsv", "flan_cot_ecqa.tsv"):
                with (p.parent / name).open(encoding="utf-8") as fh:
                    for line in fh:
                        q = line.split("\t", 1)[0].replace("\\n", "\n").strip()
                        if q:
                            out.append(_clip(q))
            return tuple(out)

        return self._load("flan_cot", "prompts/extraction/flan_cot_aqua.tsv", load,
                          fallback.REASONING)

    @cached_property
    def humaneval(self) -> tuple[str, ...]:
        return self._load(
            "humaneval", "prompts/extraction/humaneval.jsonl.gz",
            lambda p: tuple(_clip(r["prompt"]) for r in _jsonl(p)), fallback.CODE_TASKS[5:],
        )

    @cached_property
    def code_alpaca(self) -> tuple[str, ...]:
        def load(p: Path) -> tuple[str, ...]:
            rows = json.loads(p.read_text(encoding="utf-8"))
            return tuple(_clip(f"{r['instruction']}\n{r['input']}" if r.get("input")
                               else r["instruction"]) for r in rows)

        return self._load("code_alpaca", "prompts/extraction/code_alpaca_2k.json", load,
                          fallback.CODE_TASKS)

    @cached_property
    def alpaca_seed(self) -> tuple[str, ...]:
        return self._load(
            "alpaca_seed", "prompts/extraction/alpaca_seed_tasks.jsonl",
            lambda p: tuple(_with_instance(r) for r in _jsonl(p)), fallback.INSTRUCTIONS,
        )

    @cached_property
    def self_instruct(self) -> tuple[str, ...]:
        return self._load(
            "self_instruct", "prompts/extraction/selfinstruct_user_oriented.jsonl",
            lambda p: tuple(_with_instance(r) for r in _jsonl(p)), fallback.INSTRUCTIONS,
        )

    # ---- token lengths ----------------------------------------------------------------------
    def _azure(self, name: str, spec: tuple[float, float, float, float]) -> IntArray:
        def load(p: Path) -> IntArray:
            with p.open(encoding="utf-8", newline="") as fh:
                rows = [(int(r["ContextTokens"]), int(r["GeneratedTokens"]))
                        for r in csv.DictReader(fh)]
            return np.asarray(rows, dtype=np.int64)

        rng = np.random.default_rng(12345)  # fixed: the fallback table is a constant
        m_in, s_in, m_out, s_out = spec
        synthetic = np.stack([
            np.maximum(1, np.exp(np.log(m_in) + s_in * rng.standard_normal(2000))),
            np.maximum(1, np.exp(np.log(m_out) + s_out * rng.standard_normal(2000))),
        ], axis=1).astype(np.int64)
        return self._load(name, f"traces/{name}.csv", load, synthetic)

    @cached_property
    def azure_conv(self) -> IntArray:
        """Real (input tokens, output tokens) pairs of a chat service, shape (n, 2)."""
        return self._azure("azure2023_conv", fallback.TOKENS_CONV)

    @cached_property
    def azure_code(self) -> IntArray:
        """Real (input tokens, output tokens) pairs of a coding service, shape (n, 2)."""
        return self._azure("azure2023_code", fallback.TOKENS_CODE)

    # ---- arrival traces ---------------------------------------------------------------------
    @cached_property
    def trace_clients(self) -> tuple[TraceClient, ...]:
        """ServeGen tenants (or synthetic diurnal clients), sorted by chunk number."""
        folder = None if self.root is None else self.root / "traces" / "servegen-m-large"
        clients: list[TraceClient] = []
        if folder is not None and folder.is_dir():
            files = sorted(folder.glob("chunk-*-trace.csv"),
                           key=lambda f: int(f.name.split("-")[1]))
            for f in files:
                try:
                    clients.append(_read_trace(f))
                except (OSError, ValueError, IndexError):
                    continue
        if not clients:
            self.used_fallback.add("servegen")
            clients = _synthetic_traces()
        if self.part is not None:
            mine = [c for c in clients if part_of(f"servegen:{c.name}") == self.part]
            if mine:
                clients = mine
            else:
                self.unsplit.add("servegen")
        return tuple(clients)


def _read_trace(path: Path) -> TraceClient:
    rate, family, shape = [], [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(",")
            if len(parts) < 6:
                continue
            rate.append(float(parts[1] or 0.0))
            family.append(FAMILY_CODES.get(parts[3], 0))
            shape.append(float(parts[4] or 1.0) if parts[3] else 1.0)
    return TraceClient(path.stem.replace("-trace", ""), np.asarray(rate),
                       np.asarray(family, dtype=np.int64), np.asarray(shape))


def _synthetic_traces() -> list[TraceClient]:
    rng = np.random.default_rng(2026)
    hourly = np.asarray(fallback.DIURNAL)
    out = []
    for i in range(12):
        windows = np.arange(14 * 144)
        hour = (windows // 6) % 24
        day = windows // 144
        weekend = np.where(day % 7 >= 5, 0.6, 1.0)
        level = 0.2 + 0.3 * i
        rate = level * hourly[hour] * weekend * rng.lognormal(0.0, 0.3, windows.size)
        out.append(TraceClient(f"synthetic-{i}", rate, np.full(windows.size, 1, dtype=np.int64),
                               np.full(windows.size, 0.3 + 0.1 * (i % 5))))
    return out


@lru_cache(maxsize=8)
def _bank_for(root: Path | None, part: Part | None) -> DataBank:
    return DataBank(root, part)


def get_bank(part: Part | None = None) -> DataBank:
    """The (cached) data bank for the currently visible shared data folder (and ``part``)."""
    return _bank_for(shared_data_dir(), part)
