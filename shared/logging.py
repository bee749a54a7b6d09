"""Structured JSON logs that Cloud Logging reads: severity, message, trace, request id.

The request context (trace, request id) lives in a ContextVar set by the API layer, so
every line logged while handling a request carries it without being passed around.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    trace: str | None = None  # projects/P/traces/T
    span_id: str | None = None
    function: str | None = None


current_context: ContextVar[RequestContext | None] = ContextVar("tributary_request", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per line; extra= fields are kept as structured payload."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARNING" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "logger": record.name,
        }
        ctx = current_context.get()
        if ctx is not None:
            entry["request_id"] = ctx.request_id
            if ctx.trace:
                entry[TRACE_KEY] = ctx.trace
            if ctx.span_id:
                entry[SPAN_KEY] = ctx.span_id
            if ctx.function:
                entry["function"] = ctx.function
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_configured = False


def configure(level: str = "INFO") -> None:
    """Route the root logger to stdout as JSON, once per process. Every request calls this:
    levels are set only when they differ (setLevel clears every logger's cache under the
    logging lock: a fiftieth of a sync task's CPU, #16)."""
    global _configured
    root = logging.getLogger()
    if root.level != logging.getLevelName(level):
        root.setLevel(level)
    # httpx logs every request at INFO: a line per vendor page (a tenth of a small request's
    # CPU, and log volume); the vendor client logs its retries and pauses itself
    if logging.getLogger("httpx").level != logging.WARNING:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers = [handler]
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
