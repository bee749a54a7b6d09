"""Salesforce against its sandbox over HTTP and the real Firestore emulator, in process
(engine_world style: tasks drained from a list): the OAuth install stores the instance URL
from the token answer, full and incremental sync of Account, Contact and Opportunity with
nextRecordsUrl paging, deletes (queryAll) becoming tombstones, an access token expiring
mid-run refreshed on its 401, a revoked grant -> needs_reauth, and the org's allowance
kept on the connection and respected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devtools.sandboxes.kit.server import BackgroundWSGI
from devtools.sandboxes.salesforce.app import CLIENT_ID, CLIENT_SECRET, create_app
from devtools.sandboxes.salesforce.records import Sizes
from shared import crypto
from shared.connections import oauth, store
from shared.connections.models import ConnectionStatus, Owner
from shared.sync import state
from shared.sync.budgets import gate_for
from shared.sync.worker import ConnectionContext
from shared.vendors.http import VendorClient
from shared.vendors.salesforce.connector import CONNECTOR
from tests.conftest import PROJECT
from tests.e2e.engine_world import World

KEYRING = crypto.Keyring([crypto.Kek("k1", b"\x22" * 32)])
REDIRECT = "http://127.0.0.1:1/oauth-callback"
SIZES = Sizes(accounts=2300, contacts=40, opportunities=30)


class _Settings:
    environment = "test"

    def function_url(self, name: str) -> str:
        return REDIRECT


class SalesforceWorld(World):
    """The engine's worker with the connection's real credentials (ConnectionAuth) and its
    budget in the store, as shared.sync.runtime.open_vendor_client builds them."""

    def context(self, connection_id: str) -> ConnectionContext:
        connection = store.get_connection(self.db, connection_id)
        config = CONNECTOR.validate_config(connection.config, environment="test")

        def open_client() -> VendorClient:
            current = store.get_connection(self.db, connection_id)
            auth = oauth.request_auth(self.db, KEYRING, current, CONNECTOR, httpx.Client())
            return VendorClient(CONNECTOR, config, auth=auth, sleep=lambda s: None,
                                gate=gate_for(self.db, CONNECTOR, connection_id))

        return ConnectionContext(connection_id, CONNECTOR, config, open_client)


@pytest.fixture()
def sandbox() -> Iterator[tuple[Any, str]]:
    app = create_app(SIZES)
    with BackgroundWSGI(app) as served:
        yield app, served.base_url


@pytest.fixture()
def world(clean_firestore: str, sandbox: tuple[Any, str]) -> SalesforceWorld:
    """A connection installed through the OAuth web-server flow against the sandbox."""
    from google.cloud import firestore

    db = firestore.Client(project=PROJECT)
    _, url = sandbox
    connection = store.create_connection(
        db, KEYRING, CONNECTOR, environment="test", name="sf", owner=Owner(kind="org"),
        config={"base_url": url, "login_url": url, "fields": {"Account": ["Tier__c"]}},
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert connection.status is ConnectionStatus.pending
    authorize = oauth.start_install(db, _Settings(), KEYRING, connection, oauth.strategy_of(CONNECTOR), uid="u1")  # type: ignore[arg-type]
    assert authorize.startswith(f"{url}/services/oauth2/authorize?")
    query = parse_qs(urlsplit(httpx.get(authorize).headers["Location"]).query)
    with httpx.Client() as http:
        installed = oauth.complete_install(db, _Settings(), KEYRING, query["state"][0], query["code"][0], http=http)  # type: ignore[arg-type]
    assert installed.status is ConnectionStatus.connected
    return SalesforceWorld(db=db, connector=CONNECTOR, handler=lambda r: httpx.Response(500), connection_id=installed.id)


def mutate(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/_sandbox/mutate", json=body)
    response.raise_for_status()
    return dict(response.json())


def test_install_keeps_the_instance_url_and_refuses_a_foreign_one() -> None:
    config = CONNECTOR.validate_config({"base_url": "https://acme.my.salesforce.com"}, environment="production")
    assert config.base_url == "https://acme.my.salesforce.com"
    for bad in ("https://acme.my.salesforce.com.evil.example", "https://evil.example", "http://na1.salesforce.com",
                "https://na1.salesforce.com:8443", "https://user@na1.salesforce.com"):
        with pytest.raises(ValueError):
            CONNECTOR.validate_config({"base_url": bad}, environment="production")


def test_full_then_incremental_sync_with_deletes_as_tombstones(world: SalesforceWorld, sandbox: tuple[Any, str]) -> None:
    app, url = sandbox
    run = world.sync()
    assert run.status.value == "succeeded", run
    accounts = world.docs("accounts")
    assert len(accounts) == 2300  # two SOQL batches: 2,000 then nextRecordsUrl
    assert len(world.docs("contacts")) == 40 and len(world.docs("opportunities")) == 30
    one = next(iter(accounts.values()))
    assert one["custom"]["Tier__c"] in ("A", "B", "C") and "SystemModstamp" in one["fields"]
    assert world.docs("limits")["DailyApiRequests"]["max"] == 100_000
    allowance = store.get_connection(world.db, world.connection_id).vendor_allowance
    assert allowance is not None and allowance.limit == 100_000 and allowance.remaining < 100_000
    assert app.stats.snapshot()["requests_by_path"]["GET /services/data/<version>/query/<locator>"] == 1

    # a change, a new record and a delete; the next run asks only for what changed since
    some = sorted(accounts)[:2]
    mutate(url, op="update", sobject="Account", id=some[0], fields={"Name": "Renamed Ltd"})
    created = mutate(url, op="create", sobject="Opportunity", fields={"Name": "New deal", "StageName": "Prospecting"})
    mutate(url, op="delete", sobject="Account", id=some[1])
    run = world.sync()
    assert run.status.value == "succeeded", run
    assert world.docs("accounts")[some[0]]["name"] == "Renamed Ltd"
    assert created["Id"] in world.docs("opportunities")
    assert some[1] not in world.docs("accounts")
    assert world.docs("accounts", include_deleted=True)[some[1]]["_deleted"] is True
    assert state.streams_of(world.db, world.connection_id, run.run_id)["accounts"]["mode"] == "incremental"
    assert run.counts.written <= 5, run.counts  # the changed records (+ the limits document)


def test_an_access_token_expiring_mid_run_is_refreshed_on_its_401(world: SalesforceWorld, sandbox: tuple[Any, str]) -> None:
    app, url = sandbox
    run = world.plan("full")
    first = world.enqueued.pop(0)
    world.run(first)
    httpx.post(f"{url}/_sandbox/salesforce", json={"expire_tokens": True}).raise_for_status()
    world.drain()
    run = state.get_run(world.db, world.connection_id, run.run_id)
    assert run.status.value == "succeeded", run
    assert len(world.docs("accounts")) == 2300
    assert app.oauth.stats["token:refresh_token"] == 1
    assert app.stats.snapshot()["unauthorized"] >= 1


def test_a_revoked_grant_marks_the_connection_needs_reauth(world: SalesforceWorld, sandbox: tuple[Any, str]) -> None:
    app, url = sandbox
    httpx.post(f"{url}/_sandbox/oauth", json={"revoke_all": True}).raise_for_status()
    run = world.sync()
    assert run.status.value == "failed", run
    connection = store.get_connection(world.db, world.connection_id)
    assert connection.status is ConnectionStatus.needs_reauth
    assert connection.last_error is not None and connection.last_error.code in ("invalid_grant", "connection_needs_reauth")


def test_the_org_allowance_is_not_spent_past_its_reserve(world: SalesforceWorld, sandbox: tuple[Any, str]) -> None:
    _, url = sandbox
    httpx.post(f"{url}/_sandbox/salesforce", json={"api_used": 95_000}).raise_for_status()
    run = world.sync()
    assert run.status.value in ("partial", "failed"), run
    used = httpx.get(f"{url}/_sandbox/counts").json()["api_usage"]["used"]
    assert used <= 95_000 + 4, used  # one answer reported the reserve; the connection paused after it
    allowance = store.get_connection(world.db, world.connection_id).vendor_allowance
    assert allowance is not None and allowance.remaining <= 10_000
