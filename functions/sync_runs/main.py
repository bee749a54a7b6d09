"""GET /sync-runs: run history of a vendor, newest first; GET /sync-runs/{run_id}: one run."""

from __future__ import annotations

from shared.api import Call, DocId, Endpoint, Users
from shared.sync.api import RunList, RunsQuery
from shared.sync.models import Run

endpoint = Endpoint("sync-runs", summary="Sync run history", tags=("sync",))


class RunQuery(RunsQuery):
    """Runs of one vendor. The vendor is an id: not '.', '..' or '__...__', no '/' (a 400)."""

    # The vendor names a Firestore document (connections/{vendor}); checked as a DocId here
    # rather than refused by Firestore inside the handler (InvalidArgument, a 500).

    vendor: DocId = "intercom"


@endpoint.route("GET", "/", auth=Users(), query=RunQuery, response=RunList)
def list_runs(call: Call) -> RunList:
    """Newest first; pass next_before as `before` for the next page."""
    from shared.store.client import db
    from shared.sync import state
    from shared.sync.registry import connector

    query: RunQuery = call.query
    connector(query.vendor)
    runs = state.list_runs(db(call.settings), query.vendor, query.limit + 1, query.before)
    more = len(runs) > query.limit
    runs = runs[: query.limit]
    return RunList(runs=runs, next_before=runs[-1].created_at if more and runs else None)


@endpoint.route("GET", "/{run_id}", auth=Users(), query=RunQuery, response=Run)
def get_run(call: Call) -> Run:
    """One run with live counts while it is still going."""
    from shared.store.client import db
    from shared.sync import state

    return state.get_run(db(call.settings), call.query.vendor, call.path["run_id"])


handle = endpoint.entry_point()
