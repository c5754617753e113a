"""A real Apache Kafka broker (KRaft, one node on 127.0.0.1), managed by the project.

``streamer kafka up|down|status`` (and ``make kafka`` / ``make kafka-down``) drive it. The default
is Kafka 3.9.2 with PLAINTEXT on ``$KAFKA_PORT`` (19092). Other *profiles* run beside it, each
with its own port and runtime directory, so one never disturbs another:

=============================================  ==========================  =================
profile (``streamer kafka up ...``)             runtime directory           client port
=============================================  ==========================  =================
(default) 3.9.2, PLAINTEXT                     ``.local/kafka/``           $KAFKA_PORT, 19092
``--sasl``: 3.9.2, SASL_PLAINTEXT + SCRAM      ``.local/kafka-sasl/``      $KAFKA_SASL_PORT, 19094
``--kafka-version 4.1.2``                      ``.local/kafka-4.1.2/``     $KAFKA4_PORT, 19096
``--kafka-version 4.1.2 --sasl``               ``.local/kafka-4.1.2-sasl/``  19098
=============================================  ==========================  =================

(``make kafka KAFKA_SASL=1`` and ``make kafka KAFKA_VERSION=4.1.2`` pass these flags.) The
controller listens on the client port + 1. The SASL profiles format their storage with
``StorageTool format --add-scram`` for two SCRAM-SHA-512 users: ``admin`` (inter-broker) and
``streamer`` (clients), with generated passwords kept in ``credentials.env`` (mode 600) in the
runtime directory; that file is ready to ``source`` for the ``STREAMER_*`` client settings.
Everything a profile needs at run time lives in its runtime directory::

    jars/              the broker's classpath, fetched once by Maven (deploy/kafka/pom.xml;
                       profiles of one Kafka version share one jars/ directory)
    data/              KRaft metadata and topic data, formatted once with StorageTool
    logs/              server.log (log4j, deploy/kafka/log4j.properties), broker.out (JVM output)
    server.properties  deploy/kafka/server.properties with its placeholders filled in
    cluster-id         the KRaft cluster id, generated once
    broker.pid         pid of the detached broker JVM

When ``KAFKA_BOOTSTRAP_SERVERS`` is set the project uses that cluster instead: ``up`` starts
nothing and only waits until it is ready, ``down`` does nothing.

"Ready" always means Kafka answered: a cluster-metadata request returned brokers and a probe
topic could be created with a leader. An open TCP port is only used as a cheap pre-check.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import fcntl
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)
from rich.console import Console

from streamer.errors import BrokerError, ConfigError, StreamerError
from streamer.settings import DEFAULT_LOCAL_PORT, Settings

KAFKA_VERSION = "3.9.2"
BROKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
SUPPORTED_VERSIONS = ("3.9.2", "4.1.2")
SASL_MECHANISM = "SCRAM-SHA-512"
SASL_CLIENT_USER = "streamer"
PROBE_TOPIC = "streamer-ready-probe"
JVM_HEAP = ("-Xms256m", "-Xmx1g")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")

console = Console()


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """Which local broker: a Kafka version, with or without SASL/SCRAM.

    >>> Profile().name, Profile(sasl=True).name, Profile("4.1.2").name
    ('kafka', 'kafka-sasl', 'kafka-4.1.2')
    >>> Profile("4.1.2", sasl=True).default_port({})
    19098
    """

    version: str = KAFKA_VERSION
    sasl: bool = False

    def __post_init__(self) -> None:
        if self.version not in SUPPORTED_VERSIONS:
            raise ConfigError(f"Kafka {self.version} is not supported here: use one of "
                              f"{', '.join(SUPPORTED_VERSIONS)}")

    @property
    def name(self) -> str:
        version = "" if self.version == KAFKA_VERSION else f"-{self.version}"
        return f"kafka{version}{'-sasl' if self.sasl else ''}"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def broker_jar(self) -> str:
        return f"kafka_2.13-{self.version}.jar"

    def default_port(self, env: Mapping[str, str] | None = None) -> int:
        """``$KAFKA_PORT`` (default profile), ``$KAFKA_SASL_PORT``, ``$KAFKA4_PORT``, or fixed."""
        env = os.environ if env is None else env
        variable, port = {
            (False, False): ("KAFKA_PORT", DEFAULT_LOCAL_PORT), (True, False): ("KAFKA_SASL_PORT",
                                                                               19094),
            (False, True): ("KAFKA4_PORT", 19096), (True, True): ("KAFKA4_SASL_PORT", 19098),
        }[(self.sasl, self.version != KAFKA_VERSION)]
        raw = env.get(variable, "").strip() or str(port)
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{variable}={raw!r} is not a port number") from exc


DEFAULT = Profile()

# --------------------------------------------------------------------------- paths and files


def find_deploy_dir() -> Path:
    """The repository's ``deploy/kafka`` folder (templates and pom.xml)."""
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
    if not (deploy / "server.properties").is_file():
        raise BrokerError(
            f"{deploy} not found: the local broker needs a source checkout of streamer. "
            "To use an existing cluster instead, set KAFKA_BOOTSTRAP_SERVERS=host:port."
        )
    return deploy


