"""py-spy of the worker under load: a flamegraph SVG and the top hotspots from raw stacks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

#: Innermost package a sample is charged to, by a path fragment of its frame's file.
PACKAGES: tuple[tuple[str, str], ...] = (
    ("streamer/core/", "streamer.core"),
    ("streamer/shell/", "streamer.shell"),
    ("faust/sensors", "faust.sensors/monitor"),
    ("faust/transport", "faust.transport (consumer, acks, commits)"),
    ("faust/streams", "faust.streams (take, events)"),
    ("faust/tables", "faust.tables"),
    ("faust/stores", "faust.stores (rocksdb)"),
    ("faust/", "faust (other)"),
    ("mode/", "mode"),
    ("aiokafka/", "aiokafka"),
    ("kafka/", "kafka-python"),
    ("river/", "river"),
    ("rocksdict", "rocksdict"),
    ("numpy/", "numpy"),
    ("asyncio/", "asyncio"),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record(pid: int, out: Path, seconds: float, fmt: str) -> subprocess.Popen[bytes] | None:
    """Start ``py-spy record`` on ``pid`` in the background (``fmt``: flamegraph or raw)."""
    exe = py_spy()
    if exe is None:
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", "50", "--nonblocking", "--function", "--format", fmt,
                             "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _package(path: str) -> str | None:
    for fragment, name in PACKAGES:
        if fragment in path:
            return name
    return None


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Leaf functions and innermost packages by share of samples, from py-spy ``raw`` stacks."""
    leaf: Counter[str] = Counter()
    package: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        leaf[frames[-1]] += n
        charged = "other"
        for frame in reversed(frames):
            m = _FRAME.match(frame)
            name = _package(m.group("file") if m else frame)
            if name is not None:
                charged = name
                break
        package[charged] += n
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "top_leaf_functions": [(k, v / total) for k, v in leaf.most_common(top)],
        "by_package": [(k, v / total) for k, v in package.most_common()],
    }
