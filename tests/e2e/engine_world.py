"""A harness for the engine on the real Firestore emulator: connectors defined in the test,
a scripted vendor behind httpx.MockTransport, and enqueued tasks collected in a list that
the test drains (in order, or in any order it likes). The honest unit is 'chunks against
real storage'; Cloud Tasks itself is exercised by the stack tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from shared.errors import NotFound
from shared.sync import planner, state
from shared.sync.models import ChunkTask, Run
from shared.sync.worker import ChunkOutcome, ConnectionContext, RetryLater, WorkerDeps, run_chunk
from shared.vendors.auth import StaticAuth, WireAuth
from shared.vendors.connector import ConnectionConfig, Connector
from shared.vendors.http import VendorClient

Handler = Callable[[httpx.Request], httpx.Response]


class RawItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    updated_at: int | None = None


def map_item(raw: RawItem) -> dict[str, Any]:
    return {"id": raw.id, "updated_at": raw.updated_at, "name": (raw.model_extra or {}).get("name")}


@dataclass
class World:
    db: Any
    connector: Connector
    handler: Handler
    connection_id: str = "conn-1"
    enqueued: list[ChunkTask] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    selected: Callable[[str], bool] = lambda _: True

    def context(self, connection_id: str) -> ConnectionContext:
        if connection_id != self.connection_id:
            raise NotFound("no such connection")
        config = ConnectionConfig(base_url="https://vendor.test")

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.handler(request)

        def open_client() -> VendorClient:
            return VendorClient(self.connector, config, auth=StaticAuth(WireAuth(headers={"Authorization": "Bearer t"})),
                                transport=httpx.MockTransport(record), sleep=lambda s: None)

        return ConnectionContext(connection_id, self.connector, config, open_client, self.selected)

    def enqueue(self, task: ChunkTask) -> bool:
        if any(t.model_dump() == task.model_dump() for t in self.enqueued):
            return False
        self.enqueued.append(task)
        return True

    @property
    def deps(self) -> WorkerDeps:
        return WorkerDeps(db=self.db, enqueue=self.enqueue, context=self.context, lease_ttl_s=planner.LEASE_TTL_S)

    def plan(self, mode: str = "auto", **kwargs: Any) -> Run:
        return planner.plan_run(self.db, self.connector, self.enqueue, connection_id=self.connection_id,
                                trigger="test", mode=mode, selected=self.selected, **kwargs)  # type: ignore[arg-type]

    def run(self, task: ChunkTask, last_attempt: bool = False, retried: bool = False) -> ChunkOutcome:
        return run_chunk(task, self.deps, last_attempt=last_attempt, retried=retried)

    def drain(self, limit: int = 500, retries: int = 3) -> list[ChunkOutcome]:
        """Run queued tasks first-in first-out until none is left; a RetryLater is retried
        (the last try as the last attempt), as Cloud Tasks would."""
        outcomes = []
        for _ in range(limit):
            if not self.enqueued:
                return outcomes
            task = self.enqueued.pop(0)
            for attempt in range(retries):
                try:
                    outcomes.append(self.run(task, last_attempt=attempt == retries - 1, retried=attempt > 0))
                    break
                except RetryLater:
                    continue
        raise AssertionError("the run did not drain")

    def sync(self, mode: str = "auto") -> Run:
        run = self.plan(mode)
        self.drain()
        return state.get_run(self.db, self.connection_id, run.run_id)

    def docs(self, stream: str, include_deleted: bool = False) -> dict[str, dict[str, Any]]:
        coll = self.db.collection("connections").document(self.connection_id).collection(stream)
        found = {s.id: s.to_dict() for s in coll.stream()}
        return {k: v for k, v in found.items() if include_deleted or not v.get("_deleted")}


def json_page(records: list[dict[str, Any]], next_cursor: str | None = None, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"data": records, **extra}
    if next_cursor:
        body["next"] = next_cursor
    return httpx.Response(200, json=body)
