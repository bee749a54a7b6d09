"""What polling the team's customers costs, in billed document reads counted at the
Firestore client's RPC boundary (read_counter.py), the customers function run in-process.

The promise: an unchanged list (and an unchanged changes_since poll) answers 304 after one
document read, however many records there are; changes_since reads only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from devtools.identity import IdentityServer
from tests.conftest import PROJECT
from tests.e2e.read_counter import ReadCounter, count_reads

MEMBER = "mia@example.com"


@pytest.fixture()
def counted(clean_firestore: str) -> Iterator[tuple[Any, ReadCounter]]:
    from google.cloud import firestore

    client = firestore.Client(project=PROJECT)
    yield client, count_reads(client)


@pytest.fixture()
def call(
    counted: tuple[Any, ReadCounter], settings_env: dict[str, str], identity: IdentityServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    from devtools.functions_catalog import load_endpoints
    from shared.store import client as store_client

    client, counter = counted
    monkeypatch.setattr(store_client, "firestore_client", lambda project: client)
    endpoint = load_endpoints()["customers"]
    token = identity.identity.id_token(MEMBER)
    app = Flask("crm-read-counts")

    def run(method: str, path: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None, json: Any = None) -> tuple[Any, int]:
        counter.reset()
        with app.test_request_context(path=path, method=method, query_string=params or {}, json=json,
                                      headers={"Authorization": f"Bearer {token}", **(headers or {})}):
            from flask import request

            response = endpoint.dispatch(request)
        return response, counter.reads

    return run


def test_polling_an_unchanged_list_costs_one_read(call: Any) -> None:
    ids = [call("POST", "/", json={"name": f"Firm {n:02d}"})[0].get_json()["id"] for n in range(120)]
    first, cold = call("GET", "/")
    assert first.status_code == 200 and len(first.get_json()["items"]) == 50
    assert cold == 1 + 51, cold  # the marker, the page and one more to know there is a next
    for params in ({}, {"status": "prospect"}, {"name": "firm 1", "sort": "name"}):
        answer, _ = call("GET", "/", params)
        for _ in range(3):
            polled, reads = call("GET", "/", params, {"If-None-Match": answer.headers["ETag"]})
            assert polled.status_code == 304 and reads == 1

    token = first.get_json()["sync_token"]
    nothing, reads = call("GET", "/", {"changes_since": token})
    assert nothing.get_json()["items"] == [] and reads == 2  # the marker, the empty query
    polled, reads = call("GET", "/", {"changes_since": token}, {"If-None-Match": nothing.headers["ETag"]})
    assert polled.status_code == 304 and reads == 1

    one, _ = call("GET", f"/{ids[7]}")
    call("PATCH", f"/{ids[7]}", headers={"If-Match": one.headers["ETag"]}, json={"status": "active"})
    changed, reads = call("GET", "/", {"changes_since": token}, {"If-None-Match": nothing.headers["ETag"]})
    assert changed.status_code == 200 and [c["id"] for c in changed.get_json()["items"]] == [ids[7]]
    assert reads == 1 + 1  # the marker and the one changed record, not the 120
    again, reads = call("GET", f"/{ids[7]}", headers={"If-None-Match": '"v2"'})
    assert again.status_code == 304 and reads == 1
