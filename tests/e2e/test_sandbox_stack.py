"""The test harness starts every registered sandbox and connects each through the
connections API from its descriptor alone: the repository's sandboxes plus kitdemo, a
vendor that exists only in the tests (TRIBUTARY_EXTRA_SANDBOXES for its sandbox,
TRIBUTARY_EXTRA_CONNECTORS for its connector)."""

from __future__ import annotations

from pathlib import Path

from devtools.identity import IdentityServer
from devtools.sandboxes import registry
from tests.conftest import TEST_EXTRA_CONNECTORS
from tests.e2e.sync_stack import SyncStack

EXTRA_ENV = {
    registry.EXTRA_ENV: "tests.fixtures.sandboxes.kitdemo.sandbox",
    "TRIBUTARY_EXTRA_CONNECTORS": f"{TEST_EXTRA_CONNECTORS},tests.fixtures.sandboxes.kitdemo.connector",
}
SIZE = {"contacts": 30, "companies": 6, "admins": 2, "conversations": 30, "notes": 25}


def test_every_registered_sandbox_is_started_and_connected(
    identity: IdentityServer, clean_firestore: str, log_dir: Path
) -> None:
    stack = SyncStack(identity, clean_firestore, log_dir, SIZE, extra_env=EXTRA_ENV)
    try:
        stack.start()
        assert set(stack.sandboxes) == {*registry.vendors(), "kitdemo"}
        connections = stack.connect_all()
        assert set(connections) == set(stack.sandboxes)
        assert stack.connection_id == connections["intercom"], "the default vendor's is the default connection"
        with stack.api() as api:
            listed = {c["id"]: c for c in api.get("/connections").json()["connections"]}
        for vendor, connection_id in connections.items():
            assert listed[connection_id]["vendor"] == vendor
            assert listed[connection_id]["config"]["base_url"] == stack.sandbox_urls[vendor]
            assert listed[connection_id]["name"] == stack.sandboxes[vendor].name
        # each sandbox got its own sizes from the one mapping, and answers its own client
        assert stack.sandbox_counts("kitdemo") == {"notes": 25, "people": 40}
        assert stack.sandbox_counts() == {k: v for k, v in SIZE.items() if k != "notes"}
        stack.reset_sandbox("kitdemo", error_rate=1.0, error_status=503)
        with stack.sandbox("kitdemo") as kitdemo:
            assert kitdemo.get("/v1/notes").status_code == 503
            stack.set_faults("kitdemo")
            assert len(kitdemo.get("/v1/notes", params={"limit": 100}).json()["results"]) == 25
        with stack.sandbox() as intercom:
            assert intercom.get("/admins").status_code == 200, "faults stay with the sandbox they were set on"
    finally:
        stack.stop()
