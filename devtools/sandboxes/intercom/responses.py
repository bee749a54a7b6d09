"""JSON responses and Intercom's error body ({"type": "error.list", "request_id", "errors"})."""

from __future__ import annotations

import json
import uuid
from typing import Any

from werkzeug.wrappers import Response


class ApiError(Exception):
    """Raised by handlers; rendered as Intercom's error.list with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Encoded(str):
    """A JSON document already encoded (pages built from cached record JSON)."""


def encode(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def with_items(envelope: dict[str, Any], key: str, items: list[str]) -> Encoded:
    """`envelope` encoded with `key` set to the already-encoded JSON `items`."""
    placeholder = "\u0000items\u0000"
    text = encode({**envelope, key: placeholder})
    return Encoded(text.replace(encode(placeholder), "[" + ",".join(items) + "]", 1))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, Encoded) else encode(body)
    return Response(text, status=status, headers=headers, mimetype="application/json")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(error_body(code, message), status, headers)
