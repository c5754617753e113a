"""Versioned state codec: what goes into Faust tables (``value_type=bytes``).

Layout: ``b"STRM"`` + schema version (1 byte) + header length (2 bytes) + JSON header
(``{"schema": …, "river": …, "kind": …}``) + zlib-compressed pickle of the state object.

Pickle is used because River models are pickled by design; the bytes only ever travel through
the worker's own changelog topics. A state written under another schema version or River
minor version is refused with :class:`~streamer.errors.StateCodecError` rather than silently
misread.

>>> from streamer.core.customer import CustomerState
>>> s = CustomerState("c1", events_total=3)
>>> decode(encode(s)).events_total
3
>>> decode(b"nonsense")
Traceback (most recent call last):
...
streamer.errors.StateCodecError: not streamer state (bad magic)
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

import orjson
import river

from streamer.errors import StateCodecError

MAGIC = b"STRM"
SCHEMA_VERSION = 1


def _river_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def encode(state: Any) -> bytes:
    header = orjson.dumps(
        {"schema": SCHEMA_VERSION, "river": river.__version__, "kind": type(state).__name__}
    )
    payload = zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 6)
    return MAGIC + bytes([SCHEMA_VERSION]) + len(header).to_bytes(2, "big") + header + payload


def decode(data: bytes) -> Any:
    if not data.startswith(MAGIC) or len(data) < 7:
        raise StateCodecError("not streamer state (bad magic)")
    if data[4] != SCHEMA_VERSION:
        raise StateCodecError(f"state schema {data[4]} is not {SCHEMA_VERSION}")
    size = int.from_bytes(data[5:7], "big")
    header = orjson.loads(data[7 : 7 + size])
    if _river_minor(header.get("river", "")) != _river_minor(river.__version__):
        raise StateCodecError(
            f"state written with river {header.get('river')}, running {river.__version__}"
        )
    try:
        return pickle.loads(zlib.decompress(data[7 + size :]))
    except Exception as exc:
        raise StateCodecError(f"corrupt state: {exc}") from exc
