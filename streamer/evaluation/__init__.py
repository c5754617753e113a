"""Evaluation harness: score the detector on labelled simulated scenarios.

* :mod:`streamer.evaluation.metrics` — pure metric functions (labels + alerts -> numbers).
* :mod:`streamer.evaluation.curves` — detection against a campaign parameter, ROC and PR.
* :mod:`streamer.evaluation.runner` — offline replay (first simulator, its split parts, the
  red team) and the real Kafka path.
* :mod:`streamer.evaluation.heldout` — the held-out headline: red-team scenarios and the
  calibration/held-out split, curves, ``reports/heldout/`` and the README table.
* :mod:`streamer.evaluation.report` — ``report.json``, ``report.html``, PNG plots, ``summary.md``.
* :mod:`streamer.evaluation.command` — the ``streamer evaluate`` sub-command.

Nothing here is imported by the detector; importing this package does no I/O.
"""
