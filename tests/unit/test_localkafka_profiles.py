"""Local broker profiles (SASL/SCRAM, Kafka 4.x): names, ports, rendered config, no Java."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.errors import ConfigError
from streamer.shell import localkafka
from streamer.shell.localkafka import Profile


def _props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def test_profiles_have_separate_dirs_and_ports() -> None:
    profiles = [Profile(), Profile(sasl=True), Profile("4.1.2"), Profile("4.1.2", sasl=True)]
    assert len({localkafka.runtime_dir(p) for p in profiles}) == 4
    assert [p.default_port({}) for p in profiles] == [19092, 19094, 19096, 19098]
    assert Profile(sasl=True).default_port({"KAFKA_SASL_PORT": "29094",
                                            "KAFKA_PORT": "1"}) == 29094
    assert Profile().default_port({"KAFKA_PORT": "29092"}) == 29092
    # one jars/ directory per version
    assert localkafka.jars_dir(Profile(sasl=True)) == localkafka.jars_dir(Profile())
    assert localkafka.jars_dir(Profile("4.1.2")) != localkafka.jars_dir(Profile())


def test_unknown_versions_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"3\.9\.2, 4\.1\.2"):
        Profile("2.8.0")


def test_sasl_overlay_replaces_the_listeners(tmp_path: Path) -> None:
    deploy = localkafka.find_deploy_dir()
    base = localkafka.render_properties((deploy / "server.properties").read_text(), port=19094,
                                        controller_port=19095, log_dirs=tmp_path)
    overlay = localkafka.render_properties(
        (deploy / "sasl.properties").read_text(), port=19094, controller_port=19095,
        log_dirs=tmp_path, extra={"@ADMIN_PASSWORD@": "pw"})
    text = localkafka.merge_properties(base, overlay)
    props = _props(text)
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:19094"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert 'password="pw";' in props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert "PLAINTEXT://127.0.0.1:19094" not in text.replace("SASL_PLAINTEXT", "")
    keys = [line.split("=", 1)[0] for line in text.splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(keys) == len(set(keys)), "a key is set twice"


def test_kafka4_logs_through_log4j2(tmp_path: Path) -> None:
    command = localkafka._java_command(tmp_path, "kafka.Kafka", profile=Profile("4.1.2"))
    assert any(arg.startswith("-Dlog4j2.configurationFile=") for arg in command)
    assert (localkafka.find_deploy_dir() / "log4j2.properties").is_file()
    assert command[command.index("-cp") + 1].endswith("kafka-4.1.2/jars/*")
    old = localkafka._java_command(tmp_path, "kafka.Kafka")
    assert any(arg.startswith("-Dlog4j.configuration=") for arg in old)
