"""A connection as stored and served.

    connections/{id}                        the Connection fields below, plus engine state
                                            (lease, cursors, last run) written by shared.sync
    connections/{id}/private/credentials    the encrypted credentials (never served, never
                                            readable by client rules)
    connections/{id}/{stream}/{key}         synced records
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from shared.connections.breaker import BreakerState


class ConnectionStatus(str, Enum):
    connected = "connected"
    #: credentials were refused (revoked grant, rotated key): a person must reconnect
    needs_reauth = "needs_reauth"
    #: repeated failures (circuit breaker open)
    degraded = "degraded"
    #: paused by a person: not scheduled, Sync Now refused
    disabled = "disabled"
    #: created, waiting for its OAuth install to finish
    pending = "pending"
    #: being hard-deleted (shared.connections.store.delete_connection): the engine must stop
    deleting = "deleting"


#: inlined in the OpenAPI document: shared.sync.api has a model of the same name
StatusField = Annotated[
    ConnectionStatus,
    WithJsonSchema(
        {"type": "string", "enum": [s.value for s in ConnectionStatus], "title": "Connection status"}
    ),
]


class Owner(BaseModel):
    """Whose connection it is: the organization's (admins manage it) or one person's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["org", "user"]
    uid: str | None = None
    email: str | None = None


class StreamSelection(BaseModel):
    """Which streams sync (None: all the connector declares) and, optionally, which fields."""

    model_config = ConfigDict(extra="forbid")

    streams: list[str] | None = None
    fields: dict[str, list[str]] = Field(default_factory=dict)

    def includes(self, stream: str) -> bool:
        return self.streams is None or stream in self.streams


class ConnectionSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(min_length=9, max_length=100, description="5-field cron: minute hour day month weekday")
    time_zone: str = Field("Etc/UTC", description="IANA time zone the cron is read in")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from shared.connections.schedule import validate_cron

        return validate_cron(value)

    @field_validator("time_zone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        from shared.connections.schedule import validate_time_zone

        return validate_time_zone(value)


class LastError(BaseModel):
    code: str
    message: str
    at: datetime


class VendorAllowance(BaseModel):
    """The vendor's request allowance for this account as its last answer reported it
    (Salesforce: the org's daily API requests, shared with every other tool of the org)."""

    limit: int
    remaining: int
    at: datetime


class Connection(BaseModel):
    """The public face of a connection (credentials are never part of it)."""

    id: str
    vendor: str
    owner: Owner
    name: str
    config: dict[str, Any] = Field(default_factory=dict)
    selection: StreamSelection = Field(default_factory=StreamSelection)
    #: None: the connector's default schedule
    schedule: ConnectionSchedule | None = None
    status: StatusField = ConnectionStatus.connected
    #: the next time the scheduler should plan a run (derived from the schedule)
    next_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: LastError | None = None
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime | None = None
    #: True once credentials are stored (the value itself is never served)
    has_credentials: bool = False
    #: the circuit breaker (shared.connections.breaker); None until it first counted a failure
    breaker: BreakerState | None = None
    #: the vendor's allowance as last reported (vendors that report one)
    vendor_allowance: VendorAllowance | None = None
