"""Helpers for the Cloud Tasks emulator tests: a recording HTTP target, a tiny OIDC minting
service with its own RSA key, and the emulator started as a subprocess on free ports."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

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
    sleep_ms=N waits first, fail_first=N answers 500 until the task's retry count reaches N.
    In-flight counts are kept per key, so concurrent tests do not see each other."""

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
                status = 500
        finally:
            with self.lock:
                self.in_flight[key] -= 1
        req.send_response(status)
        req.send_header("Content-Length", "0")
        req.end_headers()

    def new_key(self) -> str:
        return uuid.uuid4().hex[:12]

    def url(self, key: str, path: str = "task", **query: Any) -> str:
        assert self.server is not None
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"http://127.0.0.1:{self.server.server_port}/{key}/{path}" + (f"?{qs}" if qs else "")

    def for_key(self, key: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path.startswith(f"/{key}/")]

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class OidcFixture:
    """Mints RS256 OIDC tokens the way Google shapes them and serves the public key by kid."""

    key_id: str = "test-key-1"
    server: ThreadingHTTPServer | None = None
    mints: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.signer = crypt.RSASigner.from_string(private_pem, key_id=self.key_id)

    def token(self, audience: str, email: str) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "email": email,
            "email_verified": True,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, email).int)[:21],
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(self.signer, claims).decode()

    def start(self) -> OidcFixture:
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                fixture.mints.append(body)
                self._json({"token": fixture.token(body["audience"], body["email"])})

            def do_GET(self) -> None:
                self._json({fixture.key_id: fixture.public_pem})

            def _json(self, value: Any) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = _serve(Handler)
        return self

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def mint_url(self) -> str:
        return f"{self.base_url}/mint"

    @property
    def certs_url(self) -> str:
        return f"{self.base_url}/certs"

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
def oidc_fixture() -> Iterator[OidcFixture]:
    fixture = OidcFixture().start()
    yield fixture
    fixture.stop()


@pytest.fixture(scope="module")
def cloudtasks_emulator(log_dir: Path, oidc_fixture: OidcFixture) -> Iterator[RunningEmulator]:
    emulator = start_emulator(log_dir, "cloudtasks-emulator", oidc_fixture.mint_url)
    yield emulator
    emulator.process.stop()
