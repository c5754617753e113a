"""The pure detection core: no Kafka, no clock, no environment reads.

Everything here is ``step(state, event) -> (state, outputs)`` or River-style ``learn_one`` /
``score_one``, so it can be replayed offline at full speed and tested without a broker.
"""
