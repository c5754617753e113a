"""Input formats: adapters from real gateway log shapes to the native event contract.

``STREAMER_INPUT_FORMAT`` picks one of :data:`INPUT_FORMATS`; ``auto`` (the default) recognises
each message by its shape, in this order:

1. ``call_type`` (or a ``standard_logging_object`` wrapper) -> :mod:`.litellm`;
2. ``request`` / ``response`` pair -> :mod:`.anthropic` when the response (or request) has the
   Messages API's shape, else :mod:`.openai`;
3. GenAI attributes (``attributes`` with ``gen_ai.*`` keys, or flat ``gen_ai.*`` keys) ->
   :mod:`.otel`;
4. anything else -> ``native`` (:mod:`streamer.core.events`).

(So in ``auto`` mode a native event should not carry top-level ``call_type``, ``request``,
``response`` or ``attributes`` fields of its own; set ``STREAMER_INPUT_FORMAT=native`` if it
must. Native-named fields always win over an adapter's, so such an event mostly survives.)

Each adapter maps the format's fields to native ones (its module documents which field gives the
customer, event id and time) and hands the result to the native validator, so the same leniency,
drop counting and dead-letter reasons apply to every format.

>>> detect({"event_id": "e1", "ts": 0}), detect({"request": {}, "response": {"type": "message"}})
('native', 'anthropic')
>>> detect({"call_type": "completion"}), detect({"attributes": {"gen_ai.request.model": "m"}})
('litellm', 'otel')
>>> check_format("openai"), check_format("OTEL")
('openai', 'otel')
>>> check_format("xml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown input format 'xml': expected one of auto, native, openai, ...
"""

from __future__ import annotations

from typing import Any

from streamer.core.formats import anthropic, litellm, openai, otel
from streamer.core.formats.common import Drops

INPUT_FORMATS: tuple[str, ...] = ("auto", "native", "openai", "anthropic", "otel", "litellm")


def check_format(name: str) -> str:
    """The canonical name of an input format, or :class:`ValueError` naming the allowed ones."""
    canonical = name.strip().lower()
    if canonical not in INPUT_FORMATS:
        raise ValueError(f"unknown input format {name!r}: expected one of "
                         + ", ".join(INPUT_FORMATS))
    return canonical


def detect(obj: dict[str, Any]) -> str:
    """The format of one parsed message (``auto`` mode); ``native`` when nothing else fits."""
    if "call_type" in obj or "standard_logging_object" in obj:
        return "litellm"
    if "request" in obj or "response" in obj:
        return "anthropic" if anthropic.matches(obj) and not openai.matches(obj) \
            else "openai"
    if "attributes" in obj or "gen_ai.request.model" in obj or "gen_ai.operation.name" in obj:
        return "otel" if otel.matches(obj) else "native"
    return "native"


def to_native_with_drops(obj: dict[str, Any], input_format: str = "auto"
                         ) -> tuple[dict[str, Any], Drops]:
    """``obj`` as a native event dict, with the drops the adapter itself had to make."""
    fmt = detect(obj) if input_format == "auto" else input_format
    if fmt == "native":
        return obj, []
    if fmt == "openai":
        return openai.to_native(obj), []
    if fmt == "anthropic":
        return anthropic.to_native(obj), []
    if fmt == "litellm":
        return litellm.to_native(obj), []
    if fmt == "otel":
        return otel.to_native_with_drops(obj)
    raise ValueError(f"unknown input format {input_format!r}")


def to_native(obj: dict[str, Any], input_format: str = "auto") -> dict[str, Any]:
    """``obj`` as a native event dict (see :func:`to_native_with_drops`)."""
    return to_native_with_drops(obj, input_format)[0]
