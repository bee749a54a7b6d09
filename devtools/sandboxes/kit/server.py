"""Serving a sandbox: a threaded, quiet werkzeug server with clean shutdown on SIGTERM or
SIGINT, or the same server on a background thread of a test process.

werkzeug's dev server gives each connection a thread and exposes the socket to the app,
which the drop fault needs; access logs are off unless asked for, since a benchmark sends
thousands of requests.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class QuietHandler(WSGIRequestHandler):
    """No per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def build_server(app: WSGIApp, host: str, port: int, access_log: bool = False) -> BaseWSGIServer:
    """A bound, threaded server (port 0 picks a free port: see server.server_port)."""
    logging.getLogger("werkzeug").setLevel(logging.INFO if access_log else logging.WARNING)
    handler: type[WSGIRequestHandler] = WSGIRequestHandler if access_log else QuietHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    server.daemon_threads = True  # type: ignore[attr-defined]  # threaded=True: a ThreadingMixIn server
    return server


def serve_until_signalled(server: BaseWSGIServer) -> None:
    """serve_forever() until SIGTERM or SIGINT, then close the socket and return."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to exit, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous: dict[int, Any] = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class BackgroundWSGI:
    """`with BackgroundWSGI(app) as served: served.base_url` (threaded, quiet, port 0): any
    WSGI app, a sandbox or a bare OAuth server, on a thread of this process."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = build_server(app, host, port)
        self.base_url = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> BackgroundWSGI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

