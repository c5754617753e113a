"""One root exception for everything streamer raises on purpose."""


class StreamerError(Exception):
    """Root of every error streamer raises deliberately."""


class InvalidEvent(StreamerError):
    """An input message that is not a valid inference event.

    ``reason`` is a short machine-readable code (e.g. ``bad_json``), ``detail`` a human sentence,
    ``field`` the offending field when there is one (e.g. ``input_tokens``).
    Invalid events are data: the shell routes them to the dead-letter topic, never crashes on them.
    """

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field


class ConfigError(StreamerError):
    """The settings read from the environment are unusable."""


class StateCodecError(StreamerError):
    """Stored state could not be decoded (unknown schema version, corrupt bytes)."""


class BrokerError(StreamerError):
    """The local Kafka broker could not be started, reached or stopped."""
