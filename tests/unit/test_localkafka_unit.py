"""The local broker's configuration and CLI glue, without Java or a broker."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from streamer.errors import BrokerError
from streamer.shell import localkafka


def _render(port: int = 29092, log_dirs: Path = Path("/tmp/k data")) -> dict[str, str]:
    template = (localkafka.find_deploy_dir() / "server.properties").read_text()
    text = localkafka.render_properties(template, port=port, controller_port=port + 1,
                                        log_dirs=log_dirs)
    assert not re.search(r"@[A-Z_]+@", text)
    pairs = (line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_placeholders_are_substituted() -> None:
    props = _render()
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["log.dirs"] == "/tmp/k data"


def test_single_node_settings_suit_tests() -> None:
    props = _render()
    assert props["process.roles"] == "broker,controller"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "default.replication.factor"):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "4"
    assert props["auto.create.topics.enable"] == "true"
    assert 1_048_576 < int(props["message.max.bytes"]) <= int(props["replica.fetch.max.bytes"])


def test_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(BrokerError, match="@NOPE@"):
        localkafka.render_properties("a=@NOPE@", port=1, controller_port=2, log_dirs=Path("/d"))


def test_log4j_config_writes_to_the_log_dir() -> None:
    text = (localkafka.find_deploy_dir() / "log4j.properties").read_text()
    assert "log4j.rootLogger=WARN" in text
    assert "${kafka.logs.dir}/server.log" in text


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {localkafka.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_port_comes_from_kafka_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PORT", "29092")
    parser = argparse.ArgumentParser()
    localkafka.add_arguments(parser)
    assert parser.parse_args(["up"]).port == 29092
    monkeypatch.delenv("KAFKA_PORT")
    assert parser.parse_args(["status", "--port", "1234"]).port == 1234
    assert localkafka.default_port() == 19092


def test_external_cluster_down_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setattr(localkafka, "down", lambda: pytest.fail("down() must not be called"))
    args = argparse.Namespace(action="down", port=19092, timeout=1.0)
    assert localkafka.run(args) == 0
