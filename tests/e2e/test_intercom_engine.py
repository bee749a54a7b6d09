"""The Intercom connector through the engine on the real Firestore emulator, with the
sandbox in process (its WSGI app behind httpx): every company through the scroll at
12,000 (past Intercom's 10,000 listing cap, companies with no users included), and
conversation parts fetched only for conversations a run created or changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from devtools.sandboxes.intercom.app import SandboxApp, create_app
from devtools.sandboxes.intercom.config import DataConfig, RateLimitConfig, SandboxConfig
from shared.vendors.intercom.connector import CONNECTOR
from tests.conftest import PROJECT
from tests.e2e.engine_world import World

TOKEN = "t"  # what World's client sends


def sandbox(**sizes: Any) -> SandboxApp:
    data = DataConfig(**{"contacts": 50, "companies": 20, "admins": 4, "conversations": 0, **sizes})
    return create_app(SandboxConfig(data=data, rate_limit=RateLimitConfig(per_minute=1_000_000), token=TOKEN))


def forward(app: SandboxApp) -> Any:
    """An httpx handler that asks the in-process sandbox."""
    client = Client(app)

    def handle(request: httpx.Request) -> httpx.Response:
        answer = client.open(
            request.url.path,
            method=request.method,
            query_string=request.url.query.decode(),
            headers=[(k, v) for k, v in request.headers.items() if k.lower() not in ("host", "content-length")],
            data=request.content,
        )
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() != "content-length"]
        return httpx.Response(answer.status_code, headers=headers, content=answer.get_data())

    return handle


def control(app: SandboxApp, path: str, body: dict[str, Any] | None = None) -> Any:
    client = Client(app)
    answer = client.post(path, json=body) if body is not None else client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


def only(*names: str) -> Any:
    return lambda name: name in names


def test_twelve_thousand_companies_all_arrive_through_the_scroll(db: Any) -> None:
    app = sandbox(companies=12_000)
    w = World(db=db, connector=CONNECTOR, handler=forward(app), selected=only("companies"))
    counts = control(app, "/_sandbox/counts")
    assert counts["companies"] == 12_000
    assert counts["companies_listed"] < 12_000  # GET /companies would have missed companies with no users
    run = w.sync()
    assert run.status.value == "succeeded", run
    stored = w.docs("companies")
    assert set(stored) == {c.id for c in app.store.companies.values()}
    assert len(stored) == 12_000
    assert sum(1 for doc in stored.values() if not doc.get("user_count")) > 12_000 - counts["companies_listed"] - 1
    paths = {r.url.path for r in w.requests}
    assert paths == {"/companies/scroll"}  # never the capped listing
    assert run.counts.written == 12_000 and run.counts.failed == 0


def test_conversation_parts_are_fetched_for_changed_conversations_only(db: Any) -> None:
    app = sandbox(conversations=40)
    w = World(db=db, connector=CONNECTOR, handler=forward(app), selected=only("conversations", "conversation_parts"))

    def detail_calls() -> list[str]:
        return [r.url.path for r in w.requests if r.method == "GET" and r.url.path.startswith("/conversations/")]

    first = w.sync()
    assert first.status.value == "succeeded", first
    conversations = w.docs("conversations")
    assert len(conversations) == 40
    assert sorted(detail_calls()) == sorted(f"/conversations/{cid}" for cid in conversations)  # one each, once
    parts = w.docs("conversation_parts")
    client = Client(app)
    expected: set[str] = set()
    for cid in conversations:
        detail = client.get(f"/conversations/{cid}", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
        expected |= {f"{cid}:{p['id']}" for p in detail["conversation_parts"]["conversation_parts"]}
    assert expected and set(parts) == expected  # composite keys, every part
    sample = parts[sorted(parts)[0]]
    assert sample["parent_id"] == sorted(parts)[0].split(":")[0] and sample["raw"]["type"] == "conversation_part"

    w.requests.clear()
    second = w.sync()
    assert second.status.value == "succeeded"
    assert detail_calls() == []  # nothing changed: no conversation fetched for its parts
    assert second.counts.written == 0

    changed = control(app, "/_sandbox/mutate", {"conversations_updated": 3})["conversations_updated"]
    w.requests.clear()
    third = w.sync()
    assert third.status.value == "succeeded"
    assert sorted(detail_calls()) == sorted(f"/conversations/{cid}" for cid in changed)
    now = w.docs("conversation_parts")
    assert len(now) > len(parts)  # the replies the mutation added
    assert all(key.split(":")[0] in changed for key in set(now) - set(parts))


def test_child_tasks_read_many_conversations_each_within_the_vendors_window(db: Any) -> None:
    """Intercom is paced by its queue alone, whose rate counts tasks: a child task reads a
    batch of conversations (not one each: #16's 1,145 tasks), and the connection's window
    ledger holds every request until the vendor's reported window has room, so tasks run
    side by side (the queue's concurrent dispatches) never meet a 429."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from shared.sync import budgets, state
    from shared.sync.worker import ConnectionContext
    from shared.vendors.auth import StaticAuth, WireAuth
    from shared.vendors.connector import ConnectionConfig
    from shared.vendors.http import VendorClient, WindowLedger

    conversations = 60
    window = RateLimitConfig(per_minute=600, window_seconds=2)  # 20 requests a 2-s window
    app = create_app(SandboxConfig(data=DataConfig(contacts=10, companies=2, admins=2, conversations=conversations),
                                   rate_limit=window, token=TOKEN))
    statuses: list[int] = []
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        answer = forward(app)(request)  # a test client per request: tasks run on threads
        with lock:
            statuses.append(answer.status_code)
        return answer

    ledger = WindowLedger()  # the connection's, shared by its tasks as clients.window_for shares it

    class ConcurrentWorld(World):
        def context(self, connection_id: str) -> ConnectionContext:
            config = ConnectionConfig(base_url="https://vendor.test")

            def open_client() -> VendorClient:
                return VendorClient(self.connector, config, auth=StaticAuth(WireAuth(headers={"Authorization": "Bearer t"})),
                                    transport=httpx.MockTransport(handle), window=ledger)

            return ConnectionContext(connection_id, self.connector, config, open_client, self.selected)

    w = ConcurrentWorld(db=db, connector=CONNECTOR, handler=handle, selected=only("conversations", "conversation_parts"))
    run = w.plan()
    child_tasks = 0
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONNECTOR.rate_limit.max_concurrency) as pool:
        while w.enqueued:
            wave, w.enqueued[:] = list(w.enqueued), []
            child_tasks += sum(1 for t in wave if t.stream == "conversation_parts")
            list(pool.map(lambda task: w.run(task), wave))
    elapsed = time.monotonic() - began
    final = state.get_run(db, w.connection_id, run.run_id)
    assert final.status.value == "succeeded", final
    assert child_tasks == conversations // 20  # several conversations a task, not one each
    assert budgets.parents_per_task(CONNECTOR, CONNECTOR.stream("conversation_parts")) == 20
    assert len(w.docs("conversation_parts")) > conversations
    assert 429 not in statuses, statuses.count(429)
    assert len(statuses) > 3 * window.per_window  # the run needed several windows...
    assert elapsed >= 2 * window.window_seconds * 0.9  # ...and waited for them instead of meeting 429s
