"""A real Apache Kafka 3.9.2 broker (KRaft, one node on 127.0.0.1), managed by the project.

``streamer kafka up|down|status`` (and ``make kafka`` / ``make kafka-down``) drive it. Everything
it needs at run time lives in ``.local/kafka/`` under the repository root::

    jars/              the broker's classpath, fetched once by Maven (deploy/kafka/pom.xml)
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
import fcntl
import logging
import os
import re
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
PROBE_TOPIC = "streamer-ready-probe"
JVM_HEAP = ("-Xms256m", "-Xmx1g")
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")

console = Console()

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


def runtime_dir() -> Path:
    """``.local/kafka`` under the repository root (git-ignored)."""
    return find_deploy_dir().parents[1] / ".local" / "kafka"


def default_port() -> int:
    """The local broker's port: ``$KAFKA_PORT`` or 19092."""
    raw = os.environ.get("KAFKA_PORT", "").strip() or str(DEFAULT_LOCAL_PORT)
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"KAFKA_PORT={raw!r} is not a port number") from exc


def render_properties(template: str, *, port: int, controller_port: int, log_dirs: Path) -> str:
    """Fill the ``@PORT@``, ``@CONTROLLER_PORT@`` and ``@LOG_DIRS@`` placeholders.

    >>> render_properties("listeners=PLAINTEXT://127.0.0.1:@PORT@", port=1, controller_port=2,
    ...                   log_dirs=Path("/d"))
    'listeners=PLAINTEXT://127.0.0.1:1'
    """
    values = {"@PORT@": str(port), "@CONTROLLER_PORT@": str(controller_port),
              "@LOG_DIRS@": str(log_dirs)}
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


def ensure_jars() -> Path:
    """Fetch the broker jars with Maven unless ``.local/kafka/jars`` already has them."""
    jars = runtime_dir() / "jars"
    if (jars / BROKER_JAR).is_file():
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
               "dependency:copy-dependencies", f"-DoutputDirectory={partial}"]
    with console.status(f"Fetching the Kafka {KAFKA_VERSION} jars with Maven (only once)…"):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (partial / BROKER_JAR).is_file():
        output = _tail(done.stdout + done.stderr)
        raise BrokerError(f"Maven could not fetch the Kafka jars:\n{output}")
    shutil.rmtree(jars, ignore_errors=True)
    partial.rename(jars)  # atomic: a half-finished download never looks complete
    return jars


def _java_command(rt: Path, main: str, *args: str, jvm: Sequence[str] = ()) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise BrokerError("java not found: the local broker needs Java 17+ "
                          "(or set KAFKA_BOOTSTRAP_SERVERS to use an existing cluster)")
    log4j = (find_deploy_dir() / "log4j.properties").as_uri()
    return [java, *jvm, "-Djava.awt.headless=true", f"-Dkafka.logs.dir={rt / 'logs'}",
            f"-Dlog4j.configuration={log4j}", "-cp", str(rt / "jars" / "*"), main, *args]


def _write_properties(rt: Path, port: int) -> Path:
    template = (find_deploy_dir() / "server.properties").read_text()
    props = rt / "server.properties"
    props.write_text(render_properties(template, port=port, controller_port=port + 1,
                                       log_dirs=rt / "data"))
    return props


def _rendered_port(rt: Path) -> int | None:
    """The client port in the last rendered server.properties, if any."""
    with contextlib.suppress(OSError):
        found = re.search(r"^advertised\.listeners=PLAINTEXT://[^:]+:(\d+)",
                          (rt / "server.properties").read_text(), re.MULTILINE)
        return int(found.group(1)) if found else None
    return None


def _format_storage(rt: Path, props: Path) -> None:
    """Format the KRaft data directory once (skipped when ``meta.properties`` exists)."""
    if (rt / "data" / "meta.properties").is_file():
        return
    id_file = rt / "cluster-id"
    if not id_file.is_file():
        id_file.write_text(new_cluster_id() + "\n")
    command = _java_command(rt, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                            "-t", id_file.read_text().strip(), "-c", str(props))
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


