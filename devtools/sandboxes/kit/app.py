"""The WSGI application every sandbox runs: routing, then auth -> rate limit -> faults ->
the vendor's checks -> its handler, plus /_sandbox/* controls and an optional OAuth server.

A vendor sandbox supplies a `Vendor` (its routes, how to count and reset its records, its
clock and its Dialect) and a store; everything else is here, so every sandbox limits,
fails and reports the same way and a test written against one knows the others.

    app = SandboxApp(VENDOR, store, auth=BearerAuth(["sandbox-token"]),
                     rate_limit=RateLimitConfig(per_minute=1000), oauth=None, webhooks=None)

Paths and who handles them:

    /_sandbox/...     controls (control.py and the vendor's own): no auth, no rate limit, no
                      faults; handlers get (app, request, **path_args); the webhook sender's
                      paths (webhooks.handles(request)) go to the sender
    <oauth.prefix>/   the mounted OAuth server (oauth.py), when there is one
    anything else     the vendor's API: handlers get (store, request, **path_args) and return
                      a JSON-able body (200), Encoded text, or a werkzeug Response
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devtools.sandboxes.kit import control
from devtools.sandboxes.kit.auth import Auth
from devtools.sandboxes.kit.dialect import Dialect
from devtools.sandboxes.kit.faults import FaultConfig, FaultInjector, drop_connection
from devtools.sandboxes.kit.oauth import OAuthServer
from devtools.sandboxes.kit.ratelimit import RateLimitConfig, RateLimiter
from devtools.sandboxes.kit.responses import ApiError, json_response
from devtools.sandboxes.kit.stats import Stats

S = TypeVar("S")
Handler = Callable[..., Any]
CONTROL_PREFIX = "/_sandbox/"
WSGIEnviron = dict[str, Any]


class Route(NamedTuple):
    """(method, werkzeug rule, handler); plain 3-tuples are accepted too."""

    method: str
    path: str
    handler: Handler


@runtime_checkable
class Mount(Protocol):
    """Something that answers a set of paths itself: the OAuth server (oauth.py) and the
    webhook sender (webhooks.py) have this shape.

    The app offers it each request; when `handles(request)` is true, `dispatch(request)`
    answers with no auth, no rate limit, no faults and no counting.
    """

    def handles(self, request: Request) -> bool: ...

    def dispatch(self, request: Request) -> Response: ...


#: The extension point for a webhook sender (kit/webhooks.py): a Mount for its controls
#: (target, signer, faults, log), offered only paths under /_sandbox/ and before the kit's own
#: controls. The app holds it as `app.webhooks`, where vendor code (a control handler gets the
#: app) hands it events; queuing, signing and delivery are the sender's own business.
WebhookMount = Mount


@dataclass(frozen=True)
class Vendor(Generic[S]):
    """What a vendor sandbox is: its routes, how its records are counted and regenerated,
    its clock, and how it words refusals."""

    #: the vendor's name, as in shared/vendors/<name> (ready lines, messages)
    name: str
    routes: Sequence[tuple[str, str, Handler]]
    #: GET /_sandbox/counts: record counts and whatever else tests compare with
    counts: Callable[[S], dict[str, Any]]
    #: POST /_sandbox/reset: regenerate from the body's settings (raise ApiError for bad ones)
    reset: Callable[[S, dict[str, Any]], dict[str, Any]]
    #: the sandbox clock (the newest timestamp handed out), reported by /_sandbox/stats
    now: Callable[[S], float]
    dialect: Dialect = field(default_factory=Dialect)
    #: extra /_sandbox/* routes (deterministic mutations, vendor state): handler(app, request, **args)
    controls: Sequence[tuple[str, str, Handler]] = ()


def _rule_map(routes: Iterable[tuple[str, str, Handler]]) -> Map:
    return Map([Rule(path, methods=[method], endpoint=(f"{method} {path}", fn)) for method, path, fn in routes],
               strict_slashes=False)


class SandboxApp(Generic[S]):
    """A WSGI callable holding the vendor's store, the limiter, the fault injector, the
    counters and the optional OAuth server and webhook sender (both Mounts)."""

    def __init__(self, vendor: Vendor[S], store: S, *, auth: Auth,
                 rate_limit: RateLimitConfig | None = None, faults: FaultConfig | None = None,
                 fault_seed: int = 7, oauth: OAuthServer | None = None, webhooks: WebhookMount | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.vendor = vendor
        self.store = store
        self.dialect = vendor.dialect
        self.auth = auth
        self.limiter = RateLimiter(rate_limit or RateLimitConfig(), wall_clock)
        self.faults = FaultInjector(faults or FaultConfig(), fault_seed)
        self.stats = Stats()
        self.oauth = oauth
        self.webhooks = webhooks
        controls = [*control.ROUTES, *vendor.controls, *(control.OAUTH_ROUTES if oauth is not None else ())]
        misplaced = [path for _, path, _ in controls if not path.startswith(CONTROL_PREFIX)]
        if misplaced:
            raise ValueError(f"control routes must live under {CONTROL_PREFIX}: {misplaced}")
        self._api = _rule_map(vendor.routes)
        self._control = _rule_map(controls)

    def __call__(self, environ: WSGIEnviron, start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX) or request.path == CONTROL_PREFIX.rstrip("/"):
            # the sender is offered control paths only, so it can never shadow the vendor's API
            if self.webhooks is not None and self.webhooks.handles(request):
                response = self.webhooks.dispatch(request)
            else:
                response = self._control_call(request)
        elif self.oauth is not None and self.oauth.handles(request):
            response = self.oauth.dispatch(request)
        else:
            response = self._api_call(request, environ)
        return response(environ, start_response)

    def now(self) -> float:
        """The sandbox clock (see Vendor.now)."""
        return self.vendor.now(self.store)

    def error(self, exc: ApiError, headers: dict[str, str] | None = None) -> Response:
        """`exc` in the vendor's error body, with `headers` and its own."""
        body = self.dialect.error_body(exc.status, exc.code, exc.message)
        return json_response(body, exc.status, {**(headers or {}), **exc.headers})

    # -- controls -------------------------------------------------------------------------

    def _control_call(self, request: Request) -> Response:
        try:
            (_, handler), args = self._control.bind_to_environ(request.environ).match()
            return _reply(handler(self, request, **args), {})
        except ApiError as exc:
            return self.error(exc)
        except (NotFound, MethodNotAllowed) as exc:
            return self.error(ApiError(exc.code or 404, "not_found",
                                       f"no control endpoint {request.method} {request.path}"))

    # -- the vendor's API -----------------------------------------------------------------

    def _api_call(self, request: Request, environ: WSGIEnviron) -> Response:
        unknown: NotFound | MethodNotAllowed | None = None
        try:
            (route, handler), args = self._api.bind_to_environ(environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            route, handler, args = f"{request.method} <unknown>", None, {}
            unknown = exc
        response = self._pipeline(request, environ, route, handler, dict(args), unknown)
        self.stats.record(route, response.status_code)
        return response

    def _pipeline(self, request: Request, environ: WSGIEnviron, route: str, handler: Handler | None,
                  args: dict[str, Any], unknown: NotFound | MethodNotAllowed | None) -> Response:
        if not self.auth(request):
            self.stats.bump("unauthorized")
            return self.error(ApiError(401, *self.dialect.unauthorized(request)))
        decision = self.limiter.take()
        headers = self.dialect.rate_headers_for(request, decision)
        if not decision.allowed:
            self.stats.bump("rate_limited")
            return self.error(ApiError(429, *self.dialect.rate_limited(decision)), headers)
        faulty = self._fault(environ, headers)
        if faulty is not None:
            return faulty
        try:
            self.dialect.check(request)
            if handler is None:
                status = 405 if isinstance(unknown, MethodNotAllowed) else 404
                raise ApiError(status, *self.dialect.unknown_route(request, status))
            return _reply(handler(self.store, request, **args), headers)
        except ApiError as exc:
            return self.error(exc, headers)

    def _fault(self, environ: WSGIEnviron, headers: dict[str, str]) -> Response | None:
        fault = self.faults.decide()
        if fault.latency_s:
            time.sleep(fault.latency_s)
        if fault.drop:
            self.stats.bump("dropped_connections")
            drop_connection(environ)
            return Response(b"", status=499)  # never reaches the client
        if fault.error_status is not None:
            self.stats.bump("injected_errors")
            return self.error(ApiError(fault.error_status, *self.dialect.injected(fault.error_status)), headers)
        return None


def _reply(result: Any, headers: dict[str, str]) -> Response:
    """A handler's result as a response carrying `headers` (a Response keeps its own status)."""
    if isinstance(result, Response):
        for name, value in headers.items():
            result.headers.setdefault(name, value)
        return result
    return json_response(result, 200, headers)
