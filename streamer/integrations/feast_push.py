"""``streamer feast-push``: the ``customer-features`` topic into a Feast push source.

Every record (one customer, one closed window) becomes one row of the push source
``customer_features_push`` of the repository in ``deploy/feast/`` (entity ``customer``, feature
view ``customer_features``), written with ``PushMode.ONLINE_AND_OFFLINE``: the online store
(SQLite) serves the latest window per customer to ``get_online_features``, the offline store
(parquet) keeps every window for training and ``get_historical_features``.

Feast is an optional extra (``pip install 'streamer[feast]'``); it is imported only by this
command. Apply the repository first (``feast -c deploy/feast apply``).

Columns are the feature view's: ``customer_id``, ``window_end`` (event time), ``created``
(when pushed), ``risk``, ``severity``, ``events_in_window``, ``events_total`` and one column per
signal. A signal missing from a record is pushed as null; a name the view does not know is
dropped. Pushing the same record twice writes the same row (same entity and event time), so
re-delivery after a crash is harmless online; the offline log may then hold the row twice,
with the later ``created`` winning in point-in-time joins.

>>> from streamer.integrations.records import parse_feature_record
>>> row = feature_row(parse_feature_record(b'{"customer_id":"c1",'
...     b'"window_start":"2026-01-01T00:00:00Z","window_end":"2026-01-01T00:05:00Z",'
...     b'"events_in_window":3,"events_total":9,"risk":0.25,"severity":"low",'
...     b'"features":{"cot_rate":0.5,"not_a_signal":1.0},"detector_version":"1"}'))
>>> row["customer_id"], row["risk"], row["cot_rate"], row["logit_bias_rate"]
('c1', 0.25, 0.5, None)
>>> "not_a_signal" in row, row["window_end"].isoformat()
(False, '2026-01-01T00:05:00+00:00')
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamer.core.scoring import SIGNALS
from streamer.errors import ConfigError
from streamer.integrations.records import FeatureRow, parse_feature_record
from streamer.integrations.sink import DeliveryError, Sink, add_consumer_arguments, run_command
from streamer.settings import Settings

log = logging.getLogger("streamer.integrations.feast")

PUSH_SOURCE = "customer_features_push"
FEATURE_VIEW = "customer_features"
SIGNAL_NAMES = tuple(s.name for s in SIGNALS)
COUNT_COLUMNS = ("events_in_window", "events_total")


def default_repo() -> Path:
    """``deploy/feast`` of this checkout."""
    return Path(__file__).resolve().parents[2] / "deploy" / "feast"


def feature_row(rec: FeatureRow, created: datetime | None = None) -> dict[str, Any]:
    """One push-source row for a record."""
    row: dict[str, Any] = {
        "customer_id": rec.customer_id,
        "window_end": datetime.fromtimestamp(rec.window_end_ms / 1000, tz=UTC),
        "created": created or datetime.now(tz=UTC),
        "risk": rec.risk,
        "severity": rec.severity or "none",
        "events_in_window": rec.events_in_window,
        "events_total": rec.events_total,
    }
    for name in SIGNAL_NAMES:
        row[name] = rec.features.get(name)
    return row


def _frame(rows: list[dict[str, Any]]) -> Any:
    """Rows as a DataFrame with the feature view's column types."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    for name in SIGNAL_NAMES:
        frame[name] = frame[name].astype("float64")
    for name in COUNT_COLUMNS:
        frame[name] = frame[name].astype("int64")
    for name in ("customer_id", "severity"):  # typed even when empty (not parquet's null)
        frame[name] = frame[name].astype("string")
    return frame


class FeastPush:
    """Pushes batches of feature records to a Feast repository's push source."""

    def __init__(self, repo: Path) -> None:
        try:
            from feast import FeatureStore
        except ImportError as exc:
            raise ConfigError("streamer feast-push needs Feast: pip install 'streamer[feast]'"
                              ) from exc
        if not (repo / "feature_store.yaml").is_file():
            raise ConfigError(f"{repo} is not a Feast repository (no feature_store.yaml)")
        self.store = FeatureStore(repo_path=str(repo))
        self.dropped = 0
        self._ensure_offline_file()

    def _ensure_offline_file(self) -> None:
        """The file offline store appends to the push source's parquet file: create it empty."""
        source = self.store.get_data_source(PUSH_SOURCE)
        path = Path(getattr(getattr(source, "batch_source", None), "path", "") or "")
        if path.suffix == ".parquet" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            empty = FeatureRow("", 0, 0, 0, 0, 0.0, None, {}, "")
            _frame([feature_row(empty)]).iloc[0:0].to_parquet(path, index=False)

    def deliver(self, records: Sequence[FeatureRow]) -> None:
        from feast.data_source import PushMode

        created = datetime.now(tz=UTC)
        self.dropped += sum(len(set(r.features) - set(SIGNAL_NAMES)) for r in records)
        frame = _frame([feature_row(r, created) for r in records])
        try:
            self.store.push(PUSH_SOURCE, frame, to=PushMode.ONLINE_AND_OFFLINE)
        except (OSError, ValueError) as exc:  # store files unavailable, schema mismatch
            raise DeliveryError(f"Feast push to {PUSH_SOURCE} failed: {exc}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, default=None,
                        help="Feast repository (default: deploy/feast of this checkout)")
    add_consumer_arguments(parser, topic_help="features topic (default: "
                                              "STREAMER_FEATURES_TOPIC)", group_suffix="feast")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    pusher = FeastPush((args.repo or default_repo()).resolve())
    sink: Sink[FeatureRow] = Sink("feast", parse_feature_record, pusher.deliver)
    code = run_command(sink, settings, args, settings.features_topic, "feast")
    log.info("feast: %d unknown feature values dropped", pusher.dropped)
    return code
