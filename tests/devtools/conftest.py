"""Helpers for the Cloud Tasks emulator tests: a recording HTTP target, and the emulator
started as a subprocess on free ports, minting its OIDC tokens from the local identity."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from devtools.identity import IdentityServer
from devtools.processes import ManagedProcess, free_port

REPO = Path(__file__).resolve().parents[2]


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


@dataclass
class Hit:
    at: float  # time.monotonic() on arrival
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class RecordTarget:
    """Records every request. The path is /<key>/...; query status=N answers N (default 200),
    sleep_ms=N waits first, fail_first=N answers fail_status (default 500) until the task's retry
    count reaches N, retry_after=V adds "Retry-After: V" to failed answers. In-flight counts
    are kept per key, so concurrent tests do not see each other."""

    server: ThreadingHTTPServer | None = None
    hits: list[Hit] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> RecordTarget:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                target._record_and_answer(self)

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = _serve(Handler)
        return self

    def _record_and_answer(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        key = parts.path.strip("/").split("/")[0]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        hit = Hit(time.monotonic(), parts.path, query, {k.lower(): v for k, v in req.headers.items()}, body)
        with self.lock:
            self.hits.append(hit)
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self.in_flight[key])
        try:
            time.sleep(int(query.get("sleep_ms", 0)) / 1000)
            status = int(query.get("status", 200))
            retries = int(hit.headers.get("x-cloudtasks-taskretrycount", 0))
            if retries < int(query.get("fail_first", 0)):
                status = int(query.get("fail_status", 500))
        finally:
            with self.lock:
                self.in_flight[key] -= 1
        req.send_response(status)
        if status >= 300 and "retry_after" in query:
            req.send_header("Retry-After", query["retry_after"])
        req.send_header("Content-Length", "0")
        req.end_headers()

    def new_key(self) -> str:
        return uuid.uuid4().hex[:12]

    def url(self, key: str, path: str = "task", **query: Any) -> str:
        assert self.server is not None
        qs = urlencode({k: str(v) for k, v in query.items()})
        return f"http://127.0.0.1:{self.server.server_port}/{key}/{path}" + (f"?{qs}" if qs else "")

    def for_key(self, key: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path.startswith(f"/{key}/")]

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class RunningEmulator:
    process: ManagedProcess
    host: str
    status_url: str


def start_emulator(log_dir: Path, name: str, mint_url: str, *extra: str) -> RunningEmulator:
    port, http_port = free_port(), free_port()
    argv = [
        sys.executable,
        "-m",
        "devtools.cloudtasks_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--oidc-mint-url",
        mint_url,
        *extra,
    ]
    process = ManagedProcess(name, argv, port=port, log_dir=log_dir, cwd=REPO, ready_timeout_s=30).start()
    return RunningEmulator(process, f"127.0.0.1:{port}", f"http://127.0.0.1:{http_port}/status.json")


@pytest.fixture(scope="module")
def record_target() -> Iterator[RecordTarget]:
    target = RecordTarget().start()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def oidc_fixture(identity: IdentityServer) -> IdentityServer:
    """The local identity (devtools.identity) mints the emulator's OIDC tokens."""
    return identity


@pytest.fixture(scope="module")
def cloudtasks_emulator(log_dir: Path, oidc_fixture: IdentityServer) -> Iterator[RunningEmulator]:
    emulator = start_emulator(log_dir, "cloudtasks-emulator", oidc_fixture.mint_oidc_url)
    yield emulator
    emulator.process.stop()
