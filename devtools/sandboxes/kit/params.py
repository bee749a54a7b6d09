"""Reading query parameters and JSON bodies, refusing bad ones with 400 (as vendors do).

The codes are the common ones (`parameter_invalid`, `bad_request`); a vendor that words
them differently catches the ApiError or reads the request itself.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.responses import ApiError


def int_arg(request: Request, name: str, default: int, minimum: int = 1) -> int:
    """Query parameter `name` as an integer >= minimum (absent or empty: `default`)."""
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
    """The body as a JSON object (anything else: 400 bad_request)."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "request body must be a JSON object")
    return body


def control_body(request: Request) -> dict[str, Any]:
    """A control endpoint's body: empty means {}, otherwise a JSON object."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "body must be a JSON object")
    return body


def int_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, int]:
    """`body` when it holds only `allowed` keys with non-negative integers (else 400)."""
    unknown = set(body) - set(allowed)
    if unknown:
        raise ApiError(400, "parameter_invalid", f"unknown keys {sorted(unknown)}; allowed: {list(allowed)}")
    for key, value in body.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ApiError(400, "parameter_invalid", f"{key} must be a non-negative integer")
    return dict(body)
