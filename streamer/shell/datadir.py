"""The worker's local data dir must belong to the cluster and the changelogs it runs against.

A data dir left over from another Kafka cluster, or from changelog topics that were deleted
and created again, holds table partitions whose recorded changelog offsets those topics never
reached. Faust then either crash-loops (``ConsistencyError``: persisted offset above the
high-water mark) or, when the new topic is still empty, silently serves the old state.

Before the worker starts, :func:`check_data_dir`:

1. compares the Kafka cluster id with the one recorded in ``<data_dir>/streamer-identity.json``;
   on a mismatch the whole table directory is moved aside;
2. compares each local table partition's recorded changelog offset with the changelog's end
   offset; a partition the changelog cannot have written is moved aside;

and logs one line for each move, naming the path it was moved to. Tables moved aside are
rebuilt from the changelog topics by Faust's recovery, as on a fresh worker; nothing is
deleted, so an operator can still inspect what was moved.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from streamer.settings import Settings
from streamer.shell import faust_compat

log = logging.getLogger("streamer.datadir")
IDENTITY_FILE = "streamer-identity.json"


def _cluster_id(settings: Settings) -> str | None:
    from streamer.shell.localkafka import admin_client

    try:
        with admin_client(settings.bootstrap_servers, 15,
                          settings.kafka_client_options()) as admin:
            info = admin.describe_cluster()
    except Exception as exc:  # the broker is not reachable: Faust will say so itself
        log.warning("data dir check skipped: cannot read the Kafka cluster id (%s)", exc)
        return None
    cid = info.get("cluster_id") if isinstance(info, dict) else None
    return str(cid) if cid else None


def _end_offsets(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             **settings.kafka_client_options())
    try:
        known = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in range(partitions) if p in known]
        ends = consumer.end_offsets(tps) if tps else {}
        return {tp.partition: int(off) for tp, off in ends.items()}
    finally:
        consumer.close()


def _move_aside(path: Path, why: str) -> Path:
    target = path.with_name(f"{path.name}.stale-{time.strftime('%Y%m%dT%H%M%S')}")
    path.rename(target)
    log.warning("%s: moved %s to %s; the worker rebuilds it from the changelog", why, path,
                target)
    return target


def check_data_dir(settings: Settings, app: Any) -> list[Path]:
    """Move aside local table data that does not belong to this cluster's changelogs;
    returns the paths things were moved to."""
    moved: list[Path] = []
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    identity_path = data_dir / IDENTITY_FILE
    cluster = _cluster_id(settings)
    if cluster is None:
        return moved
    recorded: dict[str, Any] = {}
    if identity_path.exists():
        try:
            loaded = json.loads(identity_path.read_text())
            recorded = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            recorded = {}
    tabledir = Path(app.conf.tabledir)
    old = recorded.get("cluster_id")
    if old and old != cluster and tabledir.exists():
        moved.append(_move_aside(tabledir, f"the data dir was written for Kafka cluster {old}, "
                                           f"this is {cluster}"))
    elif settings.store.startswith("rocksdb"):
        for table in app.tables.values():
            paths = {p: faust_compat.table_partition_path(table, p)
                     for p in range(settings.partitions)}
            present = {p: path for p, path in paths.items() if path is not None and path.exists()}
            if not present:
                continue
            persisted = {p: faust_compat.persisted_offset(path) for p, path in present.items()}
            topic = table.changelog_topic_name
            ends = _end_offsets(settings, topic, settings.partitions)
            for p in faust_compat.stale_partitions(persisted, ends):
                moved.append(_move_aside(present[p], f"{topic}[{p}] ends at offset "
                                         f"{ends.get(p, 0)} but the local table recorded "
                                         f"{persisted[p]} (the topic was deleted or recreated)"))
    identity_path.write_text(json.dumps({"cluster_id": cluster, "app_id": settings.app_id}))
    return moved
