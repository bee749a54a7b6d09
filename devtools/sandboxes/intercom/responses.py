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


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, headers=headers,
                    mimetype="application/json")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(error_body(code, message), status, headers)
