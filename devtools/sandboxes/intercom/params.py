"""Reading query parameters and JSON bodies the way Intercom refuses bad ones (400)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.intercom.responses import ApiError


def int_arg(request: Request, name: str, default: int, minimum: int = 1) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", f"{name} must be an integer") from exc
    if value < minimum:
        raise ApiError(400, "parameter_invalid", f"{name} must be at least {minimum}")
    return value


def json_body(request: Request) -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "request body must be a JSON object")
    return body
