"""Wire the engine to the real world from settings: Firestore, Cloud Tasks, vendor clients.

Functions call these; tests may build WorkerDeps from fakes instead.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.config import Settings
from shared.store.client import db
from shared.sync.models import ChunkTask, Run
from shared.sync.planner import LEASE_TTL_S
from shared.sync.queues import queue_name
from shared.sync.worker import WorkerDeps
from shared.vendors.clients import vendor_client

WORKER_FUNCTION = "sync-worker"
#: sync-worker's timeout is 300 s; fetching may use 180 s of it, saving and committing the rest
WORKER_TIME_BUDGET_S = 180.0


def chunk_enqueuer(settings: Settings) -> Callable[[ChunkTask], bool]:
    """Enqueue a chunk on its vendor's queue under a deterministic name (replays dedupe)."""
    from shared.tasks import enqueue, task_id_for, tasks_client

    client = tasks_client(settings.cloud_tasks_emulator_host)
    url = settings.function_url(WORKER_FUNCTION)

    def enqueue_chunk(task: ChunkTask) -> bool:
        return enqueue(
            client,
            project=settings.project_id,
            location=settings.queue_location,
            queue=queue_name(task.vendor),
            task_id=task_id_for(task.connection_id, task.run_id, task.chain_id, str(task.page)),
            url=url,
            payload=task.model_dump(mode="json"),
            oidc_service_account=settings.tasks_service_account,
            audience=url,
        )

    return enqueue_chunk


def worker_deps(settings: Settings) -> WorkerDeps:
    return WorkerDeps(
        db=db(settings),
        enqueue=chunk_enqueuer(settings),
        client_for=vendor_client,
        lease_ttl_s=LEASE_TTL_S,
        time_budget_s=WORKER_TIME_BUDGET_S,
    )


def start_sync(settings: Settings, *, vendor: str, mode: str, trigger: str, requested_by: str | None = None) -> Run:
    """Plan and fan out a run of one vendor's connection (sync-now and sync-scheduler)."""
    from shared.sync.planner import plan_run
    from shared.sync.registry import connector

    return plan_run(
        db(settings),
        connector(vendor),
        chunk_enqueuer(settings),
        connection_id=vendor,
        trigger=trigger,
        requested_by=requested_by,
        mode=mode,  # type: ignore[arg-type]
    )
