"""Queue configuration: defaults, limits and update masks as Cloud Tasks applies them."""

from __future__ import annotations

import math
from datetime import timedelta

import grpc
from google.cloud import tasks_v2

from devtools.cloudtasks_emulator import backoff
from devtools.cloudtasks_emulator.names import ApiError

DEFAULT_RATE = 500.0
MAX_RATE = 500.0
DEFAULT_CONCURRENCY = 1000
MAX_CONCURRENCY = 5000
MAX_BURST = 500
UPDATABLE = (
    "rate_limits",
    "retry_config",
    "stackdriver_logging_config",
    "http_target",
    "app_engine_routing_override",
)


def _invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def clone_queue(queue: tasks_v2.Queue) -> tasks_v2.Queue:
    return tasks_v2.Queue.deserialize(tasks_v2.Queue.serialize(queue))


def derived_burst(rate: float) -> int:
    """Cloud Tasks picks max_burst_size from the rate (output only in v2); ours: one second's worth."""
    return max(1, min(MAX_BURST, math.ceil(rate)))


def normalize(queue: tasks_v2.Queue) -> tasks_v2.Queue:
    """Validate the limits and fill unset (zero) fields with Cloud Tasks' defaults.

    Deviation, kept on purpose: a max_burst_size given by the caller is honoured (the real v2
    API treats it as output only), so local tests can pin the bucket size.
    """
    q = clone_queue(queue)
    rl = q.rate_limits
    if not 0 <= rl.max_dispatches_per_second <= MAX_RATE:
        raise _invalid(f"rate_limits.max_dispatches_per_second must be in (0, {MAX_RATE}]")
    if rl.max_dispatches_per_second == 0:
        rl.max_dispatches_per_second = DEFAULT_RATE
    if not 0 <= rl.max_concurrent_dispatches <= MAX_CONCURRENCY:
        raise _invalid(f"rate_limits.max_concurrent_dispatches must be in [1, {MAX_CONCURRENCY}]")
    if rl.max_concurrent_dispatches == 0:
        rl.max_concurrent_dispatches = DEFAULT_CONCURRENCY
    if not 0 <= rl.max_burst_size <= MAX_BURST:
        raise _invalid(f"rate_limits.max_burst_size must be in [1, {MAX_BURST}]")
    if rl.max_burst_size == 0:
        rl.max_burst_size = derived_burst(rl.max_dispatches_per_second)

    rc = q.retry_config
    if rc.max_attempts < -1:
        raise _invalid("retry_config.max_attempts must be >= -1")
    if rc.max_attempts == 0:
        rc.max_attempts = backoff.DEFAULT_MAX_ATTEMPTS
    for field in ("min_backoff", "max_backoff", "max_retry_duration"):
        if getattr(rc, field) < timedelta(0):
            raise _invalid(f"retry_config.{field} must not be negative")
    if rc.min_backoff == timedelta(0):
        rc.min_backoff = timedelta(seconds=backoff.DEFAULT_MIN_BACKOFF_S)
    if rc.max_backoff == timedelta(0):
        rc.max_backoff = timedelta(seconds=backoff.DEFAULT_MAX_BACKOFF_S)
    if rc.min_backoff > rc.max_backoff:
        raise _invalid("retry_config.min_backoff must not exceed max_backoff")
    if rc.max_doublings < 0:
        raise _invalid("retry_config.max_doublings must not be negative")
    if rc.max_doublings == 0:
        rc.max_doublings = backoff.DEFAULT_MAX_DOUBLINGS
    return q


def retry_policy(queue: tasks_v2.Queue) -> backoff.RetryPolicy:
    rc = queue.retry_config
    return backoff.RetryPolicy(
        max_attempts=rc.max_attempts,
        min_backoff_s=rc.min_backoff.total_seconds(),
        max_backoff_s=rc.max_backoff.total_seconds(),
        max_doublings=rc.max_doublings,
        max_retry_duration_s=rc.max_retry_duration.total_seconds(),
    )


def apply_update(current: tasks_v2.Queue, update: tasks_v2.Queue, paths: list[str]) -> tasks_v2.Queue:
    """The stored queue with the masked fields (all updatable ones when no mask) taken from update."""
    merged = clone_queue(current)
    target_pb = tasks_v2.Queue.pb(merged)
    source_pb = tasks_v2.Queue.pb(update)
    for path in paths or list(UPDATABLE):
        parts = path.split(".")
        if parts[0] not in UPDATABLE:
            raise _invalid(f"update_mask path {path!r} is not updatable")
        target, source = target_pb, source_pb
        for part in parts[:-1]:
            if part not in target.DESCRIPTOR.fields_by_name:
                raise _invalid(f"unknown update_mask path {path!r}")
            target, source = getattr(target, part), getattr(source, part)
        leaf = parts[-1]
        descriptor = target.DESCRIPTOR.fields_by_name.get(leaf)
        if descriptor is None:
            raise _invalid(f"unknown update_mask path {path!r}")
        if descriptor.message_type is not None:
            target.ClearField(leaf)
            if source.HasField(leaf):
                getattr(target, leaf).CopyFrom(getattr(source, leaf))
        else:
            setattr(target, leaf, getattr(source, leaf))
    return normalize(merged)
