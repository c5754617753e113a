"""Evaluation harness: score the detector on labelled simulated scenarios.

* :mod:`streamer.evaluation.metrics` — pure metric functions (labels + alerts -> numbers).
* :mod:`streamer.evaluation.runner` — offline replay and the real Kafka path.
* :mod:`streamer.evaluation.report` — ``report.json``, ``report.html``, PNG plots, ``summary.md``.
* :mod:`streamer.evaluation.command` — the ``streamer evaluate`` sub-command.

Nothing here is imported by the detector; importing this package does no I/O.
"""