def broker_pid() -> int | None:
    """The pid in ``broker.pid`` if it is a live Kafka broker; stale pid files count as none."""
    try:
        pid = int((runtime_dir() / "broker.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and _is_broker(pid) else None


def up(port: int, timeout_s: float = 90) -> str:
    """Make sure a broker answers on 127.0.0.1:``port``, starting one if needed; idempotent.

    Returns the bootstrap string. Raises :class:`BrokerError` with the broker's last log lines
    if it exits while starting, and when it is not ready within ``timeout_s``.
    """
    bootstrap = f"127.0.0.1:{port}"
    rt = runtime_dir()
    with _lock(rt):
        pid = broker_pid()
        if pid is not None and _rendered_port(rt) not in (None, port):
            raise BrokerError(f"the local broker (pid {pid}) listens on port {_rendered_port(rt)}: "
                              "use that port or run `streamer kafka down` first")
        if pid is not None or is_ready(bootstrap):
            wait_ready(bootstrap, timeout_s)
            owner = f" (pid {pid})" if pid else " (not started by streamer)"
            console.print(f"Kafka already running at {bootstrap}{owner}")
            return bootstrap

        started = time.monotonic()
        ensure_jars()
        props = _write_properties(rt, port)
        _format_storage(rt, props)
        (rt / "logs").mkdir(exist_ok=True)
        with open(rt / "logs" / "broker.out", "wb") as out:
            broker = subprocess.Popen(
                _java_command(rt, "kafka.Kafka", str(props), jvm=JVM_HEAP),
                cwd=rt, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (rt / "broker.pid").write_text(f"{broker.pid}\n")

        def still_running() -> None:
            if broker.poll() is not None:
                (rt / "broker.pid").unlink(missing_ok=True)
                raise BrokerError(f"Kafka exited with code {broker.returncode} while starting:\n"
                                  + _log_tail(rt))

        with console.status(f"Starting Kafka {KAFKA_VERSION} on {bootstrap}…"):
            try:
                wait_ready(bootstrap, timeout_s, check=still_running)
            except BrokerError as exc:
                if broker.poll() is None:  # alive but not ready: say so, leave it for `down`
                    raise BrokerError(f"{exc} (pid {broker.pid} still running; "
                                      f"`streamer kafka down` stops it)\n{_log_tail(rt)}") from exc
                raise
        console.print(f"Kafka {KAFKA_VERSION} ready at {bootstrap} "
                      f"(pid {broker.pid}, started in {time.monotonic() - started:.1f} s)")
        return bootstrap


def down(timeout_s: float = 30) -> bool:
    """Stop the broker named in ``broker.pid``: SIGTERM, then SIGKILL after ``timeout_s``.

    Returns whether a broker was running. Stale pid files are removed.
    """
    rt = runtime_dir()
    with _lock(rt):
        pid = broker_pid()
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


def status(port: int | None = None) -> bool:
    """Does the local broker answer on 127.0.0.1:``port`` (default ``$KAFKA_PORT`` or 19092)?"""
    return is_ready(f"127.0.0.1:{default_port() if port is None else port}")


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``streamer kafka {up,down,status} [--port N] [--timeout S]``."""
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--port", type=int, default=default_port(),
                        help="client port of the local broker (default: $KAFKA_PORT or 19092); "
                             "the controller uses port+1")
    parser.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait for the broker to be ready (default: 90)")


def run(args: argparse.Namespace) -> int:
    """Run ``streamer kafka ACTION``: 0 on success, 1 on errors or when ``status`` finds none."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # quiet while polling a starting broker
    try:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if external:
            return _run_external(args.action, external, args.timeout)
        return _run_local(args.action, args.port, args.timeout)
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


def _run_local(action: str, port: int, timeout_s: float) -> int:
    if action == "up":
        up(port, timeout_s)
        return 0
    if action == "down":
        if not down():
            console.print("no local Kafka broker was running")
        if is_ready(f"127.0.0.1:{port}"):
            console.print(f"[yellow]a Kafka broker not started by streamer still answers on "
                          f"port {port}[/yellow]")
        return 0
    pid = broker_pid()
    ready = status(port)
    where = f"127.0.0.1:{port}"
    if ready:
        owner = f"pid {pid}, data in {runtime_dir() / 'data'}" if pid else "not started by streamer"
        console.print(f"Kafka at {where}: [green]ready[/green] ({owner})")
    elif pid:
        console.print(f"Kafka at {where}: [yellow]process {pid} running but not answering[/yellow]")
    else:
        console.print(f"Kafka at {where}: [red]not running[/red] (start it: streamer kafka up)")
    return 0 if ready else 1
