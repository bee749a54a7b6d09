"""`make dev`'s stack (devtools.stack) run by tests as a person runs it: its own process,
on free ports, in a temporary data directory, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from devtools.ports import DEFAULTS
from devtools.processes import free_port
from devtools.sandboxes.registry import all_sandboxes
from tests.conftest import REPO

#: small enough to start and sync in seconds; a size a sandbox does not declare is not passed
TINY_SIZES = {"contacts": 60, "companies": 12, "admins": 5, "conversations": 50, "issues": 40, "accounts": 6}


def tiny(only: str = "intercom") -> list[str]:
    """Tiny sizes for the sandboxes, and only `only` started (others may sync for minutes
    under their vendors' real rate limits)."""
    declared = {name for s in all_sandboxes() for name in s.sizes}
    sizes = [arg for name, n in TINY_SIZES.items() if name in declared for arg in (f"--{name}", str(n))]
    return [*sizes, "--only", only]


def all_port_names() -> list[str]:
    return [*DEFAULTS, *(s.vendor for s in all_sandboxes())]


@dataclass
class LocalStack:
    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in all_port_names()})
    proc: subprocess.Popen[str] | None = None
    log: Path | None = None
    handle: IO[str] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    #: the local scheduler's period (make dev: every 300 s); off unless a test asks, so a
    #: tick planning a due connection never races a test's own Sync Now
    tick_every: float = 0

    def argv(self, *extra: str) -> list[str]:
        ports = [arg for name, port in self.ports.items() for arg in (f"--{name}-port", str(port))]
        return [sys.executable, "-m", "devtools.stack", "--data-dir", str(self.data_dir), *ports,
                "--tick-every", str(self.tick_every), *extra]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.endswith(("_ACCESS_TOKEN", "_BASE_URL")) and k != "FIRESTORE_EMULATOR_HOST"}
        return {**env, "PYTHONPATH": str(REPO), "TRIBUTARY_LOCAL_DIR": str(self.data_dir), **self.extra_env}

    def run(self, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """Start, let it finish (--exit-after-sync), answer its output."""
        return subprocess.run(self.argv(*extra), cwd=REPO, env=self.env(), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self, *extra: str, timeout: float = 180) -> dict[str, Any]:
        """Start and wait until it wrote stack.json (everything is up); answer that."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / f"stack-{int(time.time() * 1000)}.out"
        self.handle = self.log.open("w")
        self.proc = subprocess.Popen(self.argv(*extra), cwd=REPO, env=self.env(), stdout=self.handle,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        stack_file = self.data_dir / "stack.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"the stack exited early:\n{self.output()}")
            if stack_file.exists():
                try:
                    return dict(json.loads(stack_file.read_text()))
                except ValueError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"the stack was not up in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a person stops it: the stack saves its data and stops its children."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        self.proc = None
        if self.handle:
            self.handle.close()
            self.handle = None
        return code

    @property
    def functions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['functions']}/tributary-local/europe-west1"

    def token(self, email: str = "admin@example.com", role: str = "admin") -> str:
        """Through the documented command, as a script would."""
        result = subprocess.run([sys.executable, "-m", "devtools.token", "--email", email, "--role", role],
                                cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def api(self, info: dict[str, Any], token: str) -> httpx.Client:
        return httpx.Client(base_url=info["functions"], headers={"Authorization": f"Bearer {token}"}, timeout=30)
