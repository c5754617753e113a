"""Settings are checked at start-up: SASL without a mechanism, bad enums, secrets out of repr."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from streamer.errors import ConfigError
from streamer.settings import Secret, Settings

SASL = {"STREAMER_SASL_USERNAME": "svc", "STREAMER_SASL_PASSWORD": "s3cr3t-pw"}


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL", "sasl_ssl"])
def test_sasl_without_a_mechanism_is_rejected_with_a_clear_message(protocol: str) -> None:
    with pytest.raises(ConfigError, match=r"needs STREAMER_SASL_MECHANISM \(one of PLAIN"):
        Settings.from_env({"STREAMER_SECURITY_PROTOCOL": protocol, **SASL})


def test_sasl_without_credentials_is_rejected() -> None:
    with pytest.raises(ConfigError, match="STREAMER_SASL_USERNAME and STREAMER_SASL_PASSWORD"):
        Settings.from_env({"STREAMER_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                           "STREAMER_SASL_MECHANISM": "PLAIN"})


def test_a_mechanism_without_a_sasl_protocol_is_rejected() -> None:
    with pytest.raises(ConfigError, match="does not use SASL"):
        Settings.from_env({"STREAMER_SASL_MECHANISM": "PLAIN", **SASL})


@pytest.mark.parametrize(("protocol", "mechanism", "want"), [
    ("sasl_plaintext", "scram-sha-512", ("SASL_PLAINTEXT", "SCRAM-SHA-512")),
    (" Sasl_Ssl ", "scram_sha_256", ("SASL_SSL", "SCRAM-SHA-256")),
    ("sasl-plaintext", "plain", ("SASL_PLAINTEXT", "PLAIN")),
])
def test_lowercase_names_are_normalised(protocol: str, mechanism: str,
                                        want: tuple[str, str]) -> None:
    s = Settings.from_env({"STREAMER_SECURITY_PROTOCOL": protocol,
                           "STREAMER_SASL_MECHANISM": mechanism, **SASL})
    assert (s.security_protocol, s.sasl_mechanism) == want
    opts = s.kafka_client_options()
    assert opts["security_protocol"] == want[0] and opts["sasl_mechanism"] == want[1]
    assert opts["sasl_plain_password"] == "s3cr3t-pw"


@pytest.mark.parametrize(("key", "value"), [
    ("STREAMER_SECURITY_PROTOCOL", "TLS"),
    ("STREAMER_PROCESSING_GUARANTEE", "at_most_once"),
    ("STREAMER_LOG_LEVEL", "loud"),
])
def test_unknown_enum_values_name_the_variable_and_the_choices(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}=.*expected one of"):
        Settings.from_env({key: value})


def test_password_stays_out_of_repr_str_and_errors() -> None:
    s = Settings.from_env({"STREAMER_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                           "STREAMER_SASL_MECHANISM": "SCRAM-SHA-512", **SASL})
    for text in (repr(s), str(s), repr(s.sasl_password), f"{s.sasl_password}"):
        assert "s3cr3t-pw" not in text
    assert s.sasl_password.get() == "s3cr3t-pw"
    assert isinstance(s.sasl_password, Secret)


def test_direct_construction_is_validated_and_normalised_too() -> None:
    s = Settings(security_protocol="sasl_plaintext", sasl_mechanism="plain",  # type: ignore[arg-type]
                 sasl_username="u", sasl_password="p")  # type: ignore[arg-type]
    assert s.sasl_password == Secret("p") and s.security_protocol == "SASL_PLAINTEXT"
    with pytest.raises(ConfigError):
        dataclasses.replace(s, sasl_mechanism="")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.app_id = "x"  # type: ignore[misc]


def test_settings_survive_a_pickle_round_trip() -> None:
    """Faust may copy settings into child processes: the secret must round-trip."""
    s = Settings.from_env({"STREAMER_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                           "STREAMER_SASL_MECHANISM": "PLAIN", **SASL})
    assert pickle.loads(pickle.dumps(s)) == s


def test_plaintext_defaults_still_work() -> None:
    s = Settings.from_env({})
    assert s.security_protocol == "PLAINTEXT" and not s.sasl_password
    assert s.kafka_client_options() == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("value", ["2", "5.9", "4000"])
def test_a_session_timeout_the_broker_would_refuse_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="STREAMER_SESSION_TIMEOUT_S"):
        Settings.from_env({"STREAMER_SESSION_TIMEOUT_S": value})


def test_the_worker_leaves_the_group_within_the_session_timeout() -> None:
    from streamer.shell.faust_app import create_app

    app = create_app(Settings.from_env({"STREAMER_SESSION_TIMEOUT_S": "12",
                                        "STREAMER_STORE": "memory://"}))
    assert app.conf.broker_session_timeout == 12.0
    assert app.conf.broker_heartbeat_interval * 3 <= 12.0
