"""How a connector authenticates, declared as data; applied per request from a connection's
credentials (never from the process environment).

    AuthStrategy
    ├── BearerToken   Authorization: Bearer <credentials[field]>        (Intercom, Pylon)
    ├── ApiKey        a header or query parameter                        (Pipedrive api_token)
    ├── BasicAuth     Authorization: Basic user:password                 (webhook receivers, some APIs)
    └── OAuth2        authorization code (+PKCE), refresh before expiry   (HubSpot, Salesforce, Google)

A strategy only says *what* goes on the wire and which credential fields it needs; the
refresh of OAuth tokens (which must write to the store, serialized per connection) lives in
shared.connections.oauth, so vendor code never imports the store.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class WireAuth:
    """What one request carries: headers and query parameters (never logged)."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


class AuthStrategy(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Credential fields a connection must hold for this strategy (validated at create)."""
        ...

    def wire(self, credentials: dict[str, Any]) -> WireAuth: ...


@dataclass(frozen=True)
class BearerToken:
    field: str = "access_token"
    kind: str = "bearer"

    @property
    def required_fields(self) -> tuple[str, ...]:
        return (self.field,)

    def wire(self, credentials: dict[str, Any]) -> WireAuth:
        token = credentials.get(self.field)
        return WireAuth(headers={"Authorization": f"Bearer {token}"}) if token else WireAuth()


@dataclass(frozen=True)
class ApiKey:
    field: str = "api_key"
    header: str | None = None
    query_param: str | None = None
    prefix: str = ""
    kind: str = "api_key"

    @property
    def required_fields(self) -> tuple[str, ...]:
        return (self.field,)

    def wire(self, credentials: dict[str, Any]) -> WireAuth:
        value = credentials.get(self.field)
        if not value:
            return WireAuth()
        if self.header:
            return WireAuth(headers={self.header: f"{self.prefix}{value}"})
        return WireAuth(params={self.query_param or self.field: str(value)})


@dataclass(frozen=True)
class BasicAuth:
    username_field: str = "username"
    password_field: str = "password"
    kind: str = "basic"

    @property
    def required_fields(self) -> tuple[str, ...]:
        return (self.username_field, self.password_field)

    def wire(self, credentials: dict[str, Any]) -> WireAuth:
        user, password = credentials.get(self.username_field), credentials.get(self.password_field)
        if user is None or password is None:
            return WireAuth()
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return WireAuth(headers={"Authorization": f"Basic {token}"})


@dataclass(frozen=True)
class OAuth2:
    """Authorization code grant. URLs may hold {config_key} placeholders filled from the
    connection's config (a sandbox or a Salesforce My Domain)."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    pkce: bool = True
    #: how the client authenticates to the token endpoint
    client_auth: Literal["body", "basic"] = "body"
    scope_separator: str = " "
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    #: refresh this long before the access token expires
    refresh_margin_s: int = 300
    #: a token-response field that replaces the connection's base URL (Salesforce instance_url)
    base_url_field: str | None = None
    kind: str = "oauth2"

    @property
    def required_fields(self) -> tuple[str, ...]:
        return ("client_id", "client_secret")

    def wire(self, credentials: dict[str, Any]) -> WireAuth:
        token = credentials.get("access_token")
        return WireAuth(headers={"Authorization": f"Bearer {token}"}) if token else WireAuth()


class RequestAuth(Protocol):
    """A connection's live credentials as the vendor client uses them.

    `current()` is what the next request carries; `refresh()` is called once after a 401
    and answers whether new credentials are worth a retry.
    """

    def current(self) -> WireAuth: ...

    def refresh(self) -> bool: ...


@dataclass
class StaticAuth:
    """Credentials that never change during a unit of work (API keys, bearer tokens)."""

    wire_auth: WireAuth

    def current(self) -> WireAuth:
        return self.wire_auth

    def refresh(self) -> bool:
        return False
