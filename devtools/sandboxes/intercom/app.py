"""The WSGI application: routing, then for Intercom paths auth -> rate limit -> faults.

create_app(config) gives an in-process app (werkzeug Client, or any WSGI server); the
CLI in __main__ serves it threaded. Control paths under /_sandbox/ bypass the pipeline.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devtools.sandboxes.intercom import api, api_companies, api_workspace, control
from devtools.sandboxes.intercom import webhooks as intercom_webhooks
from devtools.sandboxes.intercom.config import SandboxConfig
from devtools.sandboxes.intercom.limits import FaultInjector, RateLimiter, Stats
from devtools.sandboxes.intercom.responses import ApiError, error_response, json_response
from devtools.sandboxes.intercom.store import Store

KNOWN_VERSIONS = frozenset(
    ["1.0", "1.1", "1.2", "1.3", "1.4"] + [f"2.{i}" for i in range(15)] + ["Unstable"]
)
ERROR_CODES = {500: "server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


def _rule_map(routes: Iterable[tuple[str, str, Any]], prefix: str) -> Map:
    return Map([Rule(path, methods=[method], endpoint=(f"{prefix}{method} {path}", fn))
                for method, path, fn in routes], strict_slashes=False)


class SandboxApp:
    """A WSGI callable holding the store, limiter, fault injector and counters."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.data, config.mutation_step_seconds, config.lenient_search,
                           config.scroll_idle_seconds, config.company_list_cap)
        self.limiter = RateLimiter(config.rate_limit)
        self.faults = FaultInjector(config.faults, config.fault_seed)
        self.stats = Stats()
        #: signed notifications of its changes (kit sender; /_sandbox/webhooks configures it)
        self.webhooks = intercom_webhooks.make_sender()
        self._api = _rule_map(api.ROUTES + api_companies.ROUTES + api_workspace.ROUTES, "")
        self._control = _rule_map(control.ROUTES, "")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if self.webhooks.handles(request):
            response = self.webhooks.dispatch(request)
        elif request.path.startswith("/_sandbox/") or request.path == "/_sandbox":
            response = self._control_call(request)
        else:
            response = self._api_call(request, environ)
        return response(environ, start_response)

    def _control_call(self, request: Request) -> Response:
        try:
            (_, handler), args = self._control.bind_to_environ(request.environ).match()
            return json_response(handler(self, request, **args))
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except (NotFound, MethodNotAllowed) as exc:
            return error_response(exc.code or 404, "not_found", f"no control endpoint {request.method} {request.path}")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.config.token

    def _api_call(self, request: Request, environ: dict[str, Any]) -> Response:
        unknown: Exception | None = None
        try:
            (route, handler), args = self._api.bind_to_environ(environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            route, handler, args = f"{request.method} <unknown>", None, {}
            unknown = exc
        if not self._authorized(request):
            self.stats.bump("unauthorized")
            self.stats.record(route, 401)
            return error_response(401, "unauthorized", "Access Token Invalid")
        decision = self.limiter.take()
        headers = decision.headers()
        if not decision.allowed:
            self.stats.bump("rate_limited")
            self.stats.record(route, 429)
            return error_response(429, "rate_limit_exceeded",
                                  f"Exceeded rate limit of {decision.limit} in {self.limiter.config.window_seconds}_seconds",
                                  headers)
        response = self._faulty(route, environ, headers)
        if response is None:
            response = self._dispatch(request, handler, args, headers, unknown)
        self.stats.record(route, response.status_code)
        return response

    def _faulty(self, route: str, environ: dict[str, Any], headers: dict[str, str]) -> Response | None:
        fault = self.faults.decide()
        if fault.latency_s:
            time.sleep(fault.latency_s)
        if fault.drop:
            self.stats.bump("dropped_connections")
            sock = environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)
            return Response(b"", status=499)  # never reaches the client
        if fault.error_status is not None:
            self.stats.bump("injected_errors")
            code = ERROR_CODES[fault.error_status]
            return error_response(fault.error_status, code, "Injected by the Intercom sandbox", headers)
        return None

    def _dispatch(self, request: Request, handler: Any, args: dict[str, Any], headers: dict[str, str],
                  unknown: Exception | None) -> Response:
        version = request.headers.get("Intercom-Version")
        if version is not None and version not in KNOWN_VERSIONS:
            return error_response(400, "intercom_version_invalid", f"Requested version {version} does not exist",
                                  headers)
        if handler is None:
            status = 405 if isinstance(unknown, MethodNotAllowed) else 404
            return error_response(status, "not_found", "Resource Not Found", headers)
        try:
            return json_response(handler(self.store, request, **args), 200, headers)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, headers)


def create_app(config: SandboxConfig | None = None) -> SandboxApp:
    """An in-process sandbox; the data set is generated here (a second or two by default)."""
    return SandboxApp(config or SandboxConfig())
