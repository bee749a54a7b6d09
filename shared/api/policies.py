"""Who may call a route. A policy turns the request's bearer token into a Principal or raises.

Verification itself lives in shared.auth and is imported only when a policy runs, so a
public function never loads firebase-admin or google-auth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from shared.errors import Unauthenticated

if TYPE_CHECKING:
    from flask import Request

    from shared.config import Settings

Role = Literal["member", "admin"]
ROLE_RANK: dict[str, int] = {"member": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    """The verified caller: a signed-in person or a Google service account."""

    kind: Literal["anonymous", "user", "service"]
    subject: str = ""
    email: str = ""
    role: str | None = None
    claims: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


ANONYMOUS = Principal(kind="anonymous")


class AuthPolicy(Protocol):
    @property
    def openapi_scheme(self) -> str | None:
        """The OpenAPI security requirement this policy stands for (None: no auth)."""
        ...

    def authenticate(self, request: Request, settings: Settings, audience: str) -> Principal: ...


def bearer_token(request: Request) -> str:
    """The token in 'Authorization: Bearer <token>', or 401 with a code saying what is wrong."""
    header = request.headers.get("Authorization")
    if not header:
        raise Unauthenticated("The Authorization header is missing.", code="token_missing")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated(
            "The Authorization header must be 'Bearer <token>'.", code="token_malformed"
        )
    if token.count(".") != 2:
        raise Unauthenticated("The bearer token is not a JWT.", code="token_malformed")
    return token


@dataclass(frozen=True)
class Public:
    openapi_scheme: str | None = None

    def authenticate(self, request: Request, settings: Settings, audience: str) -> Principal:
        return ANONYMOUS


PUBLIC = Public()


@dataclass(frozen=True)
class Users:
    """A signed-in person of an allowed Google domain holding at least `role`."""

    role: Role = "member"
    openapi_scheme: str | None = "firebaseIdToken"

    def authenticate(self, request: Request, settings: Settings, audience: str) -> Principal:
        from shared.auth.users import verify_user

        return verify_user(bearer_token(request), settings, minimum_role=self.role)


@dataclass(frozen=True)
class ServiceAccount:
    """A Google OIDC token minted for `audience` by the configured service account."""

    account: Literal["scheduler", "tasks"]
    openapi_scheme: str | None = "googleOidc"

    def authenticate(self, request: Request, settings: Settings, audience: str) -> Principal:
        from shared.auth.service import verify_service

        expected = (
            settings.scheduler_service_account
            if self.account == "scheduler"
            else settings.tasks_service_account
        )
        return verify_service(bearer_token(request), settings, audience=audience, email=expected)
