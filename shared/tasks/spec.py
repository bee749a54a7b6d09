"""A queue's rate limits and retry policy, as one validated value (Terraform and the local
stack both derive queues from it)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from google.cloud import tasks_v2

_QUEUE_ID = re.compile(r"^[A-Za-z0-9-]{1,100}$")


class QueueSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    max_dispatches_per_second: float = Field(gt=0, le=500)
    max_concurrent_dispatches: int = Field(ge=1, le=5000)
    # Output only in the real v2 API (Cloud Tasks derives it from the rate); the emulator honours it.
    max_burst_size: int | None = Field(None, ge=1, le=500)
    max_attempts: int = Field(ge=-1)
    min_backoff_seconds: float = Field(gt=0)
    max_backoff_seconds: float = Field(gt=0)
    # Cloud Tasks reads 0 as "unset" and uses its default (16), so 0 cannot mean "never double".
    max_doublings: int = Field(ge=1)
    # None (or 0): no age limit. Cloud Tasks gives up only once BOTH limits are reached.
    max_retry_duration_seconds: float | None = Field(None, ge=0)

    @field_validator("name")
    @classmethod
    def _queue_id(cls, value: str) -> str:
        if not _QUEUE_ID.match(value):
            raise ValueError("a queue id takes 1-100 letters, digits or hyphens")
        return value

    @field_validator("max_attempts")
    @classmethod
    def _attempts(cls, value: int) -> int:
        if value == 0:
            raise ValueError("max_attempts is -1 (unlimited) or at least 1")
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> QueueSpec:
        if self.min_backoff_seconds > self.max_backoff_seconds:
            raise ValueError("min_backoff_seconds must not exceed max_backoff_seconds")
        return self

    def queue_path(self, project: str, location: str) -> str:
        return f"projects/{project}/locations/{location}/queues/{self.name}"

    def to_queue(self, project: str, location: str) -> tasks_v2.Queue:
        """The tasks_v2.Queue this spec describes (imports google.cloud.tasks)."""
        from google.cloud import tasks_v2

        rate_limits = tasks_v2.RateLimits(
            max_dispatches_per_second=self.max_dispatches_per_second,
            max_concurrent_dispatches=self.max_concurrent_dispatches,
            max_burst_size=self.max_burst_size or 0,
        )
        retry = tasks_v2.RetryConfig(
            max_attempts=self.max_attempts,
            min_backoff=timedelta(seconds=self.min_backoff_seconds),
            max_backoff=timedelta(seconds=self.max_backoff_seconds),
            max_doublings=self.max_doublings,
            max_retry_duration=timedelta(seconds=self.max_retry_duration_seconds or 0),
        )
        return tasks_v2.Queue(
            name=self.queue_path(project, location), rate_limits=rate_limits, retry_config=retry
        )
