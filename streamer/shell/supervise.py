"""Run a ``streamer worker`` as a child process: start, wait until it consumes, stop or kill.

Used by ``streamer demo``, the Kafka path of ``streamer evaluate`` and the integration tests, so
they all exercise the real command a user runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Self

import orjson

from streamer.errors import StreamerError


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ("" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def topic_env(prefix: str) -> dict[str, str]:
    """Environment naming a fresh set of topics and a fresh app id, all starting with ``prefix``."""
    return {
        "STREAMER_INPUT_TOPIC": f"{prefix}-events",
        "STREAMER_ALERTS_TOPIC": f"{prefix}-alerts",
        "STREAMER_DLQ_TOPIC": f"{prefix}-dlq",
        "STREAMER_FEATURES_TOPIC": f"{prefix}-features",
        "STREAMER_FEEDBACK_TOPIC": f"{prefix}-feedback",
        "STREAMER_APP_ID": f"{prefix}-app",
    }


class ChildProcess:
    """A child process in its own session, its output in a log file; stopped by SIGTERM
    (graceful, then SIGKILL after a timeout) or killed by -9 with its whole group."""

    def __init__(self, argv: list[str], log_path: Path, env: Mapping[str, str] | None = None,
                 ) -> None:
        self.argv = argv
        self.log_path = log_path
        self.env = {**os.environ, **dict(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def log(self) -> str:
        """The whole log ("" when it cannot be read)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL after ``timeout_s``; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9 the child's whole process group (a crash, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class WorkerProcess(ChildProcess):
    """One ``python -m streamer worker`` child with its own web port and data dir."""

    def __init__(self, bootstrap: str, env: Mapping[str, str], data_dir: Path,
                 log_path: Path | None = None, web_port: int | None = None) -> None:
        self.web_port = web_port or free_port()
        self.data_dir = data_dir
        super().__init__([sys.executable, "-m", "streamer", "worker"],
                         log_path or data_dir / "worker.log",
                         {**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                          "STREAMER_WEB_PORT": str(self.web_port),
                          "STREAMER_DATA_DIR": str(data_dir)})

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return super().start()

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.web_port}{path}"
        token = self.env.get("STREAMER_WEB_TOKEN")  # [ops hook] the worker's own token
        req = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return int(resp.status), orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), orjson.loads(exc.read() or b"null")

    def stats(self) -> dict[str, Any] | None:
        try:
            status, body = self.get("/stats")
        except (OSError, ValueError):
            return None
        return body if status == 200 else None

    def wait_consuming(self, timeout_s: float = 90.0) -> None:
        """Block until the worker has partitions of its input topic assigned."""
        deadline = time.monotonic() + timeout_s
        topic = self.env.get("STREAMER_INPUT_TOPIC", "inference-events")
        while time.monotonic() < deadline:
            self.check_alive()
            st = self.stats()
            if st and any(a.startswith(topic + ":") for a in st.get("assigned", [])):
                return
            time.sleep(0.3)
        raise StreamerError(f"worker did not start consuming in {timeout_s}s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise StreamerError(
                f"worker exited with {self.proc.returncode}; log tail:\n{self.log_tail()}"
            )

