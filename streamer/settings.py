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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from streamer.errors import ConfigError

DEFAULT_LOCAL_PORT = 19092


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
    web_bind                        STREAMER_WEB_BIND                     127.0.0.1
    web_host (advertised)           STREAMER_WEB_HOST                     127.0.0.1
    web_token (secret)              STREAMER_WEB_TOKEN                    (none: no auth)
    health_stall_s                  STREAMER_HEALTH_STALL_S               60
    test_wedge_after (tests only)   STREAMER_TEST_WEDGE_AFTER             0
    input_format                    STREAMER_INPUT_FORMAT                 auto
    dlq_guard_window                STREAMER_DLQ_GUARD_WINDOW             1000
    dlq_guard_threshold             STREAMER_DLQ_GUARD_THRESHOLD          0.05
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
    web_token: str = field(default="", repr=False)
    #: /health answers 503 when a batch runs, or records wait with no batch, this long
    health_stall_s: float = 60.0
    #: TEST ONLY: after this many detect batches the next one awaits forever (0: never)
    test_wedge_after: int = 0
    processing_guarantee: str = "at_least_once"
    group_instance_id: str = ""
    batch_size: int = 500
    batch_within_s: float = 0.5
    model_snapshot_interval_s: float = 30.0
    max_message_bytes: int = 1_000_000
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    log_level: str = "info"
    #: live customer states kept in memory per worker (each a few KB; the rest is in RocksDB)
    max_cached_states: int = 100_000
    #: timers (window closes, quiet resolutions) fired per batch: paces a shared boundary
    timer_budget: int = 2_000
    #: an event dated further ahead of its broker timestamp is dead-lettered (0: no bound)
    max_future_skew_s: float = 3600.0
    #: a record whose key is not the event's customer_id: dead_letter | count | ignore
    key_policy: str = "dead_letter"
    #: replace prompt/completion text in dead-lettered copies by its length and hash
    dlq_redact_prompt: bool = True
    input_format: str = "auto"
    dlq_guard_window: int = 1000
    dlq_guard_threshold: float = 0.05

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
                if isinstance(f.default, bool):
                    values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
                elif isinstance(f.default, int):
                    values[f.name] = int(raw)
                elif isinstance(f.default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ConfigError(f"{key}={raw!r}: {exc}") from exc
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work."""
        if self.processing_guarantee not in {"at_least_once", "exactly_once"}:
            raise ConfigError(f"processing_guarantee {self.processing_guarantee!r}")
        if self.partitions < 1 or self.batch_size < 1:
            raise ConfigError("partitions and batch_size must be >= 1")
        if not self.bootstrap_servers:
            raise ConfigError("no bootstrap servers")
        if self.key_policy not in {"dead_letter", "count", "ignore"}:
            raise ConfigError(f"STREAMER_KEY_POLICY={self.key_policy!r}: use dead_letter, count "
                              "or ignore")
        if self.max_cached_states < 1 or self.timer_budget < 1 or self.max_future_skew_s < 0:
            raise ConfigError("max_cached_states and timer_budget must be >= 1, "
                              "max_future_skew_s >= 0")
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
            opts["sasl_plain_password"] = self.sasl_password
        if self.ssl_cafile:
            opts["ssl_cafile"] = self.ssl_cafile
        if self.ssl_certfile:
            opts["ssl_certfile"] = self.ssl_certfile
        if self.ssl_keyfile:
            opts["ssl_keyfile"] = self.ssl_keyfile
        return opts
