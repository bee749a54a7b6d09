"""The engine against the sandbox Pipedrive over HTTP, on the real Firestore emulator: one
World per user connection, each with its own token, its own budget booked in the store
(shared.sync.budgets) and real sleeps, so rate limits are honoured in real time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from shared.errors import NotFound
from shared.sync.budgets import StoreGate
from shared.sync.worker import ConnectionContext
from shared.vendors.auth import StaticAuth, WireAuth
from shared.vendors.connector import Connector
from shared.vendors.http import PacingState, VendorClient
from shared.vendors.pipedrive.connector import CONNECTOR, PipedriveConfig
from tests.e2e.engine_world import World
from tests.e2e.serving_world import create_connection


def small_pages(page_size: int) -> Connector:
    """The connector with smaller pages, so a small account makes many requests."""
    streams = tuple(dataclasses.replace(s, page_size=page_size) for s in CONNECTOR.streams)
    return dataclasses.replace(CONNECTOR, streams=streams)


@dataclass
class UserWorld(World):
    token: str = ""
    base_url: str = ""
    uid: str = ""

    def context(self, connection_id: str) -> ConnectionContext:
        if connection_id != self.connection_id:
            raise NotFound("no such connection")
        config = PipedriveConfig(base_url=self.base_url)

        def open_client() -> VendorClient:
            return VendorClient(self.connector, config, auth=StaticAuth(WireAuth(headers={"x-api-token": self.token})),
                                pacing=PacingState(), gate=StoreGate(self.db, self.connector, connection_id))

        return ConnectionContext(connection_id, self.connector, config, open_client, self.selected)


def user_world(db: Any, connector: Connector, base_url: str, token: str, uid: str, connection_id: str,
               warmness: dict[str, Any] | None = None) -> UserWorld:
    """A personal connection of `uid` (its token stored encrypted) and its engine harness."""
    create_connection(db, connection_id, "pipedrive", base_url=base_url, credentials={"api_token": token},
                      owner_uid=uid)
    if warmness is not None:
        db.collection("connections").document(connection_id).update({"config.warmness": warmness})
    return UserWorld(db=db, connector=connector, handler=lambda r: None, connection_id=connection_id,  # type: ignore[arg-type, return-value]
                     token=token, base_url=base_url, uid=uid)
