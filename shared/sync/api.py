"""Request and response models of the sync functions (shared by several of them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.sync.models import Counts, Run, RunStatus


class SyncRequest(BaseModel):
    vendor: str = Field("intercom", description="Connector to sync", pattern=r"^[a-z][a-z0-9_]*$")
    mode: Literal["auto", "full"] = Field("auto", description="auto: incremental when a cursor exists")


class SyncStarted(BaseModel):
    run_id: str | None
    vendor: str
    status: RunStatus | Literal["already_running"]


class RunList(BaseModel):
    runs: list[Run]
    next_before: datetime | None = None


class StreamCursor(BaseModel):
    hwm: datetime | None
    age_s: float | None


class ConnectionStatus(BaseModel):
    connection_id: str
    vendor: str
    running_run_id: str | None
    last_run: Run | None
    last_success_at: datetime | None
    counts: Counts | None
    cursors: dict[str, StreamCursor]


class StatusList(BaseModel):
    connections: list[ConnectionStatus]


class RunsQuery(BaseModel):
    vendor: str = "intercom"
    limit: int = Field(20, ge=1, le=100)
    before: datetime | None = None
