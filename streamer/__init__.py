"""streamer — real-time detection of model-extraction campaigns against an LLM API.

The package is split the way the architecture is:

* :mod:`streamer.core` — the pure detection core (no Kafka, no clock, no environment).
* :mod:`streamer.shell` — the thin Faust/Kafka shell around it.
* :mod:`streamer.sim` — the labelled traffic simulator.
* :mod:`streamer.evaluation` — offline and Kafka-path evaluation with reports.
"""

__version__ = "0.1.0"
