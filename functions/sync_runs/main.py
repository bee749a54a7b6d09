"""GET /sync-runs: run history of a connection, newest first; GET /sync-runs/{run_id}: one run."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.sync.api import RunList, RunsQuery
from shared.sync.models import Run

endpoint = Endpoint("sync-runs", summary="Sync run history", tags=("sync",))


@endpoint.route("GET", "/", auth=Users(), query=RunsQuery, response=RunList, errors=(404,))
def list_runs(call: Call) -> RunList:
    """Newest first; pass next_before as `before` for the next page."""
    from shared.connections.access import readable
    from shared.store.client import db
    from shared.sync import state

    query: RunsQuery = call.query
    client = db(call.settings)
    connection = readable(client, call.principal, query.connection_id)
    runs = state.list_runs(client, connection.id, query.limit + 1, query.before)
    more = len(runs) > query.limit
    runs = runs[: query.limit]
    return RunList(runs=runs, next_before=runs[-1].created_at if more and runs else None)


@endpoint.route("GET", "/{run_id}", auth=Users(), query=RunsQuery, response=Run, errors=(404,))
def get_run(call: Call) -> Run:
    """One run with live counts while it is still going."""
    from shared.connections.access import readable
    from shared.store.client import db
    from shared.sync import state

    client = db(call.settings)
    connection = readable(client, call.principal, call.query.connection_id)
    return state.get_run(client, connection.id, call.path["run_id"])


handle = endpoint.entry_point()
