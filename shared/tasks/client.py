"""Create the Cloud Tasks client, make queues match their spec, and enqueue JSON tasks.

Vendor-neutral: callers pass URLs, payloads and service accounts; nothing here knows what
the tasks do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.tasks.ids import is_valid_task_id
from shared.tasks.spec import QueueSpec

if TYPE_CHECKING:
    from google.cloud import tasks_v2

CREATE_TIMEOUT_S = 30.0


@lru_cache(maxsize=4)
def tasks_client(emulator_host: str | None) -> tasks_v2.CloudTasksClient:
    """One client per process and target: default credentials in production, an insecure
    channel and anonymous credentials against the local emulator."""
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        from google.cloud import tasks_v2

    if not emulator_host:
        return tasks_v2.CloudTasksClient()

    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    transport = CloudTasksGrpcTransport(
        channel=grpc.insecure_channel(emulator_host), credentials=AnonymousCredentials()
    )
    return tasks_v2.CloudTasksClient(transport=transport)


def enqueue(
    client: tasks_v2.CloudTasksClient,
    *,
    project: str,
    location: str,
    queue: str,
    task_id: str,
    url: str,
    payload: dict[str, Any],
    oidc_service_account: str,
    audience: str,
    schedule_time: datetime | None = None,
    dispatch_deadline_seconds: float | None = None,
) -> bool:
    """POST payload as JSON to url through the queue. True when created, False when a task of
    that id exists or existed recently (the replay of an enqueue that already happened).

    A transient failure is retried: the id is deterministic, so a retry can at worst find
    its own earlier success (and return False), never run the task twice.
    """
    from google.api_core import exceptions, retry
    from google.cloud import tasks_v2

    if not is_valid_task_id(task_id):
        raise ValueError(f"invalid task id {task_id!r}: use task_id_for()")
    if schedule_time is not None and schedule_time.tzinfo is None:
        raise ValueError("schedule_time must be timezone-aware")

    parent = client.queue_path(project, location, queue)
    task = tasks_v2.Task(
        name=f"{parent}/tasks/{task_id}",
        http_request=tasks_v2.HttpRequest(
            http_method=tasks_v2.HttpMethod.POST,
            url=url,
            headers={"Content-Type": "application/json"},
            body=json.dumps(payload, separators=(",", ":"), sort_keys=True).encode(),
            oidc_token=tasks_v2.OidcToken(service_account_email=oidc_service_account, audience=audience),
        ),
    )
    if schedule_time is not None:
        task.schedule_time = schedule_time.astimezone(UTC)
    if dispatch_deadline_seconds is not None:
        task.dispatch_deadline = timedelta(seconds=dispatch_deadline_seconds)

    transient = retry.Retry(
        predicate=retry.if_exception_type(exceptions.ServiceUnavailable, exceptions.DeadlineExceeded),
        initial=0.2,
        maximum=5.0,
        timeout=CREATE_TIMEOUT_S,
    )
    try:
        client.create_task(parent=parent, task=task, retry=transient, timeout=CREATE_TIMEOUT_S)
    except exceptions.AlreadyExists:
        return False
    return True


def ensure_queue(
    client: tasks_v2.CloudTasksClient, project: str, location: str, spec: QueueSpec
) -> tasks_v2.Queue:
    """Create the queue, or update its rate limits and retry config to match the spec (its
    paused/running state is left alone)."""
    from google.api_core import exceptions
    from google.protobuf import field_mask_pb2

    wanted = spec.to_queue(project, location)
    try:
        client.get_queue(name=wanted.name)
    except exceptions.NotFound:
        try:
            return client.create_queue(parent=f"projects/{project}/locations/{location}", queue=wanted)
        except exceptions.AlreadyExists:
            pass  # created concurrently: fall through to the update
    mask = field_mask_pb2.FieldMask(paths=["rate_limits", "retry_config"])
    return client.update_queue(queue=wanted, update_mask=mask)
