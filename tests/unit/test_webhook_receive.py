"""The acknowledgement path's decisions, without servers: what is remembered and enqueued,
what is acknowledged and dropped, and how the secret cache follows a rotation."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.connections.models import Connection, ConnectionStatus, Owner, StreamSelection
from shared.errors import NotFound, ServiceUnavailable
from shared.sync.registry import connector
from shared.vendors.webhooks import SignedRequest, WebhookEvent, WebhookRejected
from shared.webhooks import deliveries, receive
from shared.webhooks import secrets as webhook_secrets
from shared.webhooks.receive import ReceiveDeps

SECRET = "client-secret"
NOW = 1_800_000_000.0


class World:
    def __init__(self, **connection: Any) -> None:
        self.connection = Connection(id="intercom-0123456789ab", vendor="intercom", owner=Owner(kind="org"),
                                     name="x", created_at=datetime.now(UTC), **connection)
        self.secret = SECRET
        self.secret_loads = 0
        self.recorded: dict[str, str] = {}
        self.enqueued: list[tuple[str, str, str]] = []
        self.enqueue_fails = False

    def deps(self, monkeypatch: pytest.MonkeyPatch) -> ReceiveDeps:
        def record(db: Any, connection_id: str, event: WebhookEvent, received_at: Any = None) -> str:
            state = self.recorded.get(event.delivery_id)
            if state is None:
                self.recorded[event.delivery_id] = "pending"
                return "new"
            return "done" if state == "processed" else "pending"

        def load(db: Any, keyring: Any, connection_id: str) -> dict[str, str]:
            self.secret_loads += 1
            return {"webhook_secret": self.secret}

        def enqueue(vendor: str, connection_id: str, delivery_id: str) -> bool:
            if self.enqueue_fails:
                from google.api_core import exceptions

                raise exceptions.ServiceUnavailable("tasks down")
            self.enqueued.append((vendor, connection_id, delivery_id))
            return True

        monkeypatch.setattr(deliveries, "record", record)
        monkeypatch.setattr(webhook_secrets, "load", load)
        monkeypatch.setattr(webhook_secrets, "CACHE", webhook_secrets.SecretCache(ttl_s=60, reload_every_s=0))
        return ReceiveDeps(db=None, keyring=lambda: None, connection=lambda cid: self.connection,  # type: ignore[arg-type]
                           connector=connector, enqueue=enqueue)


def delivery(topic: str = "contact.user.updated", notification_id: str = "notif_1", secret: str = SECRET,
             created_at: float = NOW - 10) -> SignedRequest:
    body = json.dumps({"type": "notification_event", "id": notification_id, "topic": topic, "created_at": created_at,
                       "data": {"item": {"type": "contact", "id": "c1", "role": "user", "created_at": 1,
                                         "updated_at": 2}}}).encode()
    signature = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return SignedRequest("POST", "https://x/webhooks/c", {"x-hub-signature": signature}, body, received_at=NOW)


def test_new_events_are_remembered_and_enqueued_duplicates_are_not_run_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    deps = world.deps(monkeypatch)
    ack = receive.receive(deps, world.connection.id, delivery())
    assert (ack.status, ack.accepted) == ("accepted", 1)
    assert world.enqueued == [("intercom", world.connection.id, "notif_1")]
    again = receive.receive(deps, world.connection.id, delivery())
    assert (again.status, again.duplicates) == ("duplicate", 1)
    assert len(world.enqueued) == 2  # still pending: enqueued again under the same task name
    world.recorded["notif_1"] = "processed"
    done = receive.receive(deps, world.connection.id, delivery())
    assert done.status == "duplicate" and len(world.enqueued) == 2


def test_paused_connections_unselected_streams_and_pings_are_acknowledged_and_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paused = World(status=ConnectionStatus.disabled)
    assert receive.receive(paused.deps(monkeypatch), paused.connection.id, delivery()).status == "ignored"
    assert paused.recorded == {} and paused.enqueued == []
    narrow = World(selection=StreamSelection(streams=["conversations"]))
    assert receive.receive(narrow.deps(monkeypatch), narrow.connection.id, delivery()).status == "ignored"
    world = World()
    ack = receive.receive(world.deps(monkeypatch), world.connection.id, delivery(topic="ping"))
    assert (ack.status, ack.ignored) == ("ignored", 1) and world.enqueued == []
    deleting = World(status=ConnectionStatus.deleting)
    with pytest.raises(NotFound):
        receive.receive(deleting.deps(monkeypatch), deleting.connection.id, delivery())


def test_stale_and_badly_signed_deliveries_write_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    deps = world.deps(monkeypatch)
    with pytest.raises(WebhookRejected) as stale:
        receive.receive(deps, world.connection.id, delivery(created_at=NOW - 4 * 86_400))
    assert stale.value.code == "signature_stale"
    with pytest.raises(WebhookRejected) as forged:
        receive.receive(deps, world.connection.id, delivery(secret="wrong"))
    assert forged.value.code == "signature_invalid"
    assert world.recorded == {} and world.enqueued == []


def test_a_store_or_queue_failure_is_a_503_for_the_vendor_to_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    deps = world.deps(monkeypatch)
    world.enqueue_fails = True
    with pytest.raises(ServiceUnavailable):
        receive.receive(deps, world.connection.id, delivery())
    world.enqueue_fails = False
    retried = receive.receive(deps, world.connection.id, delivery())
    assert retried.status == "duplicate" and world.enqueued == [("intercom", world.connection.id, "notif_1")]


def test_a_rotated_secret_is_read_again_after_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    deps = world.deps(monkeypatch)
    receive.receive(deps, world.connection.id, delivery(notification_id="a"))
    assert world.secret_loads == 1
    receive.receive(deps, world.connection.id, delivery(notification_id="b"))
    assert world.secret_loads == 1  # cached
    world.secret = "rotated-secret"
    ack = receive.receive(deps, world.connection.id, delivery(notification_id="c", secret="rotated-secret"))
    assert ack.status == "accepted" and world.secret_loads == 2


def test_the_secret_cache_rereads_at_most_every_few_seconds() -> None:
    cache = webhook_secrets.SecretCache(ttl_s=60, reload_every_s=5)
    loads: list[int] = []

    def loader() -> dict[str, str]:
        loads.append(1)
        return {"webhook_secret": "s"}

    cache.get("c", loader)
    assert cache.refreshed("c", loader) is None  # read a moment ago: the delivery really is wrong
    assert len(loads) == 1
