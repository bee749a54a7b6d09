"""The engine's data: the task payload, and the run record the API shows."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.vendors.pagination import PageRequest


class RunStatus(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    partial = "partial"
    failed = "failed"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.succeeded, RunStatus.partial, RunStatus.failed)


Mode = Literal["full", "incremental"]


class ChunkTask(BaseModel):
    """One page of one chain: what a Cloud Task carries to the worker."""

    connection_id: str
    vendor: str
    run_id: str
    stream: str
    partition: str = "all"
    mode: Mode
    page: int = Field(ge=0)
    request: PageRequest

    @property
    def chain_id(self) -> str:
        return f"{self.stream}~{self.partition}"


class Counts(BaseModel):
    fetched: int = 0
    written: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: Counts) -> Counts:
        return Counts(**{k: getattr(self, k) + getattr(other, k) for k in Counts.model_fields})


class RunError(BaseModel):
    stream: str
    code: str
    message: str
    at: datetime


class StreamRun(BaseModel):
    mode: Mode
    status: Literal["running", "succeeded", "failed"] = "running"
    pages: int = 0
    counts: Counts = Field(default_factory=Counts)
    since: float | None = None


class Run(BaseModel):
    run_id: str
    connection_id: str
    vendor: str
    trigger: Literal["schedule", "manual", "api", "test"]
    status: RunStatus
    requested_by: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    chains_open: int = 0
    counts: Counts = Field(default_factory=Counts)
    streams: dict[str, StreamRun] = Field(default_factory=dict)
    errors: list[RunError] = Field(default_factory=list)
    requests: dict[str, Any] = Field(default_factory=dict)
