"""An OAuth 2 authorization server a sandbox vendor mounts (RFC 6749, PKCE per RFC 7636).

    server = OAuthServer([OAuthClient("client-id", "client-secret", ("http://.../oauth-callback",))])
    app = server.wsgi_app()                       # standalone, or:
    if server.handles(request): return server.dispatch(request)     # inside a sandbox's WSGI app
    ...
    if not server.is_valid_access_token(bearer): return 401          # the sandbox's API

Endpoints (under `prefix`, default /oauth):

    GET  authorize   auto-approves (no login page): checks client_id and the exact redirect_uri,
                     records the PKCE challenge, redirects to redirect_uri?code=...&state=...
                     (or ?error=access_denied when `deny_next_authorize()` was called)
    POST token       authorization_code (PKCE verified when a challenge was recorded; codes
                     are single use and expire) and refresh_token (rotating: each refresh
                     token works once and the answer carries the next one). Clients
                     authenticate with HTTP Basic or client_secret_post.
    POST revoke      RFC 7009: revokes an access or refresh token (refresh token: its whole grant)

Errors use RFC 6749's JSON shape, {"error": "invalid_grant", "error_description": "..."}, with
400 (401 for invalid_client). Access tokens expire after `access_token_ttl_s` of the
injected clock, so a test can make one expire without sleeping. `stats` counts token calls
by grant, which is how a test proves refreshes were serialized.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    #: exact redirect URIs this client may use (RFC 6749 3.1.2.2: compared as strings)
    redirect_uris: tuple[str, ...]


@dataclass
class _Grant:
    """One authorization (what a refresh token and its access tokens descend from)."""

    grant_id: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class _Code:
    grant: _Grant
    redirect_uri: str
    expires_at: float
    challenge: str | None
    method: str | None


@dataclass
class _Access:
    grant: _Grant
    expires_at: float


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass
class OAuthServer:
    clients: Iterable[OAuthClient]
    access_token_ttl_s: float = 3600.0
    code_ttl_s: float = 600.0
    rotate_refresh_tokens: bool = True
    prefix: str = "/oauth"
    #: extra fields of every token answer (e.g. Salesforce's instance_url)
    extra_token_fields: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    #: how long each token call takes (real seconds): makes races between refreshers visible
    token_latency_s: float = 0.0
    stats: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._clients = {c.client_id: c for c in self.clients}
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        self._deny_next = False
        self.prefix = "/" + self.prefix.strip("/")

    # -- for the sandbox that mounts it and for tests ----------------------------------------

    def handles(self, request: Request) -> bool:
        return request.path.startswith(self.prefix + "/")

    def is_valid_access_token(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            access = self._access.get(token)
            return access is not None and not access.grant.revoked and self.clock() < access.expires_at

    def deny_next_authorize(self) -> None:
        """The next authorize answers error=access_denied (the person clicked Cancel)."""
        self._deny_next = True

    def revoke_all(self) -> None:
        """Every grant revoked: refreshes now answer invalid_grant (an admin uninstalled us)."""
        with self._lock:
            for grant in self._refresh.values():
                grant.revoked = True
            for access in self._access.values():
                access.grant.revoked = True

    def wsgi_app(self) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            request = Request(environ)
            response = self.dispatch(request) if self.handles(request) else _json({"error": "not_found"}, 404)
            return response(environ, start_response)

        return app

    def dispatch(self, request: Request) -> Response:
        route = request.path[len(self.prefix) :].strip("/")
        handlers = {
            ("GET", "authorize"): self._authorize,
            ("POST", "token"): self._token,
            ("POST", "revoke"): self._revoke,
        }
        handler = handlers.get((request.method, route))
        if handler is None:
            return _json({"error": "not_found", "error_description": f"{request.method} {request.path}"}, 404)
        try:
            return handler(request)
        except OAuthError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="oauth"'} if exc.status == 401 else None
            return _json({"error": exc.error, "error_description": exc.description}, exc.status, headers)

    # -- endpoints ---------------------------------------------------------------------------

    def _authorize(self, request: Request) -> Response:
        args = request.args
        client = self._clients.get(args.get("client_id", ""))
        redirect_uri = args.get("redirect_uri", "")
        # Errors about the client or redirect URI must not redirect (RFC 6749 4.1.2.1).
        if client is None:
            raise OAuthError("invalid_client", "unknown client_id", 400)
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
        state = args.get("state")
        if args.get("response_type") != "code":
            return self._redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
        challenge, method = args.get("code_challenge") or None, args.get("code_challenge_method") or "plain"
        if challenge is not None and method not in ("S256", "plain"):
            return self._redirect(redirect_uri, {"error": "invalid_request", "state": state})
        if self._deny_next:
            self._deny_next = False
            return self._redirect(redirect_uri, {"error": "access_denied", "state": state})
        code = secrets.token_urlsafe(24)
        grant = _Grant(grant_id=secrets.token_hex(8), client_id=client.client_id, scope=args.get("scope", ""))
        with self._lock:
            self._codes[code] = _Code(
                grant, redirect_uri, self.clock() + self.code_ttl_s, challenge, method if challenge else None
            )
        self.stats["authorize"] += 1
        return self._redirect(redirect_uri, {"code": code, "state": state})

    @staticmethod
    def _redirect(uri: str, params: dict[str, str | None]) -> Response:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return Response(status=302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{query}"})

    def _client(self, request: Request) -> OAuthClient:
        client_id, client_secret = request.form.get("client_id"), request.form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id, client_secret = request.authorization.username, request.authorization.password
        client = self._clients.get(client_id or "")
        if client is None or not secrets.compare_digest(client.client_secret, client_secret or ""):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        return client

    def _token(self, request: Request) -> Response:
        client = self._client(request)
        grant_type = request.form.get("grant_type")
        self.stats[f"token:{grant_type}"] += 1
        if self.token_latency_s:
            time.sleep(self.token_latency_s)
        if grant_type == "authorization_code":
            grant = self._redeem_code(request, client)
            refresh = self._issue_refresh(grant)
        elif grant_type == "refresh_token":
            grant, refresh = self._use_refresh(request, client)
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        access = secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = _Access(grant, self.clock() + self.access_token_ttl_s)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_token_ttl_s),
            "refresh_token": refresh,
            "scope": grant.scope,
            **self.extra_token_fields,
        }
        return _json(body)

    def _redeem_code(self, request: Request, client: OAuthClient) -> _Grant:
        with self._lock:
            found = self._codes.pop(request.form.get("code", ""), None)  # single use, even on failure
        if found is None or found.grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the authorization code is invalid or was already used")
        if self.clock() >= found.expires_at:
            raise OAuthError("invalid_grant", "the authorization code expired")
        if request.form.get("redirect_uri") != found.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        if found.challenge is not None:
            verifier = request.form.get("code_verifier")
            if not verifier:
                raise OAuthError("invalid_grant", "code_verifier is required (PKCE)")
            expected = s256(verifier) if found.method == "S256" else verifier
            if not secrets.compare_digest(expected, found.challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        return found.grant

    def _issue_refresh(self, grant: _Grant) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[token] = grant
        return token

    def _use_refresh(self, request: Request, client: OAuthClient) -> tuple[_Grant, str]:
        token = request.form.get("refresh_token", "")
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.client_id != client.client_id or grant.revoked:
                raise OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
            if not self.rotate_refresh_tokens:
                return grant, token
            del self._refresh[token]  # rotation: each refresh token works once
        return grant, self._issue_refresh(grant)

    def _revoke(self, request: Request) -> Response:
        self._client(request)
        token = request.form.get("token", "")
        with self._lock:
            grant = self._refresh.get(token)
            if grant is not None:
                grant.revoked = True
            self._access.pop(token, None)  # an access token: only it goes
        self.stats["revoke"] += 1
        return Response(status=200)
