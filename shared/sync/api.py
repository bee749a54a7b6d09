"""Request and response models of the sync functions (shared by several of them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.connections.breaker import BreakerState
from shared.connections.models import LastError
from shared.sync.models import Counts, Run, RunStatus

CONNECTION_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(description="The connection to sync", pattern=CONNECTION_ID)
    mode: Literal["auto", "full"] = Field("auto", description="auto: incremental when a cursor exists")


class SyncStarted(BaseModel):
    run_id: str | None
    connection_id: str
    vendor: str
    status: RunStatus | Literal["already_running"]


class ChunkResult(BaseModel):
    status: str
    counts: Counts
    next_page: int | None


class TickResult(BaseModel):
    started: list[str]
    already_running: list[str]
    recovered: dict[str, str]
    errors: dict[str, str]
    #: documents written after their connection's delete (by writers in flight), deleted now
    purged: int = 0


class RunList(BaseModel):
    runs: list[Run]
    next_before: datetime | None = None


class StreamCursor(BaseModel):
    hwm: datetime | None
    age_s: float | None
    last_full_at: datetime | None = None


class ConnectionStatus(BaseModel):
    connection_id: str
    vendor: str
    name: str
    status: str
    running_run_id: str | None
    last_run: Run | None
    last_success_at: datetime | None
    counts: Counts | None
    cursors: dict[str, StreamCursor]
    #: health: the last error recorded on the connection, the next scheduled run, and the
    #: circuit breaker (closed, open with its cool-down's end, or half_open while probing)
    last_error: LastError | None = None
    next_run_at: datetime | None = None
    breaker: BreakerState = Field(default_factory=BreakerState)


class StatusList(BaseModel):
    connections: list[ConnectionStatus]


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str | None = Field(None, pattern=CONNECTION_ID)


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID)
    limit: int = Field(20, ge=1, le=100)
    before: datetime | None = None


class DeadLetter(BaseModel):
    id: str
    stream: str
    reason: str
    raw: str
    parent_id: str | None = None
    run_id: str | None = None
    at: datetime


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetter]


class DeadLetterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID)
    stream: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    limit: int = Field(50, ge=1, le=500)


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=CONNECTION_ID)
    stream: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,63}$")


class RedriveResult(BaseModel):
    attempted: int
    stored: int
    still_failing: int