def runtime_dir(profile: Profile = DEFAULT) -> Path:
    """``.local/kafka`` (or ``.local/kafka-<profile>``) under the repository root (git-ignored)."""
    return find_deploy_dir().parents[1] / ".local" / profile.name


def jars_dir(profile: Profile = DEFAULT) -> Path:
    """The broker's classpath, shared by the profiles of one Kafka version."""
    return runtime_dir(Profile(profile.version)) / "jars"


def default_port() -> int:
    """The default local broker's port: ``$KAFKA_PORT`` or 19092."""
    return DEFAULT.default_port()


def bootstrap_for(settings: Settings) -> str:
    """The broker a command uses: the configured cluster (``KAFKA_BOOTSTRAP_SERVERS``) as it
    is, else the default local broker, started if it is down (:func:`up`)."""
    return up(default_port()) if settings.local_broker else settings.bootstrap_servers


def merge_properties(base: str, overlay: str) -> str:
    r"""``base`` with every key set in ``overlay`` replaced (comments kept, overlay appended).

    >>> merge_properties("a=1\n# c\nb=2\n", "b=3\n")
    'a=1\n# c\nb=3\n'
    """
    def key(line: str) -> str | None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            return None
        return stripped.split("=", 1)[0].strip()

    new = {k: line for line in overlay.splitlines() if (k := key(line)) is not None}
    out, used = [], set()
    for line in base.splitlines():
        k = key(line)
        if k in new:
            out.append(new[k])
            used.add(k)
        else:
            out.append(line)
    out += [line for k, line in new.items() if k not in used]
    return "\n".join(out) + "\n"


def sasl_credentials(profile: Profile) -> dict[str, str]:
    """The SASL profile's credentials (generated once): ``admin`` and ``client`` passwords."""
    path = runtime_dir(profile) / "credentials.env"
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
    if "STREAMER_SASL_PASSWORD" in values and "KAFKA_ADMIN_PASSWORD" in values:
        return {"admin": values["KAFKA_ADMIN_PASSWORD"], "client": values["STREAMER_SASL_PASSWORD"]}
    creds = {"admin": secrets.token_urlsafe(18), "client": secrets.token_urlsafe(18)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        "# Client settings for the local SASL/SCRAM broker (streamer kafka up --sasl).\n"
        f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{profile.default_port()}\n"
        "STREAMER_SECURITY_PROTOCOL=SASL_PLAINTEXT\n"
        f"STREAMER_SASL_MECHANISM={SASL_MECHANISM}\n"
        f"STREAMER_SASL_USERNAME={SASL_CLIENT_USER}\n"
        f"STREAMER_SASL_PASSWORD={creds['client']}\n"
        f"KAFKA_ADMIN_PASSWORD={creds['admin']}\n")
    return creds


def client_options(profile: Profile) -> dict[str, object]:
    """kafka-python options for a client of ``profile``'s broker (empty without SASL)."""
    if not profile.sasl:
        return {}
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": SASL_CLIENT_USER,
            "sasl_plain_password": sasl_credentials(profile)["client"]}


