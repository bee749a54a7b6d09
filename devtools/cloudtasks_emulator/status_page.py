"""A read-only page (and JSON) of queue counts and dropped tasks, to watch a sync run locally."""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.cloudtasks_emulator.core import Emulator

_COLUMNS = (
    "state",
    "pending",
    "due",
    "running",
    "dispatched",
    "completed",
    "dropped",
    "max_dispatches_per_second",
    "max_burst_size",
    "max_concurrent_dispatches",
    "effective_dispatches_per_second",
    "throttled_responses",
    "next_eta_in_s",
)


def _last(dropped: dict[str, Any]) -> str:
    return str(dropped["last_http_status"] or dropped["last_status"])


def render(snapshot: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("queue", *_COLUMNS))
    rows = "".join(
        "<tr><td>"
        + html.escape(q["name"])
        + "</td>"
        + "".join(f"<td>{html.escape(str(q[c]))}</td>" for c in _COLUMNS)
        + "</tr>"
        for q in snapshot["queues"]
    )
    dropped = "".join(
        f"<li>{html.escape(d['task'])}: {d['attempts']} attempts, last {html.escape(_last(d))}</li>"
        for d in reversed(snapshot["dropped_tasks"])
    )
    return (
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=2>"
        "<title>Cloud Tasks emulator</title><style>td,th{padding:2px 8px;text-align:right}</style>"
        f"<h1>Cloud Tasks emulator</h1><table><tr>{head}</tr>{rows}</table>"
        f"<h2>Dropped tasks</h2><ul>{dropped or '<li>none</li>'}</ul><p><a href=/status.json>JSON</a></p>"
    )


class StatusServer:
    def __init__(self, emu: Emulator, host: str, port: int) -> None:
        emulator = emu

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                snapshot = emulator.snapshot()
                if self.path.split("?")[0] == "/status.json":
                    body, kind = json.dumps(snapshot).encode(), "application/json"
                elif self.path.split("?")[0] == "/":
                    body, kind = render(snapshot).encode(), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # polling every 2 s would drown the emulator's own log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="status", daemon=True)

    def start(self) -> StatusServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
