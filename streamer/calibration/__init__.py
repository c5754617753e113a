"""Fitting the detector's scoring on calibration traffic only (``streamer calibrate``).

* :mod:`streamer.calibration.collect` — simulate many randomised scenarios on the
  *calibration* side of the split (:mod:`streamer.sim.split`: calibration corpora, calibration
  bands of every generator parameter, many seeds and mixes) and replay them through the real
  core, recording every customer's evidence ramps at every scoring point with the simulator's
  ground truth;
* :mod:`streamer.calibration.fit` — a sign-constrained L2 logistic regression over those
  ramps, per scoring point or (``--objective bag``) per customer (a multiple-instance loss
  on a smooth maximum of each customer's scoring points, as the alert rule takes the maximum),
  with its hyperparameters chosen by cross-validation grouped by scenario, then the prior
  placed so that *medium* sits at a target false-positive rate of ordinary customers;
* :mod:`streamer.calibration.command` — the CLI, which writes the weights with their seed,
  data description and date into ``streamer/core/weights/detector-weights.json``.

Nothing here reads the held-out corpora (``prompts/heldout_*``) or the held-out bands.
"""
