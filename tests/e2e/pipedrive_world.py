"""The engine against the sandbox Pipedrive over HTTP, on the real Firestore emulator: one
World per user connection, each with its own token, its own budget booked in the store
(shared.sync.budgets) and real sleeps, so rate limits are honoured in real time."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.errors import NotFound
from shared.sync.budgets import StoreGate
from shared.sync.models import ChunkTask
from shared.sync.worker import ConnectionContext, WorkerDeps
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
    #: the clock the daily allowance's day is read on (the sandbox's, which tests move)
    clock: Callable[[], float] = time.time
    #: chunks deferred to a time (Cloud Tasks' schedule_time), with that time
    deferred: list[tuple[ChunkTask, datetime]] = field(default_factory=list)

    @property
    def deps(self) -> WorkerDeps:
        return dataclasses.replace(super().deps, enqueue_at=lambda task, at: bool(self.deferred.append((task, at))) or True)

    def release_deferred(self) -> None:
        """Their time has come: hand the deferred chunks to the queue."""
        self.enqueued += [task for task, _ in self.deferred]
        self.deferred.clear()

    def context(self, connection_id: str) -> ConnectionContext:
        if connection_id != self.connection_id:
            raise NotFound("no such connection")
        config = PipedriveConfig(base_url=self.base_url)

        def open_client() -> VendorClient:
            return VendorClient(self.connector, config, auth=StaticAuth(WireAuth(headers={"x-api-token": self.token})),
                                pacing=PacingState(), gate=StoreGate(self.db, self.connector, connection_id, clock=self.clock))

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
