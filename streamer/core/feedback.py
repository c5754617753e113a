"""Validation of analyst feedback that ends up in stored state.

A ``false_positive`` verdict may name the ``signals`` to damp for the customer; each name becomes
a key of the customer's stored :class:`~streamer.core.customer.FeedbackState`. Only names of the
signal table (:data:`streamer.core.scoring.SIGNAL_BY_NAME`) mean anything, so every other name
is dropped, repeats are dropped, and at most :data:`MAX_FEEDBACK_SIGNALS` are kept: feedback
cannot grow a customer's state.

>>> validate_signal_names(["cot_rate", "no_such_signal", "cot_rate", 5, "harvest_rate"])
('cot_rate', 'harvest_rate')
>>> validate_signal_names("cot_rate")
()
"""

from __future__ import annotations

from typing import Any

from streamer.core.scoring import SIGNAL_BY_NAME

MAX_FEEDBACK_SIGNALS = 16


def validate_signal_names(names: Any) -> tuple[str, ...]:
    """The known signal names among ``names`` (a list or tuple), first occurrence order, capped.

    Anything that is not a list or tuple of strings contributes nothing (a bare string is not
    read as a list of its characters).
    """
    if not isinstance(names, list | tuple):
        return ()
    out: list[str] = []
    for name in names:
        if isinstance(name, str) and name in SIGNAL_BY_NAME and name not in out:
            out.append(name)
            if len(out) == MAX_FEEDBACK_SIGNALS:
                break
    return tuple(out)
