"""HTTP handlers and models of the connections, oauth-start, oauth-callback and
credentials-rotate functions (their main.py files only declare routes).

Credentials are write-only: accepted as SecretStr (hidden in reprs and logs), encrypted
before they are stored, and never part of a response, which says `has_credentials` instead.
Heavy clients (Firestore, httpx for token calls) are imported inside the handlers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from shared.api.endpoint import Call
from shared.connections import access
from shared.connections.models import Connection, ConnectionSchedule, StreamSelection
from shared.errors import NotFound

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.crypto import Keyring

__all__ = ["Connection"]

_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}-[0-9a-f]{12}$")
Credentials = dict[str, SecretStr]


class CreateConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40, description="A registered connector")
    name: str = Field(min_length=1, max_length=120)
    owner: Literal["org", "user"] = Field(
        "org", description="org: the organization's (admins); user: the caller's own (per-user vendors)"
    )
    config: dict[str, Any] = Field(default_factory=dict, description="The connector's config (base_url, ...)")
    credentials: Credentials = Field(
        default_factory=dict,
        repr=False,
        description="Write-only: the fields the connector's auth needs (OAuth: client_id, client_secret)",
        json_schema_extra={"writeOnly": True},
    )
    selection: StreamSelection | None = None
    schedule: ConnectionSchedule | None = Field(None, description="None: the connector's default schedule")


class UpdateConnection(BaseModel):
    """Only the fields present change; `schedule: null` returns to the connector's default.
    config and credentials are replaced whole."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=120)
    config: dict[str, Any] | None = None
    credentials: Credentials | None = Field(None, repr=False, json_schema_extra={"writeOnly": True})
    selection: StreamSelection | None = None
    schedule: ConnectionSchedule | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> UpdateConnection:
        for name in ("name", "config", "credentials"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        found: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        if self.credentials is not None and "credentials" in found:
            found["credentials"] = plain(self.credentials)
        return found


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")
    owner: Literal["org", "user"] | None = None


class ConnectionList(BaseModel):
    connections: list[Connection]


class InstallStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(max_length=60)


class InstallStarted(BaseModel):
    authorize_url: str
    expires_at: datetime


class CallbackQuery(BaseModel):
    """What the vendor appends to the redirect; vendors add their own parameters, ignored."""

    model_config = ConfigDict(extra="ignore")

    state: str = Field("", max_length=200)
    code: str | None = Field(None, max_length=2000)
    error: str | None = Field(None, max_length=200)


class Installed(BaseModel):
    connection_id: str
    vendor: str
    status: str
    message: str


class Rotated(BaseModel):
    rewrapped: int = Field(
        description="Credentials whose data key was rewrapped (already-current ones are skipped)"
    )
    current_kid: str


def plain(creds: Credentials) -> dict[str, str]:
    return {key: value.get_secret_value() for key, value in creds.items()}


def _db(call: Call[Any, Any]) -> Client:
    from shared.store.client import db

    return db(call.settings)


def _keyring(call: Call[Any, Any]) -> Keyring:
    from shared.crypto import keyring_from_settings

    return keyring_from_settings(call.settings)


def _load(call: Call[Any, Any], connection_id: str) -> Connection:
    from shared.connections import store

    if not _ID.match(connection_id):
        raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
    return store.get_connection(_db(call), connection_id)


# -- connections ----------------------------------------------------------------------------


def create_connection(call: Call[Any, CreateConnection]) -> Connection:
    """Create a connection; OAuth ones start pending until oauth-start/oauth-callback."""
    from shared.connections import store
    from shared.connections.identity import learn
    from shared.sync.registry import connector as find_connector
    from shared.webhooks.registration import after_create

    body = call.body
    connector = find_connector(body.vendor)
    owner = access.owner_for_create(call.principal, body.owner)
    connection = store.create_connection(
        _db(call),
        _keyring(call),
        connector,
        environment=call.settings.environment,
        name=body.name,
        owner=owner,
        config=body.config,
        credentials=plain(body.credentials),
        selection=body.selection,
        schedule=body.schedule,
        created_by=call.principal.email or call.principal.subject,
    )
    learn(call.settings, _db(call), connector, connection)  # whose token this is (Connector.identify)
    after_create(call.settings, _db(call), _keyring(call), connector, connection)  # webhook secrets, registration
    return connection


def list_connections(call: Call[ListQuery, Any]) -> ConnectionList:
    """Org connections and your own personal ones (admins: all)."""
    from shared.connections import store

    found = store.list_connections(_db(call), vendor=call.query.vendor, owner_kind=call.query.owner)
    return ConnectionList(connections=access.visible(call.principal, found))


def get_connection(call: Call[Any, Any]) -> Connection:
    """One connection (404 for someone else's personal connection)."""
    return access.require_view(call.principal, _load(call, call.path["connection_id"]))


def update_connection(call: Call[Any, UpdateConnection]) -> Connection:
    """Rename, reconfigure, reselect streams, reschedule or replace credentials."""
    from shared.connections import store
    from shared.sync.registry import connector as find_connector

    connection = access.require_manage(call.principal, _load(call, call.path["connection_id"]))
    changes = call.body.changes()
    keyring = _keyring(call) if "credentials" in changes else None
    connector = find_connector(connection.vendor)
    updated = store.update_connection(
        _db(call),
        keyring,
        connector,
        connection.id,
        changes,
        environment=call.settings.environment,
    )
    if {"credentials", "config"} & set(changes):  # another token may be another user's; a config keeps it
        from shared.connections.identity import learn

        learn(call.settings, _db(call), connector, updated)
    return updated


def pause_connection(call: Call[Any, Any]) -> Connection:
    """Stop scheduling it (and refuse Sync Now) until resumed."""
    from shared.connections import store

    connection = access.require_manage(call.principal, _load(call, call.path["connection_id"]))
    return store.pause_connection(_db(call), connection.id)


def resume_connection(call: Call[Any, Any]) -> Connection:
    """Schedule it again from now."""
    from shared.connections import store
    from shared.sync.registry import connector as find_connector

    connection = access.require_manage(call.principal, _load(call, call.path["connection_id"]))
    return store.resume_connection(_db(call), find_connector(connection.vendor), connection.id)


def delete_connection(call: Call[Any, Any]) -> None:
    """Hard-delete it with all its synced data, runs and credentials."""
    from shared.connections import store
    from shared.sync.registry import connector as find_connector
    from shared.webhooks.registration import before_delete

    connection = access.require_manage(call.principal, _load(call, call.path["connection_id"]))
    before_delete(call.settings, _db(call), find_connector(connection.vendor), connection)
    store.delete_connection(_db(call), connection.id)


# -- OAuth install and key rotation ---------------------------------------------------------


def start_install(call: Call[Any, InstallStart]) -> InstallStarted:
    """The vendor URL to send the browser to (valid 10 minutes, once)."""
    from datetime import timezone

    from shared.connections import oauth
    from shared.sync.registry import connector as find_connector

    connection = access.require_install(call.principal, _load(call, call.body.connection_id))
    strategy = oauth.strategy_of(find_connector(connection.vendor))
    now = datetime.now(timezone.utc)
    url = oauth.start_install(
        _db(call), call.settings, _keyring(call), connection, strategy, uid=call.principal.subject, now=now
    )
    return InstallStarted(authorize_url=url, expires_at=now + oauth.STATE_TTL)


def finish_install(call: Call[CallbackQuery, Any]) -> Installed:
    """Where the vendor sends the browser back: exchange the code, connect."""
    from shared.connections import oauth

    query = call.query
    oauth.check_state(query.state)
    import httpx

    with httpx.Client(headers={"User-Agent": "tributary-oauth/0.1"}) as http:
        connection = oauth.complete_install(
            _db(call), call.settings, _keyring(call), query.state, query.code, http=http, error=query.error
        )
    return Installed(
        connection_id=connection.id,
        vendor=connection.vendor,
        status=connection.status.value,
        message=f"{connection.name} is connected; you can close this window.",
    )


def rotate_credentials(call: Call[Any, Any]) -> Rotated:
    """Rewrap every stored credential's data key under the current key (CREDENTIALS_KEYS' first)."""
    from shared.connections import store

    keyring = _keyring(call)
    return Rotated(rewrapped=store.rewrap_credentials(_db(call), keyring), current_kid=keyring.current_kid)
