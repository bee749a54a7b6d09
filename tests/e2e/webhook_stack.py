"""Webhooks on the sync stack (tests/e2e/sync_stack.py): the webhook queue, the connection's
secret set through the API, the sandbox's sender pointed at the webhooks function, signed
deliveries made by hand, and waiting until every remembered delivery is processed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

from tests.conftest import PROJECT, REGION
from tests.e2e.sync_stack import SyncStack

#: the sandbox app's "client secret" (Intercom signs notifications with the app's)
CLIENT_SECRET = "sandbox-intercom-client-secret"


def create_webhook_queue(stack: SyncStack, **overrides: Any) -> None:
    from shared.sync.registry import connector
    from shared.tasks import ensure_queue
    from shared.webhooks.queues import queue_spec

    spec = queue_spec(connector("intercom"))
    spec = spec.model_copy(update={"min_backoff_seconds": 0.2, "max_backoff_seconds": 2.0, **overrides})
    ensure_queue(stack.tasks_client(), PROJECT, REGION, spec)


def webhook_url(stack: SyncStack, connection_id: str | None = None) -> str:
    return f"{stack.functions_url}/webhooks/{connection_id or stack.connection_id}"


def set_secret(stack: SyncStack, secret: str = CLIENT_SECRET, connection_id: str | None = None) -> None:
    with stack.api() as api:
        response = api.put(f"/webhooks/{connection_id or stack.connection_id}/secret", json={"secret": secret})
    assert response.status_code == 200, response.text


def hook_sandbox(stack: SyncStack, secret: str = CLIENT_SECRET, **faults: Any) -> None:
    """Point the sandbox's webhook sender at this stack's connection."""
    with stack.sandbox() as s:
        s.post("/_sandbox/webhooks", json={"url": webhook_url(stack), "signer": "hmac-sha1", "secret": secret,
                                           "retry_backoff_s": 0.05, "max_attempts": 6}).raise_for_status()
        s.delete("/_sandbox/webhooks/log").raise_for_status()
    set_faults(stack, **faults)


def set_faults(stack: SyncStack, **faults: Any) -> None:
    defaults = {"duplicate_rate": 0, "reorder_window": 0, "delay_ms": 0, "delay_jitter_ms": 0, "drop_rate": 0,
                "mis_sign_rate": 0, "forge_rate": 0, "unsigned_rate": 0, "stale_rate": 0}
    with stack.sandbox() as s:
        s.post("/_sandbox/webhooks/faults", json={**defaults, **faults}).raise_for_status()


def flush(stack: SyncStack, timeout_s: float = 60) -> dict[str, Any]:
    with stack.sandbox() as s:
        body: dict[str, Any] = s.post("/_sandbox/webhooks/flush", json={"timeout_s": timeout_s},
                                      timeout=timeout_s + 10).json()
    assert body["flushed"], body
    return body


def sender_log(stack: SyncStack) -> list[dict[str, Any]]:
    with stack.sandbox() as s:
        entries: list[dict[str, Any]] = s.get("/_sandbox/webhooks/log", params={"limit": 100_000}).json()["entries"]
    return entries


def deliveries(stack: SyncStack, connection_id: str | None = None) -> dict[str, dict[str, Any]]:
    from google.cloud import firestore

    db = firestore.Client(project=PROJECT)
    coll = db.collection("connections").document(connection_id or stack.connection_id).collection("webhook_deliveries")
    return {snap.id: snap.to_dict() or {} for snap in coll.stream()}


def wait_processed(stack: SyncStack, expected: int | None = None, timeout_s: float = 120,
                   connection_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Every remembered delivery processed (and at least `expected` of them)."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        found = deliveries(stack, connection_id)
        pending = [k for k, v in found.items() if v.get("status") == "pending"]
        if not pending and (expected is None or len(found) >= expected):
            return found
        time.sleep(0.3)
    pending = {k: v for k, v in found.items() if v.get("status") == "pending"}
    raise TimeoutError(f"{len(pending)} of {len(found)} deliveries still pending (expected {expected})")


def notification(topic: str, item: dict[str, Any], created_at: int | None = None,
                 notification_id: str | None = None) -> dict[str, Any]:
    """An Intercom notification, as Intercom shapes it."""
    now = int(time.time()) if created_at is None else created_at
    return {"type": "notification_event", "app_id": "sandbox", "id": notification_id or f"notif_{uuid.uuid4()}",
            "topic": topic, "delivery_status": "pending", "delivery_attempts": 1, "delivered_at": 0,
            "first_sent_at": now, "created_at": now, "self": None, "links": {},
            "data": {"type": "notification_event_data", "item": item}}


def signed(body: bytes, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def deliver(stack: SyncStack, payload: dict[str, Any] | bytes, secret: str | None = CLIENT_SECRET,
            connection_id: str | None = None) -> httpx.Response:
    """POST one delivery, signed with `secret` (None: unsigned)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed(body, secret) if secret is not None else {"Content-Type": "application/json"}
    return httpx.post(webhook_url(stack, connection_id), content=body, headers=headers, timeout=30)
