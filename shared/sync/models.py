"""The engine's data: the task payload, and the run record the API shows."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field


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
Trigger = Literal["schedule", "manual", "api", "test"]


class ChunkTask(BaseModel):
    """One page of one chain: what a Cloud Task carries to the worker.

    Only where to resume (stream, partition, page, the paginator's cursor), never a request:
    the worker rebuilds the request from the stream's declaration and the chain's record,
    and sends it only to the connection's host.
    """

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
    stream: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    partition: str = Field("all", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
    page: int = Field(ge=0, le=10_000_000)
    cursor: dict[str, Any] | None = None
    #: bumped when a stalled chain is resumed, so its task gets a fresh name
    generation: int = Field(0, ge=0, le=1000)

    @property
    def chain_id(self) -> str:
        return chain_id(self.stream, self.partition)


def chain_id(stream: str, partition: str) -> str:
    return f"{stream}~{partition}"


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
    chain: str | None = None


class StreamRun(BaseModel):
    mode: Mode
    status: Literal["running", "succeeded", "failed"] = "running"
    pages: int = 0
    counts: Counts = Field(default_factory=Counts)
    since: float | None = None
    chains_total: int = 0
    chains_closed: int = 0
    chains_failed: int = 0


class Run(BaseModel):
    run_id: str
    connection_id: str
    vendor: str
    trigger: Trigger
    status: RunStatus
    requested_by: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    chains_total: int = 0
    chains_closed: int = 0
    counts: Counts = Field(default_factory=Counts)
    streams: dict[str, StreamRun] = Field(default_factory=dict)
    errors: list[RunError] = Field(default_factory=list)
    requests: dict[str, Any] = Field(default_factory=dict)

    #: the fields below are computed on read, never stored
    DERIVED: ClassVar[tuple[str, ...]] = ("type", "processed", "updated", "failed", "error")

    # The history a person reads (type, processed, updated, failed, start, end, status,
    # error), derived from what the engine records, so no vendor fills it in by hand.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def type(self) -> Literal["full", "incremental", "mixed"]:
        """full: every stream re-read everything; incremental: only changes; mixed: some of each."""
        modes = {s.mode for s in self.streams.values()}
        return "mixed" if len(modes) > 1 else "incremental" if modes == {"incremental"} else "full"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def processed(self) -> int:
        """Records the vendor sent (counts.fetched)."""
        return self.counts.fetched

    @computed_field  # type: ignore[prop-decorator]
    @property
    def updated(self) -> int:
        """Records that were new or changed, so written (counts.written)."""
        return self.counts.written

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed(self) -> int:
        """Records that could not be stored (dead letters, counts.failed)."""
        return self.counts.failed

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error(self) -> str | None:
        """The first error of the run, one line (`errors` has all of them)."""
        if not self.errors:
            return None
        first = self.errors[0]
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{first.stream}: {first.code}: {first.message}{more}"
