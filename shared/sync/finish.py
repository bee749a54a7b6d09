"""The end of a run: once every chain has closed, sweep the streams whose full pass
completed (records not seen are soft-deleted), then record the outcome and free the lease.

Whoever closes the last chain calls this; a replay of that task calls it again, so a crash
between the sweep and the finalize is healed by the task's retry (the sweep is idempotent:
a tombstone written twice is unchanged the second time).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.store import records
from shared.store.client import condition
from shared.store.records import Provenance
from shared.sync import state
from shared.sync.ingest import tombstone
from shared.sync.models import Run
from shared.vendors.connector import Connector, Sweep

if TYPE_CHECKING:
    from google.cloud.firestore import Client

log = logging.getLogger("tributary.sync.finish")


def maybe_finish(db: Client, connector: Connector, connection_id: str, run_id: str) -> Run | None:
    """Finalize the run if all its chains are closed; None otherwise."""
    if not state.run_complete(db, connection_id, run_id):
        return None
    run_data = state.run_ref(db, connection_id, run_id).get().to_dict() or {}
    if state.lease_of(state.connection_state(db, connection_id)).get("run_id") != run_id:
        return None
    for name, doc in state.streams_of(db, connection_id, run_id).items():
        if _swept_after_full_pass(connector, name, doc):
            sweep(db, connector, connection_id, run_id, name, run_data["created_at"])
    run = state.finalize_run(db, connection_id, run_id)
    if run is not None:
        after_run(db, connector, connection_id, run)
    return run


def after_run(db: Client, connector: Connector, connection_id: str, run: Run) -> bool:
    """The connector's after-run hook, when the run changed something (a no-change run
    costs nothing more). Its failure is logged, never the run's: the records are saved and
    the next run that changes something computes again. True when it ran."""
    if connector.after_run is None or run.status.value == "failed":
        return False
    if not run.counts.written:
        return False
    try:
        connector.after_run(db, connection_id, run)
    except Exception:
        log.exception("after_run_failed", extra={"run_id": run.run_id, "vendor": connector.vendor})
        return False
    return True


def _swept_after_full_pass(connector: Connector, name: str, doc: dict[str, Any]) -> bool:
    try:
        stream = connector.stream(name)
    except KeyError:
        return False
    complete = int(doc.get("chains_closed", 0)) >= int(doc.get("chains_total", 0)) and not doc.get("chains_failed")
    return isinstance(stream.deletes, Sweep) and bool(doc.get("full_pass")) and complete


def sweep(db: Client, connector: Connector, connection_id: str, run_id: str, stream_name: str, run_created: Any) -> int:
    """Soft-delete the stream's live records that this complete full pass did not see and
    that nothing wrote since the pass began. Returns how many were tombstoned.

    Candidates are only records last written before the pass began (a query on
    `_sync.synced_at`, paged), so a first import or a pass that rewrote everything reads
    none; they are tombstoned a batch at a time. The pages' checkpoints list the keys the
    pass saw but did not write, and those alone are held to spare them."""
    stream = connector.stream(stream_name)
    source = Provenance("sync", run_id, unit=f"{stream_name}/sweep")
    seen_ids: set[str] | None = None
    gone: list[str] = []
    deleted = 0
    for doc_id, _ in records.live_keys_before(db, connection_id, stream_name, run_created, not_by=run_id):
        if seen_ids is None:
            seen_ids = _seen_not_written(db, connection_id, run_id, stream_name)
        if doc_id in seen_ids:
            continue
        gone.append(doc_id)
        if len(gone) >= records.BATCH_LIMIT:
            deleted += len(gone)
            tombstone(db, connection_id, stream, gone, source)
            gone = []
    if gone:
        deleted += len(gone)
        tombstone(db, connection_id, stream, gone, source)
    if deleted:
        log.info("sweep", extra={"run_id": run_id, "stream": stream_name, "deleted": deleted})
    state.cursor_ref(db, connection_id, stream_name).set({"last_full_at": run_created, "last_full_run": run_id}, merge=True)
    return deleted


def _seen_not_written(db: Client, connection_id: str, run_id: str, stream_name: str) -> set[str]:
    """Doc ids of the records the pass saw without writing them (the pages' `keys`)."""
    seen: set[str] = set()
    chains = state.run_ref(db, connection_id, run_id).collection("chains").where(filter=condition("stream", "==", stream_name)).stream()
    for chain in chains:
        if (chain.to_dict() or {}).get("split"):
            continue
        for page in chain.reference.collection("pages").select(["keys"]).stream():
            seen.update(records.safe_doc_id(k) for k in page.get("keys") or [])
    return seen