def client_env(profile: Profile, port: int) -> dict[str, str]:
    """``STREAMER_*`` settings for a client of ``profile``'s broker on ``port``."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
    if profile.sasl:
        env.update(STREAMER_SECURITY_PROTOCOL="SASL_PLAINTEXT",
                   STREAMER_SASL_MECHANISM=SASL_MECHANISM,
                   STREAMER_SASL_USERNAME=SASL_CLIENT_USER,
                   STREAMER_SASL_PASSWORD=sasl_credentials(profile)["client"])
    return env


def render_properties(template: str, *, port: int, controller_port: int, log_dirs: Path,
                      extra: Mapping[str, str] | None = None) -> str:
    """Fill the ``@PORT@``, ``@CONTROLLER_PORT@`` and ``@LOG_DIRS@`` placeholders.

    >>> render_properties("listeners=PLAINTEXT://127.0.0.1:@PORT@", port=1, controller_port=2,
    ...                   log_dirs=Path("/d"))
    'listeners=PLAINTEXT://127.0.0.1:1'
    """
    values = {"@PORT@": str(port), "@CONTROLLER_PORT@": str(controller_port),
              "@LOG_DIRS@": str(log_dirs), **dict(extra or {})}
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), template)
    unknown = sorted(set(_PLACEHOLDER.findall(text)))
    if unknown:
        raise BrokerError(f"unknown placeholders in server.properties: {', '.join(unknown)}")
    return text


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in unpadded base64url (22 characters).

    Like Kafka's own ``random-uuid`` it never starts with ``-``, which would read as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _log_tail(rt: Path, lines: int = 30) -> str:
    """The last lines of the broker's JVM output and log4j log, for error messages."""
    parts = []
    for name in ("broker.out", "server.log"):
        path = rt / "logs" / name
        if path.is_file() and (text := path.read_text(errors="replace").strip()):
            parts.append(f"--- last {lines} lines of {path} ---\n{_tail(text, lines)}")
    return "\n".join(parts) or "(the broker wrote no log output)"


@contextlib.contextmanager
def _lock(rt: Path) -> Iterator[None]:
    """Serialise up/down between processes (e.g. two test sessions starting at once)."""
    rt.mkdir(parents=True, exist_ok=True)
    with open(rt / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- readiness


class _Admin(KafkaAdminClient):  # type: ignore[misc]  # kafka-python is untyped
    """A KafkaAdminClient that stops its I/O thread when bootstrapping fails in ``__init__``."""

    def __init__(self, **configs: Any) -> None:
        try:
            super().__init__(**configs)
        except BaseException:
            if hasattr(self, "_net"):
                self._closed = False
                self.close()
            raise


@contextlib.contextmanager
def admin_client(
    bootstrap: str, timeout_s: float = 30, options: Mapping[str, object] | None = None
) -> Iterator[Any]:
    """A kafka-python admin client, closed on exit; ``timeout_s`` bounds bootstrap and requests.

    ``options`` are extra client settings, e.g. ``Settings.kafka_client_options()``.
    """
    timeout_ms = max(100, int(timeout_s * 1000))
    admin = _Admin(
        bootstrap_servers=bootstrap,
        client_id="streamer-admin",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
        reconnect_backoff_max_ms=1000,
        **dict(options or {}),
    )
    try:
        yield admin
    finally:
        admin.close()


def _listening(bootstrap: str, timeout_s: float) -> bool:
    """Cheap pre-check: does any bootstrap address accept a TCP connection?"""
    for server in bootstrap.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep:
            host, port = port, "9092"
        with contextlib.suppress(OSError, ValueError), socket.create_connection(
            (host.strip("[]"), int(port)), timeout=timeout_s
        ):
            return True
    return False


def _probe(
    bootstrap: str, timeout_s: float, options: Mapping[str, object] | None, create_topic: bool
) -> bool:
    """One readiness attempt: metadata answered (and, if asked, a topic created with a leader)."""
    if not _listening(bootstrap, timeout_s):
        return False
    try:
        with admin_client(bootstrap, timeout_s, options) as admin:
            if not admin.describe_cluster().get("brokers"):
                return False
            if create_topic:
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics({PROBE_TOPIC: {"num_partitions": 1}})
                admin.wait_for_topics([PROBE_TOPIC], timeout_ms=int(timeout_s * 1000))
    except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as exc:
        raise BrokerError(f"Kafka at {bootstrap} answers but may not create topics: {exc}") from exc
    except (KafkaError, OSError):
        return False
    return True


def is_ready(
    bootstrap: str, timeout_s: float = 3, options: Mapping[str, object] | None = None
) -> bool:
    """Does the cluster at ``bootstrap`` answer a metadata request within ``timeout_s``?"""
    return _probe(bootstrap, timeout_s, options, create_topic=False)


def wait_ready(
    bootstrap: str,
    timeout_s: float,
    options: Mapping[str, object] | None = None,
    check: Callable[[], None] | None = None,
) -> None:
    """Block until the cluster answers metadata requests and can create a topic.

    ``check`` runs before every attempt and may raise (e.g. when the broker process died).
    Raises :class:`BrokerError` after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if check is not None:
            check()
        left = deadline - time.monotonic()
        if left <= 0:
            raise BrokerError(f"Kafka at {bootstrap} was not ready within {timeout_s:g} s")
        if _probe(bootstrap, min(5.0, max(left, 0.5)), options, create_topic=True):
            return
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


# --------------------------------------------------------------------------- the local broker


def ensure_jars(profile: Profile = DEFAULT) -> Path:
    """Fetch the broker jars with Maven unless the version's ``jars/`` already has them."""
    jars = jars_dir(profile)
    if (jars / profile.broker_jar).is_file():
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven (mvn) is needed once to fetch the Kafka jars: install it, "
            "or set KAFKA_BOOTSTRAP_SERVERS to use an existing cluster."
        )
    partial = jars.with_name("jars.partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [mvn, "-q", "-B", "-f", str(find_deploy_dir() / "pom.xml"),
               "dependency:copy-dependencies", f"-DoutputDirectory={partial}",
               f"-Dkafka.version={profile.version}"]
    if profile.major >= 4:
        command.append("-Dkafka4")  # log4j2 binding instead of reload4j (see pom.xml)
    with console.status(f"Fetching the Kafka {profile.version} jars with Maven (only once)…"):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (partial / profile.broker_jar).is_file():
        output = _tail(done.stdout + done.stderr)
        raise BrokerError(f"Maven could not fetch the Kafka jars:\n{output}")
    shutil.rmtree(jars, ignore_errors=True)
    partial.rename(jars)  # atomic: a half-finished download never looks complete
    return jars


