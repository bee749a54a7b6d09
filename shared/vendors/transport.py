"""The vendor client's HTTP/1.1 transport: httpx's client on the standard library's
http.client, with keep-alive connections pooled per host.

httpx's own transport (httpcore and h11, both pure Python) spent about 0.7 ms of CPU on a
small request and more on a large page; http.client parses the status line and reads the
body in C: a third of that (measured on loopback). Everything above the wire stays httpx's:
the request is built by httpx, the answer is an httpx.Response (decoded by its
Content-Encoding as ever), and failures are httpx's exception types, which the vendor
client already retries. Proxies from the environment are not used: vendor hosts are
reached directly.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from functools import cache
from typing import Any

import httpx

#: idle keep-alive connections kept per host (one per concurrent request is reused)
MAX_IDLE_PER_HOST = 8
_Key = tuple[str, str, int]
#: sent again on a new connection when a kept-alive one turns out closed by the host
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class _Closed(Exception):
    """The host closed the connection before answering."""


@cache
def _tls() -> ssl.SSLContext:
    """Verified TLS with httpx's CA bundle (certifi), loaded once per process."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class StdlibTransport(httpx.BaseTransport):
    """httpx.BaseTransport over http.client; thread-safe (a connection serves one request
    at a time and returns to the pool when its answer has been read in full)."""

    def __init__(self) -> None:
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeout = request.extensions.get("timeout") or {}
        body = request.read()
        target = url.raw_path.decode("ascii")
        pooled = self._take(key)
        if pooled is not None:
            try:
                return self._exchange(key, pooled, request, target, body, timeout)
            except _Closed as exc:
                if request.method not in _IDEMPOTENT:
                    raise httpx.RemoteProtocolError("the host closed a kept-alive connection", request=request) from exc
        try:
            return self._exchange(key, self._connect(key, timeout, request), request, target, body, timeout)
        except _Closed as exc:
            raise httpx.RemoteProtocolError("the host closed the connection without answering", request=request) from exc

    def _exchange(self, key: _Key, conn: http.client.HTTPConnection, request: httpx.Request, target: str,
                  body: bytes, timeout: dict[str, Any]) -> httpx.Response:
        try:
            if conn.sock is not None:
                conn.sock.settimeout(timeout.get("read"))
            conn.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.raw:
                conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
            conn.endheaders(body or None)
            answer = conn.getresponse()
            content = answer.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            raise _Closed() from exc
        except TimeoutError as exc:
            conn.close()
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        if answer.will_close:
            conn.close()
        else:
            self._give_back(key, conn)
        return httpx.Response(answer.status, headers=answer.getheaders(), stream=httpx.ByteStream(content),
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode()})

    def _connect(self, key: _Key, timeout: dict[str, Any], request: httpx.Request) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout.get("connect"), context=_tls())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout.get("connect"))
        try:
            conn.connect()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, TLS failures (ssl.SSLError is an OSError)
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return conn

    def _take(self, key: _Key) -> http.client.HTTPConnection | None:
        """An idle connection the host has not closed meanwhile (readable while idle: it
        sent its end of file), as httpcore checks; None: open a new one."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                return None
            if conn.sock is not None and not select.select([conn.sock], [], [], 0)[0]:
                return conn
            conn.close()

    def _give_back(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
