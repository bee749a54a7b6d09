"""The vendor client's transport (http.client under httpx) against a real local server:
what httpx's own transport did, on the wire."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from shared.vendors.transport import StdlibTransport


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []
    ports: set[int] = set()

    def _answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _record(self, body: bytes = b"") -> None:
        Handler.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        Handler.ports.add(self.client_address[1])

    def do_GET(self) -> None:
        self._record()
        if self.path.startswith("/gzip"):
            self._answer(200, gzip.compress(b'{"zipped": true}'), Content_Encoding="gzip")
        elif self.path.startswith("/close"):
            self._answer(200, b'{"closing": true}', Connection="close")
        elif self.path.startswith("/slow"):
            threading.Event().wait(1.0)
            self._answer(200, b"{}")
        else:
            self._answer(429 if self.path.startswith("/limited") else 200, json.dumps({"path": self.path}).encode(),
                         Retry_After="3")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._record(body)
        self._answer(201, body)

    def log_message(self, *args: Any) -> None:
        return None


class Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # the slow answer's client is gone by then: nothing to report


@pytest.fixture()
def base() -> Iterator[str]:
    Handler.seen, Handler.ports = [], set()
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(base: str, **kw: Any) -> httpx.Client:
    return httpx.Client(base_url=base, transport=StdlibTransport(), headers={"Authorization": "Bearer t"}, **kw)


def test_requests_and_answers_are_httpxs_and_connections_are_kept_alive(base: str) -> None:
    with client(base) as http:
        got = http.get("/contacts/a b", params={"q": "x&y", "n": 2})
        assert got.status_code == 200 and got.json() == {"path": "/contacts/a%20b?q=x%26y&n=2"}
        posted = http.post("/search", json={"query": {"field": "name", "value": "é"}})
        assert posted.status_code == 201 and posted.json() == {"query": {"field": "name", "value": "é"}}
        limited = http.get("/limited")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
        assert http.get("/gzip").json() == {"zipped": True}  # decoded by httpx, as ever
    assert Handler.seen[0]["headers"]["Authorization"] == "Bearer t"
    assert Handler.seen[1]["headers"]["Content-Type"] == "application/json"
    assert json.loads(Handler.seen[1]["body"]) == {"query": {"field": "name", "value": "é"}}
    assert len(Handler.ports) == 1  # one connection for all four


def test_a_connection_the_host_closed_is_not_reused(base: str) -> None:
    with client(base) as http:
        assert http.get("/close").json() == {"closing": True}
        assert http.get("/after").status_code == 200
    assert len(Handler.ports) == 2


def test_failures_are_httpxs_exception_types(base: str) -> None:
    with client(base, timeout=httpx.Timeout(0.2)) as http, pytest.raises(httpx.ReadTimeout):
        http.get("/slow")
    with client("http://127.0.0.1:9") as http, pytest.raises(httpx.ConnectError):
        http.get("/")