def _java_command(rt: Path, main: str, *args: str, jvm: Sequence[str] = (),
                  profile: Profile = DEFAULT) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise BrokerError("java not found: the local broker needs Java 17+ "
                          "(or set KAFKA_BOOTSTRAP_SERVERS to use an existing cluster)")
    if profile.major >= 4:  # Kafka 4 logs through log4j2
        log_conf = f"-Dlog4j2.configurationFile={find_deploy_dir() / 'log4j2.properties'}"
    else:
        log_conf = f"-Dlog4j.configuration={(find_deploy_dir() / 'log4j.properties').as_uri()}"
    return [java, *jvm, "-Djava.awt.headless=true", f"-Dkafka.logs.dir={rt / 'logs'}",
            log_conf, "-cp", str(jars_dir(profile) / "*"), main, *args]


def _write_properties(rt: Path, port: int, profile: Profile = DEFAULT) -> Path:
    deploy = find_deploy_dir()
    text = render_properties((deploy / "server.properties").read_text(), port=port,
                             controller_port=port + 1, log_dirs=rt / "data")
    if profile.sasl:
        overlay = render_properties((deploy / "sasl.properties").read_text(), port=port,
                                    controller_port=port + 1, log_dirs=rt / "data",
                                    extra={"@ADMIN_PASSWORD@": sasl_credentials(profile)["admin"]})
        text = merge_properties(text, overlay)
    props = rt / "server.properties"
    props.touch(mode=0o600)  # the SASL profile's holds the admin password
    props.write_text(text)
    return props


def _rendered_port(rt: Path) -> int | None:
    """The client port in the last rendered server.properties, if any."""
    with contextlib.suppress(OSError):
        found = re.search(r"^advertised\.listeners=(?:SASL_)?PLAINTEXT://[^:]+:(\d+)",
                          (rt / "server.properties").read_text(), re.MULTILINE)
        return int(found.group(1)) if found else None
    return None


