"""Endpoint: one Cloud Function's routes, and the request pipeline they all share.

Pipeline per request: request id and trace -> declared body size (413) -> CORS preflight ->
route match (404/405) -> auth policy (401/403) -> path parameters, query and body parsing
(400/413/415) -> handler -> JSON response (+ CORS headers for an allowed Origin).
Every TributaryError becomes its status with the standard error body, a werkzeug
HTTPException keeps its status in that body too; anything else is logged with its stack and
answered with a 500 that says nothing about internals.

Validation is strict by construction, for every model a route names: unknown query
parameters and body fields are a 400 (pydantic's extra="forbid" applied at validation,
nested models included), each path parameter is a Firestore-safe id (DocId) unless the
route types it otherwise, and every datetime a request carries must exist in UTC (Firestore
converts to UTC; 9999-12-31T23:59:59-14:00 does not, and would be a 500 there).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from flask import Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.exceptions import HTTPException

from shared import logging as tlog
from shared.api.body import leave_unread, parse_json, read_body, refuse_declared_length
from shared.api.framework import from_http_exception, request_id_of
from shared.api.policies import ANONYMOUS, AuthPolicy, Principal
from shared.api.types import DocId
from shared.config import ConfigError, Settings, get_settings
from shared.errors import (
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TributaryError,
    UnsupportedMediaType,
    ValidationFailed,
)

log = tlog.get_logger("tributary.api")

Q = TypeVar("Q", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")
#: what a browser may send cross-origin (answered to a preflight)
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id"


@dataclass
class Call(Generic[Q, B]):
    """Everything a handler needs, already parsed and authorized."""

    request: Request
    settings: Settings
    principal: Principal
    path: dict[str, Any]
    query: Q
    body: B
    request_id: str
    function: str


Handler = Callable[[Call[Any, Any]], Any]


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    auth: AuthPolicy
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    summary: str = ""
    errors: tuple[int, ...] = ()
    #: path parameter -> its type; a parameter not named here is a DocId
    params: dict[str, Any] = field(default_factory=dict)
    pattern: re.Pattern[str] = field(init=False)
    _adapters: dict[str, TypeAdapter[Any]] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        regex = _PARAM.sub(r"(?P<\1>[^/]+)", self.path.rstrip("/") or "")
        self.pattern = re.compile(f"{regex}/?")  # always fullmatch()ed: '$' accepts a final newline

    def adapter(self, name: str) -> TypeAdapter[Any]:
        """The validator of one path parameter, built on first use (not at cold start)."""
        if name not in self._adapters:
            self._adapters[name] = TypeAdapter(self.params.get(name, DocId))
        return self._adapters[name]


def _request_context(request: Request, function: str, settings: Settings | None) -> tlog.RequestContext:
    request_id = request_id_of(request)
    trace = span = None
    header = request.headers.get("X-Cloud-Trace-Context") or ""
    match = re.match(r"^([0-9a-fA-F]{32})(?:/(\d+))?", header)
    if match:
        project = settings.project_id if settings else "unknown"
        trace = f"projects/{project}/traces/{match.group(1)}"
        span = match.group(2)
    return tlog.RequestContext(request_id=request_id, trace=trace, span_id=span, function=function)


def error_body(code: str, message: str, details: Any, request_id: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}


def json_response(payload: Any, status: int, request_id: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload, default=str), status=status, mimetype="application/json")
    response.headers["X-Request-Id"] = request_id
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(exc: TributaryError, request_id: str) -> Response:
    """The standard error body for `exc`, with its status and headers."""
    body = error_body(exc.code, exc.message, exc.details, request_id)
    return json_response(body, exc.status, request_id, exc.headers)


def _field_errors(exc: ValidationError, prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Pydantic's errors without echoing the input back (it may be large or sensitive)."""
    return [
        {"loc": [*prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _instants(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], datetime]]:
    """Every datetime in a validated request, with where it is."""
    if isinstance(value, datetime):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name, item in value.__dict__.items():
            yield from _instants(item, (*loc, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _instants(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _instants(item, (*loc, index))


def _unrepresentable(model: BaseModel) -> list[dict[str, Any]]:
    """Aware datetimes that do not exist in UTC (year 0 or 10000 once the offset is applied)."""
    problems = []
    for loc, value in _instants(model, ()):
        if value.tzinfo is None:
            continue
        try:
            value.astimezone(timezone.utc)
        except OverflowError:
            problems.append(
                {"loc": list(loc), "msg": "Datetime is out of range in UTC", "type": "datetime_out_of_range"}
            )
    return problems


def validate_request_model(model: type[BaseModel], data: Any, message: str | None = None) -> BaseModel:
    """`data` as `model`, strictly: unknown fields refused, every datetime representable in UTC."""
    try:
        parsed = model.model_validate(data, extra="forbid")
    except ValidationError as exc:
        raise ValidationFailed(message, details=_field_errors(exc)) from None
    problems = _unrepresentable(parsed)
    if problems:
        raise ValidationFailed(message, details=problems)
    return parsed


@dataclass(frozen=True)
class Deployment:
    """How the function runs in Cloud Functions; infra/terraform reads it via the manifest."""

    memory: str = "256Mi"
    timeout_s: int = 60
    max_instances: int = 10
    #: requests one instance serves at once (Cloud Run concurrency; above 1 needs a whole CPU)
    concurrency: int = 1
    #: secrets (Secret Manager ids) the function reads, mounted as env vars of the same name
    secrets: tuple[str, ...] = ()
    #: a Cloud Scheduler job POSTs `{}` to it on this cron (UTC) with the scheduler's token
    schedule: str | None = None


class Endpoint:
    """A Cloud Function: a name, its routes, and `entry_point()`, what Cloud Functions calls."""

    def __init__(
        self,
        name: str,
        *,
        summary: str,
        tags: tuple[str, ...] = (),
        deployment: Deployment = Deployment(),
    ) -> None:
        self.name = name
        self.summary = summary
        self.tags = tags
        self.deployment = deployment
        self.routes: list[Route] = []

    @property
    def invoker(self) -> str:
        """Who may invoke it at the IAM layer: a machine-only function admits only its
        service account; anything with a public or user route is public (auth in code)."""
        accounts = {getattr(r.auth, "account", None) for r in self.routes}
        if accounts and None not in accounts and len(accounts) == 1:
            return str(accounts.pop())
        return "public"

    def route(
        self,
        method: str,
        path: str = "/",
        *,
        auth: AuthPolicy,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        errors: tuple[int, ...] = (),
        params: dict[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler. `params` types path parameters (default: DocId each)."""

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    auth=auth,
                    query=query,
                    body=body,
                    response=response,
                    status=status,
                    summary=summary or (handler.__doc__ or "").strip().split("\n")[0],
                    errors=errors,
                    params=dict(params or {}),
                )
            )
            return handler

        return register

    def entry_point(self) -> Callable[[Request], Response]:
        """A plain function for functions-framework, which accepts only function objects.

        functions-framework executes main.py inside its Flask app's context: the app's own
        answers (a path its router cannot match, its hooks' errors) get our error body too.
        """
        import flask

        from shared.api.framework import install_error_handlers

        if flask.has_app_context():
            install_error_handlers(flask.current_app)

        def handle(request: Request) -> Response:
            return self.dispatch(request)

        handle.__doc__ = self.summary
        return handle

    # -- the request pipeline -------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        started = time.perf_counter()
        settings: Settings | None = None
        try:
            settings = get_settings()
        except ConfigError:
            pass
        ctx = _request_context(request, self.name, settings)
        token = tlog.current_context.set(ctx)
        try:
            if settings is None:
                tlog.configure()
                get_settings()  # raises again, now inside the error handling below
            assert settings is not None
            tlog.configure(settings.log_level)
            response = self._dispatch(request, settings, ctx.request_id)
        except (TributaryError, HTTPException) as caught:
            exc = caught if isinstance(caught, TributaryError) else from_http_exception(caught)
            response = error_response(exc, ctx.request_id)
            level = "warning" if exc.status < 500 else "error"
            getattr(log, level)(
                "request failed", extra={"status": exc.status, "code": exc.code, "path": request.path}
            )
        except Exception:  # the last line of defence: log everything, reveal nothing
            log.exception("unhandled error", extra={"path": request.path})
            response = json_response(
                error_body("internal", "Internal error.", None, ctx.request_id), 500, ctx.request_id
            )
        finally:
            leave_unread(request)
            tlog.current_context.reset(token)
        self._apply_cors(request, response, settings)
        log.debug(
            "request done",
            extra={"status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return response

    @staticmethod
    def _apply_cors(request: Request, response: Response, settings: Settings | None) -> None:
        """Echo the Origin only when it is one of CORS_ALLOWED_ORIGINS (none by default)."""
        origin = request.headers.get("Origin")
        if not origin or settings is None:
            return
        response.vary.add("Origin")
        if origin.lower() in settings.cors_allowed_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "ETag, Idempotent-Replayed, X-Request-Id"

    def _routes_for(self, request: Request) -> list[tuple[Route, dict[str, str]]]:
        path = request.path or "/"
        path = path.rstrip("/") if path != "/" else ""
        found = []
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match:
                found.append((route, match.groupdict()))
        return found

    def _match(self, request: Request) -> tuple[Route, dict[str, str]]:
        found = self._routes_for(request)
        method = "GET" if request.method == "HEAD" else request.method
        for route, params in found:
            if route.method == method:
                return route, params
        if found:
            methods = {r.method for r, _ in found}
            allowed = sorted((methods | {"HEAD"}) if "GET" in methods else methods)
            raise MethodNotAllowed(
                f"{request.method} is not allowed here.",
                details={"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            )
        raise NotFound(f"No route for {request.path}.")

    def _preflight(self, request: Request, settings: Settings, request_id: str) -> Response:
        """A browser asks before a cross-origin call: answer for this path, allowed origins only."""
        found = self._routes_for(request)
        if not found:
            raise NotFound(f"No route for {request.path}.")
        origin = (request.headers.get("Origin") or "").lower()
        if origin not in settings.cors_allowed_origins:
            raise Forbidden("This origin may not call the API from a browser.", code="origin_not_allowed")
        methods = sorted({r.method for r, _ in found} | {"OPTIONS"})
        response = Response(status=204)
        response.headers["X-Request-Id"] = request_id
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
        response.headers["Access-Control-Max-Age"] = "3600"
        return response

    def _dispatch(self, request: Request, settings: Settings, request_id: str) -> Response:
        refuse_declared_length(request, settings.max_body_bytes)
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return self._preflight(request, settings, request_id)
        route, path_params = self._match(request)
        principal = route.auth.authenticate(request, settings, settings.function_url(self.name))
        path = self._parse_path(route, path_params)
        query = self._parse_query(route, request)
        body = self._parse_body(route, request, settings)
        call: Call[Any, Any] = Call(
            request=request,
            settings=settings,
            principal=principal or ANONYMOUS,
            path=path,
            query=query,
            body=body,
            request_id=request_id,
            function=self.name,
        )
        result = route.handler(call)
        if isinstance(result, Response):
            result.headers.setdefault("X-Request-Id", request_id)
            return result
        if isinstance(result, BaseModel):
            payload: Any = result.model_dump(mode="json", by_alias=True)
        else:
            payload = result
        if route.status == 204:
            response = Response(status=204)
            response.headers["X-Request-Id"] = request_id
            return response
        return json_response(payload, route.status, request_id)

    @staticmethod
    def _parse_path(route: Route, raw: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        details: list[dict[str, Any]] = []
        for name, value in raw.items():
            try:
                values[name] = route.adapter(name).validate_python(value)
            except ValidationError as exc:
                details += _field_errors(exc, ("path", name))
        if details:
            raise ValidationFailed("The path parameters are not valid.", details=details)
        return values

    @staticmethod
    def _parse_query(route: Route, request: Request) -> Any:
        if route.query is None:
            return None
        raw: dict[str, Any] = {}
        for key in request.args:
            values = request.args.getlist(key)
            raw[key] = values if len(values) > 1 else values[0]
        return validate_request_model(route.query, raw, "The query parameters are not valid.")

    @staticmethod
    def _parse_body(route: Route, request: Request, settings: Settings) -> Any:
        if route.body is None:
            return None
        mimetype = (request.mimetype or "").lower()
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType(details={"content_type": request.mimetype or None})
        data = parse_json(read_body(request, settings.max_body_bytes))
        return validate_request_model(route.body, data)
