"""JSON answers and the error a handler raises.

Handlers return plain JSON-able values (or `Encoded` text, or a werkzeug Response for an
unusual status); they refuse by raising `ApiError`, which the app renders in the vendor's
own error body (see dialect.py). Keeping the wording out of the handlers' way lets one
exception type serve every vendor.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response


class ApiError(Exception):
    """Raised by handlers and hooks; rendered by the vendor's Dialect with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class Encoded(str):
    """A JSON document already encoded (pages assembled from cached record JSON)."""


def encode(body: Any) -> str:
    """Compact JSON, the way vendors send it."""
    return json.dumps(body, separators=(",", ":"))


def with_items(envelope: dict[str, Any], key: str, items: list[str]) -> Encoded:
    """`envelope` encoded with `key` set to the already-encoded JSON `items`.

    Large pages re-encode nothing: each record's JSON is cached by the store and spliced in,
    keeping the envelope's key order.
    """
    placeholder = "\u0000items\u0000"
    text = encode({**envelope, key: placeholder})
    return Encoded(text.replace(encode(placeholder), "[" + ",".join(items) + "]", 1))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, Encoded) else encode(body)
    return Response(text, status=status, headers=headers, mimetype="application/json")