def _format_storage(rt: Path, props: Path, profile: Profile = DEFAULT) -> None:
    """Format the KRaft data directory once (skipped when ``meta.properties`` exists).

    The SASL profiles add their SCRAM users here (``--add-scram``): KRaft keeps them in the
    cluster metadata, so they exist before the broker accepts its first connection.
    """
    if (rt / "data" / "meta.properties").is_file():
        return
    id_file = rt / "cluster-id"
    if not id_file.is_file():
        id_file.write_text(new_cluster_id() + "\n")
    scram: list[str] = []
    if profile.sasl:
        creds = sasl_credentials(profile)
        for user, password in (("admin", creds["admin"]), (SASL_CLIENT_USER, creds["client"])):
            scram += ["--add-scram", f"{SASL_MECHANISM}=[name={user},password={password}]"]
    command = _java_command(rt, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                            "-t", id_file.read_text().strip(), "-c", str(props), *scram,
                            profile=profile)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BrokerError(f"formatting {rt / 'data'} failed:\n{_tail(done.stdout + done.stderr)}")


def _is_broker(pid: int) -> bool:
    """Is ``pid`` a live Kafka broker (not a zombie, not a recycled pid)?"""
    proc = Path("/proc")
    if proc.is_dir():  # Linux; a zombie's cmdline is empty
        try:
            return b"kafka.Kafka" in (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return False
    with contextlib.suppress(ChildProcessError):  # elsewhere: reap it if it is our exited child
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def broker_pid(profile: Profile = DEFAULT) -> int | None:
    """The pid in ``broker.pid`` if it is a live Kafka broker; stale pid files count as none."""
    try:
        pid = int((runtime_dir(profile) / "broker.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and _is_broker(pid) else None


def up(port: int, timeout_s: float = 90, profile: Profile = DEFAULT) -> str:
    """Make sure a broker answers on 127.0.0.1:``port``, starting one if needed; idempotent.

    Returns the bootstrap string. Raises :class:`BrokerError` with the broker's last log lines
    if it exits while starting, and when it is not ready within ``timeout_s``.
    """
    bootstrap = f"127.0.0.1:{port}"
    rt = runtime_dir(profile)
    options = client_options(profile)
    with _lock(rt):
        pid = broker_pid(profile)
        if pid is not None and _rendered_port(rt) not in (None, port):
            raise BrokerError(f"the local broker (pid {pid}) listens on port {_rendered_port(rt)}: "
                              "use that port or run `streamer kafka down` first")
        if pid is not None or is_ready(bootstrap, options=options):
            wait_ready(bootstrap, timeout_s, options)
            owner = f" (pid {pid})" if pid else " (not started by streamer)"
            console.print(f"Kafka already running at {bootstrap}{owner}")
            return bootstrap

        started = time.monotonic()
        ensure_jars(profile)
        props = _write_properties(rt, port, profile)
        _format_storage(rt, props, profile)
        (rt / "logs").mkdir(exist_ok=True)
        with open(rt / "logs" / "broker.out", "wb") as out:
            broker = subprocess.Popen(
                _java_command(rt, "kafka.Kafka", str(props), jvm=JVM_HEAP, profile=profile),
                cwd=rt, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (rt / "broker.pid").write_text(f"{broker.pid}\n")

        def still_running() -> None:
            if broker.poll() is not None:
                (rt / "broker.pid").unlink(missing_ok=True)
                raise BrokerError(f"Kafka exited with code {broker.returncode} while starting:\n"
                                  + _log_tail(rt))

        with console.status(f"Starting Kafka {profile.version} on {bootstrap}…"):
            try:
                wait_ready(bootstrap, timeout_s, options, check=still_running)
            except BrokerError as exc:
                if broker.poll() is None:  # alive but not ready: say so, leave it for `down`
                    raise BrokerError(f"{exc} (pid {broker.pid} still running; "
                                      f"`streamer kafka down` stops it)\n{_log_tail(rt)}") from exc
                raise
        sasl = f", SASL {SASL_MECHANISM}: settings in {rt / 'credentials.env'}" if profile.sasl \
            else ""
        console.print(f"Kafka {profile.version} ready at {bootstrap} "
                      f"(pid {broker.pid}, started in {time.monotonic() - started:.1f} s{sasl})")
        return bootstrap


def down(timeout_s: float = 30, profile: Profile = DEFAULT) -> bool:
    """Stop the broker named in ``broker.pid``: SIGTERM, then SIGKILL after ``timeout_s``.

    Returns whether a broker was running. Stale pid files are removed.
    """
    rt = runtime_dir(profile)
    with _lock(rt):
        pid = broker_pid(profile)
        if pid is not None:
            with console.status(f"Stopping Kafka (pid {pid})…"):
                for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                    deadline = time.monotonic() + wait_s
                    while _is_broker(pid) and time.monotonic() < deadline:
                        time.sleep(0.2)
                    if not _is_broker(pid):
                        break
            if _is_broker(pid):
                raise BrokerError(f"Kafka (pid {pid}) survived SIGKILL")
            console.print(f"Kafka stopped (pid {pid})")
        (rt / "broker.pid").unlink(missing_ok=True)
        return pid is not None


def status(port: int | None = None, profile: Profile = DEFAULT) -> bool:
    """Does the local broker answer on 127.0.0.1:``port`` (default: the profile's port)?"""
    port = profile.default_port() if port is None else port
    return is_ready(f"127.0.0.1:{port}", options=client_options(profile))


# --------------------------------------------------------------------------- CLI


class _DefaultPort(int):
    """``--port`` not given: ``$KAFKA_PORT`` for the default profile, the profile's own port
    for the others."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``streamer kafka {up,down,status} [--port N] [--kafka-version V] [--sasl] [--timeout S]``."""
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--port", type=int, default=_DefaultPort(default_port()),
                        help="client port of the local broker (default: $KAFKA_PORT or 19092; "
                             "with --sasl $KAFKA_SASL_PORT or 19094; Kafka 4 $KAFKA4_PORT or "
                             "19096; both 19098); the controller uses port+1")
    parser.add_argument("--kafka-version", default=os.environ.get("KAFKA_VERSION") or
                        KAFKA_VERSION, choices=SUPPORTED_VERSIONS,
                        help=f"Kafka version (default: $KAFKA_VERSION or {KAFKA_VERSION}); each "
                             "version has its own port and runtime directory")
    parser.add_argument("--sasl", action="store_true",
                        help="SASL_PLAINTEXT with SCRAM-SHA-512 users (a separate broker)")
    parser.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait for the broker to be ready (default: 90)")


def run(args: argparse.Namespace) -> int:
    """Run ``streamer kafka ACTION``: 0 on success, 1 on errors or when ``status`` finds none."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # quiet while polling a starting broker
    try:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if external:
            return _run_external(args.action, external, args.timeout)
        profile = Profile(args.kafka_version, sasl=args.sasl)
        port = profile.default_port() if isinstance(args.port, _DefaultPort) else args.port
        return _run_local(args.action, port, args.timeout, profile)
    except StreamerError as exc:
        console.print(f"error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        return 1


def _run_external(action: str, bootstrap: str, timeout_s: float) -> int:
    options = Settings.from_env().kafka_client_options()
    if action == "down":
        console.print(f"KAFKA_BOOTSTRAP_SERVERS is set ({bootstrap}): nothing to stop")
        return 0
    if action == "up":
        console.print(f"KAFKA_BOOTSTRAP_SERVERS is set: using {bootstrap}, starting nothing")
        with console.status(f"Waiting for Kafka at {bootstrap}…"):
            wait_ready(bootstrap, timeout_s, options)
        console.print(f"Kafka at {bootstrap} is ready")
        return 0
    ready = is_ready(bootstrap, 5, options)
    console.print(f"Kafka at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS): "
                  + ("ready" if ready else "[red]not answering[/red]"))
    return 0 if ready else 1


def _run_local(action: str, port: int, timeout_s: float, profile: Profile = DEFAULT) -> int:
    if action == "up":
        up(port, timeout_s, profile)
        return 0
    if action == "down":
        if not down(profile=profile):
            console.print("no local Kafka broker was running")
        if is_ready(f"127.0.0.1:{port}", options=client_options(profile)):
            console.print(f"[yellow]a Kafka broker not started by streamer still answers on "
                          f"port {port}[/yellow]")
        return 0
    pid = broker_pid(profile)
    ready = status(port, profile)
    where = f"127.0.0.1:{port}"
    if ready:
        owner = (f"pid {pid}, data in {runtime_dir(profile) / 'data'}" if pid
                 else "not started by streamer")
        console.print(f"Kafka at {where}: [green]ready[/green] ({owner})")
    elif pid:
        console.print(f"Kafka at {where}: [yellow]process {pid} running but not answering[/yellow]")
    else:
        console.print(f"Kafka at {where}: [red]not running[/red] (start it: streamer kafka up)")
    return 0 if ready else 1
