"""Start child processes that announce readiness, and stop them with their children.

Each child runs in its own process group so that stopping it (or Ctrl-C in the stack)
leaves no orphans, even when the child forks (java, gcloud wrappers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

#: every port free_port handed out in this process
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A port free now that this process never handed out before: the OS offers a port
    again as soon as its probe socket closes, and two services of one stack were given the
    same one (the local stack refused to start: "also given to tasks")."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        with _handed_out_lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def wait_for_port(port: int, timeout_s: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout_s}s")


class ManagedProcess:
    """A child process with its output teed to a log file, ready when a port opens."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        env: dict[str, str] | None = None,
        log_dir: Path,
        cwd: Path | None = None,
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.cwd = cwd
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n{self.tail()}"
                )
            try:
                wait_for_port(self.port, 0.2)
                return
            except TimeoutError:
                continue
        raise TimeoutError(f"{self.name} was not ready in {self.ready_timeout_s}s; see {self.log_path}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, as tests of resumption need."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def stop(self, grace_s: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=grace_s)
            except ProcessLookupError:
                pass
        self._close_log()


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    """Stop in reverse start order, in parallel, so shutdown takes one grace period."""
    threads = [threading.Thread(target=p.stop) for p in reversed(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
