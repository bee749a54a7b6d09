"""Endpoint: one Cloud Function's routes, and the request pipeline they all share.

Pipeline per request: request id and trace -> route match (404/405) -> body size (413) ->
auth policy (401/403) -> query and body parsing (400/415) -> handler -> JSON response.
Every TributaryError becomes its status with the standard error body; anything else is
logged with its stack and answered with a 500 that says nothing about internals.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import Request, Response
from pydantic import BaseModel, ValidationError

from shared import logging as tlog
from shared.api.policies import ANONYMOUS, AuthPolicy, Principal
from shared.config import ConfigError, Settings, get_settings
from shared.errors import (
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TributaryError,
    UnsupportedMediaType,
    ValidationFailed,
)

log = tlog.get_logger("tributary.api")

Q = TypeVar("Q", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")


@dataclass
class Call(Generic[Q, B]):
    """Everything a handler needs, already parsed and authorized."""

    request: Request
    settings: Settings
    principal: Principal
    path: dict[str, str]
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
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = _PARAM.sub(r"(?P<\1>[^/]+)", self.path.rstrip("/") or "")
        self.pattern = re.compile(f"^{regex}/?$")


def _request_context(request: Request, function: str, settings: Settings | None) -> tlog.RequestContext:
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", request_id):
        request_id = uuid.uuid4().hex
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


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without echoing the input back (it may be large or sensitive)."""
    return [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


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
    ) -> Callable[[Handler], Handler]:
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
                )
            )
            return handler

        return register

    def entry_point(self) -> Callable[[Request], Response]:
        """A plain function for functions-framework, which accepts only function objects."""

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
        except TributaryError as exc:
            response = json_response(
                error_body(exc.code, exc.message, exc.details, ctx.request_id),
                exc.status,
                ctx.request_id,
                exc.headers,
            )
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
            tlog.current_context.reset(token)
        self._apply_cors(request, response, settings)
        log.debug(
            "request done",
            extra={"status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return response

    def _apply_cors(self, request: Request, response: Response, settings: Settings | None) -> None:
        origin = request.headers.get("Origin")
        if not origin or settings is None:
            return
        allowed = settings.cors_allowed_origins
        if "*" in allowed or origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Expose-Headers"] = "X-Request-Id"

    def _match(self, request: Request) -> tuple[Route, dict[str, str]]:
        path = request.path or "/"
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.match(path.rstrip("/") if path != "/" else "")
            if match:
                if route.method == request.method:
                    return route, match.groupdict()
                allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(
                f"{request.method} is not allowed here.",
                details={"allowed": sorted(set(allowed))},
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise NotFound(f"No route for {path}.")

    def _preflight(self, request: Request, request_id: str) -> Response:
        methods = sorted({r.method for r in self.routes})
        response = json_response(None, 204, request_id)
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods + ["OPTIONS"])
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-Match, X-Request-Id"
        response.headers["Access-Control-Max-Age"] = "3600"
        return response

    def _dispatch(self, request: Request, settings: Settings, request_id: str) -> Response:
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return self._preflight(request, request_id)
        route, path_params = self._match(request)
        length = request.content_length
        if length is not None and length > settings.max_body_bytes:
            raise PayloadTooLarge(details={"max_bytes": settings.max_body_bytes})
        principal = route.auth.authenticate(request, settings, settings.function_url(self.name))
        query = self._parse_query(route, request)
        body = self._parse_body(route, request, settings)
        call: Call[Any, Any] = Call(
            request=request,
            settings=settings,
            principal=principal or ANONYMOUS,
            path=path_params,
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
    def _parse_query(route: Route, request: Request) -> Any:
        if route.query is None:
            return None
        raw: dict[str, Any] = {}
        for key in request.args:
            values = request.args.getlist(key)
            raw[key] = values if len(values) > 1 else values[0]
        try:
            return route.query.model_validate(raw)
        except ValidationError as exc:
            raise ValidationFailed("The query parameters are not valid.", details=_field_errors(exc)) from None

    @staticmethod
    def _parse_body(route: Route, request: Request, settings: Settings) -> Any:
        if route.body is None:
            return None
        mimetype = (request.mimetype or "").lower()
        if mimetype != "application/json" and not mimetype.endswith("+json"):
            raise UnsupportedMediaType(details={"content_type": request.mimetype or None})
        raw = request.stream.read(settings.max_body_bytes + 1)
        if len(raw) > settings.max_body_bytes:
            raise PayloadTooLarge(details={"max_bytes": settings.max_body_bytes})
        try:
            data = json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedJson(details={"reason": exc.__class__.__name__}) from None
        try:
            return route.body.model_validate(data)
        except ValidationError as exc:
            raise ValidationFailed(details=_field_errors(exc)) from None
