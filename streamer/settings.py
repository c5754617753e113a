"""One frozen settings object, read from the environment once, at the edge.

The pure core never reads the environment; the shell builds :class:`Settings` with
:meth:`Settings.from_env` and passes what the core needs explicitly.

>>> s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
...                        "STREAMER_ALERTS_TOPIC": "a"})
>>> s.bootstrap_servers, s.alerts_topic, s.input_topic
('k1:9092,k2:9092', 'a', 'inference-events')
>>> s.local_broker
False
>>> Settings.from_env({}).bootstrap_servers
'127.0.0.1:19092'

Protocol and mechanism names are case-insensitive; the password never shows in ``repr``:

>>> s = Settings.from_env({"STREAMER_SECURITY_PROTOCOL": "sasl_plaintext",
...     "STREAMER_SASL_MECHANISM": "scram-sha-512", "STREAMER_SASL_USERNAME": "u",
...     "STREAMER_SASL_PASSWORD": "hunter2"})
>>> s.security_protocol, s.sasl_mechanism, s.sasl_password
('SASL_PLAINTEXT', 'SCRAM-SHA-512', Secret('********'))
>>> "hunter2" in repr(s), s.sasl_password.get()
(False, 'hunter2')
>>> Settings.from_env({"STREAMER_SECURITY_PROTOCOL": "SASL_SSL"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
streamer.errors.ConfigError: STREAMER_SECURITY_PROTOCOL=SASL_SSL needs STREAMER_SASL_MECHANISM ...
"""

from __future__ import annotations

import functools
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Literal

from streamer.errors import ConfigError

DEFAULT_LOCAL_PORT = 19092

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
KeyPolicy = Literal["dead_letter", "count", "ignore"]


class Secret:
    """A string that is not shown by ``repr``/``str`` (logs, tracebacks); ``get()`` reveals it.

    >>> s = Secret("hunter2")
    >>> s, f"{s}", s.get(), bool(Secret())
    (Secret('********'), "Secret('********')", 'hunter2', False)
    """

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


NO_SECRET = Secret()

