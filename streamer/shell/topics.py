"""Create the topics streamer uses (``streamer topics``), idempotently, with kafka-python's admin.

The topics come from :class:`~streamer.settings.Settings`: input, alerts, dead-letter, features
and feedback, each with ``settings.partitions`` partitions and ``settings.replication_factor``
replicas. Topics that already exist are left as they are.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)
from rich.console import Console
from rich.table import Table

from streamer.errors import BrokerError, StreamerError
from streamer.settings import Settings
from streamer.shell.localkafka import admin_client

console = Console()


@contextlib.contextmanager
def _admin(bootstrap: str, options: Mapping[str, object] | None) -> Iterator[Any]:
    """An admin client whose Kafka errors surface as :class:`BrokerError`."""
    try:
        with admin_client(bootstrap, 30, options) as admin:
            yield admin
    except KafkaError as exc:
        raise BrokerError(f"Kafka at {bootstrap}: {exc}") from exc


def wanted_topics(settings: Settings, extra: Mapping[str, int] | None = None) -> dict[str, int]:
    """Topic name -> partition count: the five topics of ``settings`` plus ``extra``.

    >>> wanted_topics(Settings(partitions=2), {"x": 1})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'inference-events': 2, 'extraction-risk': 2, 'inference-events-dlq': 2,
     'customer-features': 2, 'extraction-feedback': 2, 'x': 1}
    """
    names = (settings.input_topic, settings.alerts_topic, settings.dlq_topic,
             settings.features_topic, settings.feedback_topic)
    return {**dict.fromkeys(names, settings.partitions), **(extra or {})}


def _create(settings: Settings, wanted: Mapping[str, int]) -> dict[str, bool]:
    """Create the missing topics; returns name -> whether this call created it."""
    with _admin(settings.bootstrap_servers, settings.kafka_client_options()) as admin:
        missing = set(wanted) - set(admin.list_topics())
        if missing:
            spec = {name: {"num_partitions": wanted[name],
                           "replication_factor": settings.replication_factor}
                    for name in missing}
            result = admin.create_topics(spec, raise_errors=False)
            for topic in result["topics"]:
                if topic["error_code"] == TopicAlreadyExistsError.errno:  # created meanwhile
                    missing.discard(topic["name"])
                elif topic["error_code"]:
                    error = for_code(topic["error_code"]).__name__
                    raise BrokerError(f"cannot create topic {topic['name']}: {error} "
                                      f"{topic.get('error_message') or ''}".rstrip())
            admin.wait_for_topics(sorted(missing), timeout_ms=30_000)
    return {name: name in missing for name in wanted}


def ensure_topics(settings: Settings, extra: Mapping[str, int] | None = None) -> None:
    """Create the topics of ``settings`` (and ``extra``: name -> partitions) unless they exist.

    Returns once every topic has a leader for each partition. Raises :class:`BrokerError`.
    """
    _create(settings, wanted_topics(settings, extra))


def delete_topics(
    bootstrap: str, names: Iterable[str], options: Mapping[str, object] | None = None
) -> None:
    """Delete topics, ignoring those that do not exist (a clean-up helper for tests)."""
    names = list(names)
    if not names:
        return
    with _admin(bootstrap, options) as admin:
        result = admin.delete_topics(names, raise_errors=False)
        for topic in result["topics"]:
            code = topic["error_code"]
            if code and code != UnknownTopicOrPartitionError.errno:
                raise BrokerError(f"cannot delete topic {topic['name']}: {for_code(code).__name__}")


def describe_partitions(settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """Topic name -> number of partitions, for the topics of ``names`` that exist."""
    with _admin(settings.bootstrap_servers, settings.kafka_client_options()) as admin:
        described: list[dict[str, Any]] = admin.describe_topics(list(names))
    return {t["name"]: len(t["partitions"]) for t in described if not t["error_code"]}


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``streamer topics`` takes no arguments: everything comes from the environment."""
    parser.epilog = ("Topic names, partitions and the cluster come from the environment: "
                     "STREAMER_*_TOPIC, STREAMER_PARTITIONS, KAFKA_BOOTSTRAP_SERVERS, KAFKA_PORT.")


def run(args: argparse.Namespace) -> int:
    """Create the topics from ``Settings.from_env()`` and print them as a table."""
    try:
        settings = Settings.from_env()
        wanted = wanted_topics(settings)
        created = _create(settings, wanted)
        partitions = describe_partitions(settings, wanted)
    except StreamerError as exc:
        console.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 1
    table = Table(title=f"Topics on {settings.bootstrap_servers}")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("")
    for name in wanted:
        state = "created" if created[name] else "existed"
        table.add_row(name, str(partitions.get(name, "?")), state)
    console.print(table)
    return 0
