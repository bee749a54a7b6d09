"""The hosting Flask app's own answers, in our error body.

functions-framework routes every path to the function, except when it does not: a path
its `<path:...>` rule cannot match (a %0A in a segment), /robots.txt and /favicon.ico, an
error in one of its hooks. Flask then answers with werkzeug's HTML page. Installed on the
app, these handlers make those answers {"error": {...}} like every other, with the request
id and status werkzeug chose.

`Endpoint.entry_point()` installs them on the app it is loaded into (functions-framework
executes main.py inside the app's context); devtools.functions_server installs them too.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException, InternalServerError

from shared.errors import (
    BadRequest,
    HttpProtocolError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TributaryError,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from flask import Flask, Request, Response

#: werkzeug's statuses that have an error type of our own (and its stable code)
_OURS: dict[int, type[TributaryError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    503: ServiceUnavailable,
}
#: functions-framework marks a crash with this header; Cloud Functions logs it as one
CRASH_HEADER = ("X-Google-Status", "crash")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def request_id_of(request: Request) -> str:
    """The caller's X-Request-Id when it is a plain token, a fresh one otherwise."""
    given = request.headers.get("X-Request-Id") or ""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def from_http_exception(exc: HTTPException) -> TributaryError:
    """Our error for a werkzeug HTTPException, keeping its status; never its HTML or text."""
    status = exc.code or 500
    if status == 500:  # a crash: say nothing of it
        return TributaryError()
    kind = _OURS.get(status)
    if kind is not None:
        error = kind()
    else:
        name = re.sub(r"[^a-z0-9]+", "_", (exc.name or "http error").lower()).strip("_")
        error = HttpProtocolError(status, f"{exc.name}.", code=name or None)
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        error.headers["Allow"] = ", ".join(sorted(valid_methods))
    return error


def _answer(exc: HTTPException) -> Response:
    from flask import request

    from shared.api.body import leave_unread
    from shared.api.endpoint import error_response

    leave_unread(request)
    error = from_http_exception(exc)
    response = error_response(error, request_id_of(request))
    if error.status >= 500:
        response.headers[CRASH_HEADER[0]] = CRASH_HEADER[1]
    return response


def install_error_handlers(app: Flask) -> None:
    """Every HTTPException Flask answers itself, 500 included, becomes our error body."""
    app.register_error_handler(HTTPException, _answer)
    # functions-framework registers its crash handler for the code 500, which Flask looks
    # up before any class; ours replaces it (and keeps its crash header).
    app.register_error_handler(InternalServerError, _answer)
