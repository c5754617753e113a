"""Start-up checks that turn a misconfiguration into one clear line instead of a retry loop.

Kafka clients retry a failed SASL handshake as if the broker were down, so a wrong password
looks like a hang. :func:`check_kafka_auth` opens one connection per bootstrap server with the
configured credentials and raises :class:`~streamer.errors.ConfigError` at once when a broker
rejects them; an unreachable broker is left to the normal start-up (which waits for it).
"""

from __future__ import annotations

import asyncio
import ssl

from streamer.errors import ConfigError
from streamer.settings import Settings


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.security_protocol.endswith("SSL"):
        return None
    ctx = ssl.create_default_context(cafile=settings.ssl_cafile or None)
    if settings.ssl_certfile:
        ctx.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
    return ctx


async def _check(settings: Settings, timeout_s: float) -> None:
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError, SaslAuthenticationFailed

    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(create_conn(
                host.strip("[]") or "127.0.0.1", int(port or 9092),
                security_protocol=settings.security_protocol,
                sasl_mechanism=settings.sasl_mechanism,
                sasl_plain_username=settings.sasl_username,
                sasl_plain_password=settings.sasl_password.get(),
                ssl_context=_ssl_context(settings),
                request_timeout_ms=int(timeout_s * 1000)), timeout_s)
        except SaslAuthenticationFailed as exc:
            raise ConfigError(
                f"Kafka at {server.strip()} rejected the {settings.sasl_mechanism} credentials "
                f"of user {settings.sasl_username!r} ({exc.args[0] if exc.args else exc}): "
                "check STREAMER_SASL_USERNAME and STREAMER_SASL_PASSWORD") from None
        except (KafkaError, OSError, ValueError, TimeoutError):
            continue  # unreachable: not a credentials problem
        conn.close()
        return


def check_kafka_auth(settings: Settings, timeout_s: float = 10.0) -> None:
    """Raise :class:`ConfigError` if a broker rejects the SASL credentials (no-op without SASL)."""
    if settings.security_protocol.startswith("SASL_"):
        asyncio.run(_check(settings, timeout_s))
