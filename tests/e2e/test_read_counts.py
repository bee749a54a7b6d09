"""What a dashboard polling every 30 seconds costs, counted in document reads (the billed
unit) at the Firestore client's RPC boundary (read_counter.py), with the records and views
functions run in-process on the emulator.

The promise: an unchanged list answers 304 after ONE document read (the stream's change
marker), however large the list; only a change costs the access check and the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from devtools.identity import IdentityServer
from tests.conftest import PROJECT
from tests.e2e import intercom_seed as seed
from tests.e2e.read_counter import ReadCounter, count_reads
from tests.e2e.serving_world import create_connection

CONN = "intercom-reads"
MEMBER = "mia@example.com"


@pytest.fixture(scope="module")
def counted(firestore_host: str) -> Iterator[tuple[Any, ReadCounter]]:
    from google.cloud import firestore

    client = firestore.Client(project=PROJECT)
    create_connection(client, CONN, "intercom", base_url="http://127.0.0.1:9", credentials={"access_token": "unused"})
    seed.seed_all(client, CONN)
    yield client, count_reads(client)


@pytest.fixture()
def call(
    counted: tuple[Any, ReadCounter],
    settings_env: dict[str, str],
    identity: IdentityServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """call(function, path, params, headers) -> (response, reads it cost)."""
    from devtools.functions_catalog import load_endpoints
    from shared.store import client as store_client

    client, counter = counted
    monkeypatch.setattr(store_client, "firestore_client", lambda project: client)
    endpoints = load_endpoints()
    token = identity.identity.id_token(MEMBER)
    app = Flask("read-counts")

    def run(
        function: str, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[Any, int]:
        counter.reset()
        with app.test_request_context(
            path=path,
            query_string=params or {},
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        ):
            from flask import request

            response = endpoints[function].dispatch(request)
        return response, counter.reads

    return run


def test_an_unchanged_list_costs_one_read(call: Any, counted: tuple[Any, ReadCounter]) -> None:
    params = {"limit": 10, "sort": "updated_at"}
    first, cold = call("records", f"/{CONN}/contacts", params)
    assert first.status_code == 200 and len(first.get_json()["items"]) == 10
    # the marker (1), the connection for the access check (1), the page: 10 + 1 to know there is more
    assert cold == 1 + 1 + 11, cold
    etag = first.headers["ETag"]

    for _ in range(3):
        polled, reads = call("records", f"/{CONN}/contacts", params, {"If-None-Match": etag})
        assert polled.status_code == 304 and reads == 1
    # the same holds for a list of any length
    everything, _ = call("records", f"/{CONN}/contacts", {"limit": 200})
    polled, reads = call("records", f"/{CONN}/contacts", {"limit": 200}, {"If-None-Match": everything.headers["ETag"]})
    assert polled.status_code == 304 and reads == 1

    client, _ = counted
    seed.seed(
        client,
        CONN,
        "contacts",
        [dict(seed.CONTACTS[0], updated_at=seed.at(50), name="Ada L.")],
        run_id="poll",
    )
    changed, reads = call("records", f"/{CONN}/contacts", params, {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag and reads == cold
    assert changed.get_json()["items"][0]["name"] == "Ada L."


def test_one_record_and_a_view(call: Any) -> None:
    one, reads = call("records", f"/{CONN}/contacts/c03")
    assert one.status_code == 200 and reads == 2  # the connection and the record
    again, reads = call("records", f"/{CONN}/contacts/c03", headers={"If-None-Match": one.headers["ETag"]})
    assert again.status_code == 304 and reads == 2

    params = {"from": "2025-12-01", "to": "2025-12-31"}
    computed, cold = call("views", f"/{CONN}/conversation-stats", params)
    assert computed.status_code == 200 and computed.get_json()["total"] == 10
    # marker, connection, the stored answer (absent), then the scan of the 10 conversations
    assert cold == 1 + 1 + 1 + 10, cold
    stored, warm = call("views", f"/{CONN}/conversation-stats", params)
    assert stored.get_json() == computed.get_json() and warm == 3  # precomputed: no scan
    polled, reads = call("views", f"/{CONN}/conversation-stats", params, {"If-None-Match": computed.headers["ETag"]})
    assert polled.status_code == 304 and reads == 1
