"""The Pylon connector against the sandbox Pylon served in-process (httpx over WSGI), on the
real Firestore emulator, with the engine's per-endpoint budgets booked in the store and
really waited for. Limits are scaled alike on both sides (connector and sandbox), so the
rules are Pylon's, only faster."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import httpx

from devtools.sandboxes.pylon.app import create_app
from devtools.sandboxes.pylon.records import Sizes
from shared.sync.budgets import gate_for
from shared.sync.worker import ConnectionContext, RetryLater
from shared.vendors.auth import StaticAuth, WireAuth
from shared.vendors.connector import Connector
from shared.vendors.http import VendorClient
from shared.vendors.pylon.connector import CONNECTOR, PylonConfig
from shared.vendors.ratelimit import EndpointLimit
from tests.e2e.engine_world import World


def scaled(connector: Connector, factor: float) -> Connector:
    """The connector with every endpoint budget `factor` times larger."""
    limits = tuple(dataclasses.replace(e, requests=int(e.requests * factor)) for e in connector.rate_limit.endpoints)
    endpoints: tuple[EndpointLimit, ...] = limits
    return dataclasses.replace(connector, rate_limit=dataclasses.replace(connector.rate_limit, endpoints=endpoints))


@dataclasses.dataclass
class PylonWorld(World):
    sandbox: Any = None
    config: PylonConfig = dataclasses.field(default_factory=lambda: PylonConfig(base_url="http://127.0.0.1:1"))

    def context(self, connection_id: str) -> ConnectionContext:
        gate = gate_for(self.db, self.connector, connection_id)

        world = self

        class Recording(httpx.WSGITransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                world.requests.append(request)
                return super().handle_request(request)

        def open_client() -> VendorClient:
            return VendorClient(self.connector, self.config,
                                auth=StaticAuth(WireAuth(headers={"Authorization": "Bearer pylon-sandbox-token"})),
                                transport=Recording(app=self.sandbox), gate=gate)

        return ConnectionContext(connection_id, self.connector, self.config, open_client, self.selected)

    def drain(self, limit: int = 5000, retries: int = 50) -> list[Any]:
        """Run queued tasks; a RetryLater goes to the back of the queue after a pause, as
        Cloud Tasks would retry it."""
        outcomes, attempts = [], 0
        while self.enqueued and len(outcomes) < limit:
            task = self.enqueued.pop(0)
            try:
                outcomes.append(self.run(task))
            except RetryLater:
                attempts += 1
                if attempts > retries:
                    raise
                self.enqueued.append(task)
                time.sleep(0.2)
        assert not self.enqueued, "the run did not drain"
        return outcomes


def pylon_world(db: Any, sizes: Sizes, factor: float = 60.0) -> PylonWorld:
    app = create_app(sizes, limit_scale=factor)
    return PylonWorld(db=db, connector=scaled(CONNECTOR, factor), handler=lambda r: httpx.Response(500),
                      connection_id="pylon-000000000001", sandbox=app)
