"""The HubSpot connector against the sandbox HubSpot served in-process (httpx over WSGI), on
the real Firestore emulator, with real OAuth: the connection's credentials are stored
encrypted and every request's token comes from shared.connections.oauth.ConnectionAuth,
which refreshes at the sandbox's token endpoint (30-minute tokens on a clock the test
moves). Limits are scaled alike on both sides, so the rules are HubSpot's, only faster."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from devtools.sandboxes.hubspot.app import create_app
from devtools.sandboxes.hubspot.records import Sizes
from devtools.sandboxes.hubspot.routes import SearchLimit
from devtools.sandboxes.hubspot.sandbox import credentials
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from shared.connections import oauth
from shared.sync.budgets import gate_for
from shared.sync.worker import ConnectionContext
from shared.vendors.auth import OAuth2
from shared.vendors.http import VendorClient
from shared.vendors.hubspot.connector import CONNECTOR, HubSpotConfig
from tests.e2e.pylon_world import PylonWorld, scaled
from tests.e2e.serving_world import create_connection

BASE = "http://127.0.0.1:1"
CONNECTION = "hubspot-000000000001"


@dataclasses.dataclass
class HubSpotWorld(PylonWorld):
    config: HubSpotConfig = dataclasses.field(default_factory=lambda: HubSpotConfig(base_url=BASE))

    def context(self, connection_id: str) -> ConnectionContext:
        from shared import crypto
        from tests.conftest import TEST_CREDENTIALS_KEYS

        gate = gate_for(self.db, self.connector, connection_id)
        world = self

        class Recording(httpx.WSGITransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                world.requests.append(request)
                return super().handle_request(request)

        def open_client() -> VendorClient:
            assert isinstance(self.connector.auth, OAuth2)
            auth = oauth.ConnectionAuth(self.db, crypto.Keyring.parse(TEST_CREDENTIALS_KEYS), connection_id,
                                        self.connector.auth, self.config.model_dump(),
                                        httpx.Client(transport=Recording(app=self.sandbox)))
            return VendorClient(self.connector, self.config, auth=auth, transport=Recording(app=self.sandbox), gate=gate)

        return ConnectionContext(connection_id, self.connector, self.config, open_client, self.selected)

    def token_calls(self) -> int:
        return sum(1 for r in self.requests if r.url.path == "/oauth/v1/token")


def hubspot_world(db: Any, sizes: Sizes, factor: float = 10.0, **config: Any) -> HubSpotWorld:
    server = ServerSettings(token="hubspot-sandbox-token", rate_limit=RateLimitConfig(int(600 * factor), 10))
    app = create_app(sizes, server)
    app.store.search_limit = SearchLimit(int(4 * factor))  # type: ignore[attr-defined]
    connector = scaled(CONNECTOR, factor)
    connector = dataclasses.replace(connector, rate_limit=dataclasses.replace(
        connector.rate_limit, requests=int(connector.rate_limit.requests * factor)))
    create_connection(db, CONNECTION, "hubspot", base_url=BASE, credentials=credentials("not-a-token"))
    return HubSpotWorld(db=db, connector=connector, handler=lambda r: httpx.Response(500), connection_id=CONNECTION,
                        sandbox=app, config=HubSpotConfig(base_url=BASE, **config))
