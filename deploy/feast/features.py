"""Feast definitions for the ``customer-features`` record (one row per customer and window).

- entity ``customer`` (join key ``customer_id``);
- push source ``customer_features_push``, backed by ``data/customer_features.parquet`` (the
  offline store's copy of every pushed row; event time ``window_end``);
- feature view ``customer_features``: ``risk``, ``severity``, ``events_in_window``,
  ``events_total`` and one Float64 feature per detection signal, named as in the record's
  ``features`` object. The signal list is streamer's own (``streamer.core.scoring.SIGNALS``),
  so the view always matches what the worker emits; streamer must be importable where
  ``feast apply`` runs.
"""

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float64, Int64, String

from streamer.core.scoring import SIGNALS

HERE = Path(__file__).resolve().parent

customer = Entity(
    name="customer", join_keys=["customer_id"], value_type=ValueType.STRING,
    description="an API customer (account) as seen by streamer",
)

customer_features_file = FileSource(
    name="customer_features_file",
    path=str(HERE / "data" / "customer_features.parquet"),
    timestamp_field="window_end",
    created_timestamp_column="created",
)

customer_features_push = PushSource(
    name="customer_features_push", batch_source=customer_features_file,
)

customer_features = FeatureView(
    name="customer_features",
    entities=[customer],
    ttl=timedelta(days=7),
    schema=[
        Field(name="risk", dtype=Float64, description="extraction risk of the window, 0..1"),
        Field(name="severity", dtype=String, description="none/low/medium/high/critical"),
        Field(name="events_in_window", dtype=Int64),
        Field(name="events_total", dtype=Int64),
        *[Field(name=s.name, dtype=Float64, description=s.description) for s in SIGNALS],
    ],
    source=customer_features_push,
    online=True,
    tags={"producer": "streamer", "topic": "customer-features"},
)
