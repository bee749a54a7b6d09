"""Resource names and the API error the gRPC layer turns into a status code."""

from __future__ import annotations

import re
import secrets

import grpc

_QUEUE = re.compile(r"^(projects/[A-Za-z0-9.:_-]+/locations/[a-z0-9-]+)/queues/([A-Za-z0-9-]{1,100})$")
_TASK = re.compile(r"^(projects/[^/]+/locations/[^/]+/queues/[^/]+)/tasks/([A-Za-z0-9_-]{1,500})$")
_PARENT = re.compile(r"^projects/[A-Za-z0-9.:_-]+/locations/[a-z0-9-]+$")


class ApiError(Exception):
    """A request the real service would refuse, with the status code it would use."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_location(parent: str) -> str:
    if not _PARENT.match(parent):
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid parent {parent!r}")
    return parent


def split_queue(name: str) -> tuple[str, str]:
    """(location parent, queue id), or INVALID_ARGUMENT."""
    match = _QUEUE.match(name)
    if not match:
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"invalid queue name {name!r}: want projects/P/locations/L/queues/Q (Q: letters, digits, -)",
        )
    return match.group(1), match.group(2)


def split_task(name: str) -> tuple[str, str]:
    """(queue name, task id), or INVALID_ARGUMENT."""
    match = _TASK.match(name)
    if not match:
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"invalid task name {name!r}: the id takes letters, digits, hyphens, underscores (max 500)",
        )
    return match.group(1), match.group(2)


def generated_task_id() -> str:
    """Cloud Tasks names unnamed tasks with a long random decimal id."""
    return str(secrets.randbelow(10**20)).zfill(20)


def short_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]
