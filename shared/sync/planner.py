"""Plan a run: choose full or incremental per stream, take the lease, enqueue page 0 of
every chain. Full the first time (no high-water mark yet), incremental after."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from google.api_core.exceptions import GoogleAPIError

from shared.errors import ServiceUnavailable
from shared.sync import state
from shared.sync.models import ChunkTask, Run
from shared.vendors.connector import Connector

if TYPE_CHECKING:
    from google.cloud.firestore import Client

LEASE_TTL_S = 15 * 60


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique without coordination."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def plan_chains(connector: Connector, hwms: dict[str, float], mode: Literal["auto", "full"]) -> list[state.PlannedChain]:
    chains = []
    for stream in connector.streams:
        hwm = hwms.get(stream.name)
        if mode == "auto" and stream.incremental is not None and hwm is not None:
            since = hwm - stream.lookback_s
            spec, chain_mode = stream.incremental, "incremental"
        else:
            since, spec, chain_mode = None, stream.full, "full"
        request = spec.paginator.first(spec.build(since), stream.page_size)
        chains.append(state.PlannedChain(stream.name, "all", chain_mode, since, request))  # type: ignore[arg-type]
    return chains


def plan_run(
    db: Client,
    connector: Connector,
    enqueue: Callable[[ChunkTask], bool],
    *,
    connection_id: str,
    trigger: str,
    requested_by: str | None = None,
    mode: Literal["auto", "full"] = "auto",
    now: datetime | None = None,
) -> Run:
    now = now or state.utcnow()
    chains = plan_chains(connector, state.cursors(db, connection_id), mode)
    run = state.start_run(
        db,
        connection_id=connection_id,
        vendor=connector.vendor,
        run_id=new_run_id(now),
        trigger=trigger,
        requested_by=requested_by,
        chains=chains,
        lease_ttl_s=LEASE_TTL_S,
        now=now,
    )
    unqueued = []
    for chain in chains:
        task = ChunkTask(
            connection_id=connection_id,
            vendor=connector.vendor,
            run_id=run.run_id,
            stream=chain.stream,
            partition=chain.partition,
            mode=chain.mode,
            page=0,
            request=chain.request,
        )
        try:
            enqueue(task)
        except (GoogleAPIError, OSError) as exc:
            # Record it so the run ends (and frees its lease) instead of waiting for expiry.
            state.fail_chain(db, task, "enqueue_failed", f"Could not queue the first page: {type(exc).__name__}")
            unqueued.append(chain.stream)
    if unqueued:
        raise ServiceUnavailable(
            "Cloud Tasks did not accept the run's first pages.",
            code="tasks_unavailable",
            details={"run_id": run.run_id, "streams": unqueued},
        )
    return run