# How each case-insensitive field is normalised before it is checked against its Literal type.
_NORMALISE: dict[str, Callable[[str], str]] = {
    "security_protocol": lambda v: v.strip().upper().replace("-", "_"),
    "sasl_mechanism": lambda v: v.strip().upper().replace("_", "-"),
    "processing_guarantee": lambda v: v.strip().lower().replace("-", "_"),
    "log_level": lambda v: v.strip().lower(),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with its environment variable in the field's docstring table.

    ==============================  ====================================  ==========================
    field                           environment variable                  default
    ==============================  ====================================  ==========================
    bootstrap_servers               KAFKA_BOOTSTRAP_SERVERS               127.0.0.1:$KAFKA_PORT
    input_topic                     STREAMER_INPUT_TOPIC                  inference-events
    alerts_topic                    STREAMER_ALERTS_TOPIC                 extraction-risk
    dlq_topic                       STREAMER_DLQ_TOPIC                    inference-events-dlq
    features_topic                  STREAMER_FEATURES_TOPIC               customer-features
    feedback_topic                  STREAMER_FEEDBACK_TOPIC               extraction-feedback
    app_id                          STREAMER_APP_ID                       streamer
    security_protocol               STREAMER_SECURITY_PROTOCOL            PLAINTEXT (any case)
    sasl_mechanism                  STREAMER_SASL_MECHANISM               (none; any case)
    sasl_username / sasl_password   STREAMER_SASL_USERNAME / _PASSWORD    (none; a Secret)
    alertmanager_url                STREAMER_ALERTMANAGER_URL             http://127.0.0.1:9093
    dashboard_url                   STREAMER_DASHBOARD_URL                http://web_host:web_port
    webhook_url / webhook_secret    STREAMER_WEBHOOK_URL / _SECRET        (none; a Secret)
    web_bind                        STREAMER_WEB_BIND                     127.0.0.1
    web_host (advertised)           STREAMER_WEB_HOST                     127.0.0.1
    web_token (secret)              STREAMER_WEB_TOKEN                    (none: no auth)
    health_stall_s                  STREAMER_HEALTH_STALL_S               60
    test_wedge_after (tests only)   STREAMER_TEST_WEDGE_AFTER             0
    test_fail_on (tests only)       STREAMER_TEST_FAIL_ON                 (none)
    input_format                    STREAMER_INPUT_FORMAT                 auto
    dlq_guard_window                STREAMER_DLQ_GUARD_WINDOW             1000
    dlq_guard_threshold             STREAMER_DLQ_GUARD_THRESHOLD          0.05
    max_cached_states               STREAMER_MAX_CACHED_STATES            100000
    timer_budget                    STREAMER_TIMER_BUDGET                 2000
    max_future_skew_s               STREAMER_MAX_FUTURE_SKEW_S            3600
    key_policy                      STREAMER_KEY_POLICY                   dead_letter
    dlq_redact_prompt               STREAMER_DLQ_REDACT_PROMPT            true
    ==============================  ====================================  ==========================

    ``input_format`` is one of ``auto`` (recognise each message), ``native``, ``openai``,
    ``anthropic``, ``otel``, ``litellm`` (:mod:`streamer.core.formats`). Health turns
    ``degraded`` when more than ``dlq_guard_threshold`` of the last ``dlq_guard_window`` input
    messages were dead-lettered (:mod:`streamer.core.dlq_guard`).
    """

    bootstrap_servers: str = f"127.0.0.1:{DEFAULT_LOCAL_PORT}"
    local_broker: bool = True
    input_topic: str = "inference-events"
    alerts_topic: str = "extraction-risk"
    dlq_topic: str = "inference-events-dlq"
    features_topic: str = "customer-features"
    feedback_topic: str = "extraction-feedback"
    app_id: str = "streamer"
    partitions: int = 4
    replication_factor: int = 1
    store: str = "rocksdb://"
    data_dir: str = ".local/worker"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    #: address the web server listens on (``web_host`` is what other workers are told)
    web_bind: str = "127.0.0.1"
    #: bearer token for every web path but /health and /ready (empty: no authentication)
    web_token: Secret = NO_SECRET
    #: /health answers 503 when a batch runs, or records wait with no batch, this long
    health_stall_s: float = 60.0
    #: TEST ONLY: after this many detect batches the next one awaits forever (0: never)
    test_wedge_after: int = 0
    #: TEST ONLY: a detect batch holding a record that contains this text raises (a bug)
    test_fail_on: str = ""
    processing_guarantee: ProcessingGuarantee = "at_least_once"
    group_instance_id: str = ""
    #: a worker that stops heartbeating (kill -9, a lost node) leaves the consumer group after
    #: this long, and its partitions move: the outage a crash costs (Faust's default is 60 s;
    #: heartbeats run in the consumer's own thread, so a long batch does not miss them)
    session_timeout_s: float = 10.0
    batch_size: int = 500
    #: how long a batch waits to fill (a backlog fills it at once; live traffic is not held
    #: back for long: issue 9, p99 event -> alert <= 1 s at half load)
    batch_within_s: float = 0.05
    model_snapshot_interval_s: float = 30.0
    max_message_bytes: int = 1_000_000
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = ""
    sasl_username: str = ""
    sasl_password: Secret = NO_SECRET
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    log_level: LogLevel = "info"
    # Integrations (streamer/integrations/)
    alertmanager_url: str = "http://127.0.0.1:9093"
    dashboard_url: str = ""
    webhook_url: str = ""
    webhook_secret: Secret = NO_SECRET
    # Input
    input_format: str = "auto"
    dlq_guard_window: int = 1000
    dlq_guard_threshold: float = 0.05
    # The driver's bounds (streamer/core/driver.py)
    #: live customer states kept in memory per worker (each a few KB; the rest is in RocksDB)
    max_cached_states: int = 100_000
    #: timers (window closes, quiet resolutions) fired per call: paces a shared boundary
    timer_budget: int = 2_000
    #: an event dated further ahead of its broker timestamp is dead-lettered (0: no bound)
    max_future_skew_s: float = 3600.0
    #: a record whose key is not the event's customer_id
    key_policy: KeyPolicy = "dead_letter"
    #: replace prompt/completion text in dead-lettered copies by its length and hash
    dlq_redact_prompt: bool = True

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__, then check (direct construction too).
        for name, normalise in _NORMALISE.items():
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, normalise(value))
        for f in fields(self):  # a plain str given to the constructor for a secret
            if isinstance(f.default, Secret) and isinstance(getattr(self, f.name), str):
                object.__setattr__(self, f.name, Secret(getattr(self, f.name)))
        self.validate()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``); unknown variables are ignored."""
        env = os.environ if env is None else env
        port = env.get("KAFKA_PORT", str(DEFAULT_LOCAL_PORT))
        external = env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        values: dict[str, object] = {
            "bootstrap_servers": external or f"127.0.0.1:{port}",
            "local_broker": not external,
        }
        for f in fields(cls):
            if f.name in values:
                continue
            key = "STREAMER_" + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            try:
                if isinstance(f.default, Secret):
                    values[f.name] = Secret(raw)
                elif isinstance(f.default, bool):
                    values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
                elif isinstance(f.default, int):
                    values[f.name] = int(raw)
                elif isinstance(f.default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ConfigError(f"{key}={raw!r}: {exc}") from exc
        return cls(**values)  # type: ignore[arg-type]  # checked in validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work (one clear sentence)."""
        for name, choices in _literal_fields().items():
            value = getattr(self, name)
            if value not in choices:
                allowed = ", ".join(c or repr(c) for c in choices)
                raise ConfigError(f"STREAMER_{name.upper()}={value!r}: expected one of {allowed}")
        mechanisms = ", ".join(m for m in typing.get_args(SaslMechanism) if m)
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not self.sasl_mechanism:
            raise ConfigError(f"STREAMER_SECURITY_PROTOCOL={self.security_protocol} needs "
                              f"STREAMER_SASL_MECHANISM (one of {mechanisms})")
        if sasl and not (self.sasl_username and self.sasl_password):
            raise ConfigError(f"STREAMER_SECURITY_PROTOCOL={self.security_protocol} needs "
                              "STREAMER_SASL_USERNAME and STREAMER_SASL_PASSWORD")
        if self.sasl_mechanism and not sasl:
            raise ConfigError(f"STREAMER_SASL_MECHANISM={self.sasl_mechanism} is set but "
                              f"STREAMER_SECURITY_PROTOCOL={self.security_protocol} does not use "
                              "SASL: use SASL_PLAINTEXT or SASL_SSL")
        if not 6.0 <= self.session_timeout_s <= 1800.0:  # the broker's default bounds
            raise ConfigError("STREAMER_SESSION_TIMEOUT_S must be within 6..1800 (the broker's "
                              "group.min/max.session.timeout.ms)")
        if self.partitions < 1 or self.batch_size < 1:
            raise ConfigError("partitions and batch_size must be >= 1")
        if not self.bootstrap_servers:
            raise ConfigError("no bootstrap servers")
        if self.max_cached_states < 1 or self.timer_budget < 1 or self.max_future_skew_s < 0:
            raise ConfigError("STREAMER_MAX_CACHED_STATES and STREAMER_TIMER_BUDGET must be >= 1, "
                              "STREAMER_MAX_FUTURE_SKEW_S >= 0")
        from streamer.core.formats import INPUT_FORMATS

        if self.input_format not in INPUT_FORMATS:
            raise ConfigError(f"STREAMER_INPUT_FORMAT={self.input_format!r}: expected one of "
                              + ", ".join(INPUT_FORMATS))
        if self.dlq_guard_window < 1 or not 0.0 <= self.dlq_guard_threshold < 1.0:
            raise ConfigError("dlq_guard_window must be >= 1 and dlq_guard_threshold in [0, 1)")

    def cluster_topic_names(self) -> tuple[str, str]:
        """The cluster stage's internal topics: (signals, verdicts)."""
        return f"{self.app_id}-cluster-signals", f"{self.app_id}-cluster-verdicts"

    def kafka_client_options(self) -> dict[str, object]:
        """Security options in kafka-python / aiokafka spelling (empty values omitted)."""
        opts: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = self.sasl_password.get()
        if self.ssl_cafile:
            opts["ssl_cafile"] = self.ssl_cafile
        if self.ssl_certfile:
            opts["ssl_certfile"] = self.ssl_certfile
        if self.ssl_keyfile:
            opts["ssl_keyfile"] = self.ssl_keyfile
        return opts


@functools.cache
def _literal_fields() -> dict[str, tuple[str, ...]]:
    """Each ``Literal``-typed field of :class:`Settings` with its allowed values."""
    hints = typing.get_type_hints(Settings)
    return {name: typing.get_args(hint) for name, hint in hints.items()
            if typing.get_origin(hint) is Literal}
