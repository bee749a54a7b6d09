"""Credential checks: which requests reach the vendor's handlers.

An Auth is any callable taking the request and answering whether its credentials are good;
the app answers 401 (in the vendor's words) otherwise. Static tokens cover API keys and
personal tokens; an OAuth server mounted in the app (oauth.py) adds the access tokens it
issued, which expire on its clock and die with a revoked grant.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Protocol

from werkzeug.wrappers import Request

from devtools.sandboxes.kit.oauth import OAuthServer


class Auth(Protocol):
    def __call__(self, request: Request) -> bool: ...


def _known(token: str, tokens: frozenset[str]) -> bool:
    # compare_digest against every token: no early exit that times which one matched
    return bool(token) and any([secrets.compare_digest(token, t) for t in tokens])


class BearerAuth:
    """`Authorization: Bearer <token>` with one of `tokens`, or an access token `oauth` issued."""

    def __init__(self, tokens: Iterable[str], oauth: OAuthServer | None = None) -> None:
        self.tokens = frozenset(tokens)
        self.oauth = oauth

    def __call__(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        token = token.strip()
        return _known(token, self.tokens) or (self.oauth is not None and self.oauth.is_valid_access_token(token))


class ApiKeyAuth:
    """An API key in a header (`X-Api-Key: ...`) and/or a query parameter (`?api_token=...`)."""

    def __init__(self, keys: Iterable[str], *, header: str | None = None, query: str | None = None) -> None:
        if header is None and query is None:
            raise ValueError("ApiKeyAuth needs a header or a query parameter")
        self.keys, self.header, self.query = frozenset(keys), header, query

    def __call__(self, request: Request) -> bool:
        candidates = [request.headers.get(self.header, "") if self.header else "",
                      request.args.get(self.query, "") if self.query else ""]
        return any(_known(c.strip(), self.keys) for c in candidates)
