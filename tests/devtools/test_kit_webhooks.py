"""The kit's signed-webhook sender against a loopback receiver that verifies with the
product's verifiers (two independent implementations of each scheme must agree), and the
sandbox Intercom's notifications of its changes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from devtools.sandboxes.intercom import DataConfig, SandboxConfig, create_app
from devtools.sandboxes.intercom import webhooks as intercom_webhooks
from devtools.sandboxes.kit.server import BackgroundWSGI
from devtools.sandboxes.kit.webhooks import Notification, WebhookSender
from shared.vendors.webhooks import (
    BasicCredentials,
    HmacSignature,
    HubSpotSignatureV3,
    SignedRequest,
    Verifier,
    WebhookRejected,
)

SECRET = "kit-secret-0123456789"


@dataclass
class Receiver:
    """Verifies each request; answers 200, 401, or what `fail_with` says."""

    verifier: Verifier
    secrets: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        signed = SignedRequest("POST", self.url, {k.lower(): v for k, v in request.headers.items()}, body)
        try:
            self.verifier.verify(signed, self.secrets)
            verdict = "ok"
        except WebhookRejected as exc:
            verdict = exc.code
        with self.lock:
            status = self.fail_with.pop(0) if self.fail_with and verdict == "ok" else (200 if verdict == "ok" else 401)
            self.received.append({"verdict": verdict, "status": status, "payload": json.loads(body)})
        return Response("{}", status=status, mimetype="application/json")(environ, start_response)

    def ok_payloads(self) -> list[Any]:
        return [r["payload"] for r in self.received if r["verdict"] == "ok" and r["status"] == 200]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    found = Receiver(HmacSignature(), {"webhook_secret": SECRET})
    with BackgroundWSGI(found) as served:
        found.url = served.base_url + "/hook"
        yield found


def notes(n: int) -> list[Notification]:
    return [Notification(f"n{i}", "contact.user.updated",
                         {"id": f"n{i}", "created_at": 1_000 + i, "first_sent_at": 1_000 + i, "delivery_attempts": 1})
            for i in range(n)]


def sender_for(receiver: Receiver, concurrency: int = 2, **faults: Any) -> WebhookSender:
    sender = WebhookSender(prepare=intercom_webhooks.prepare, tamper=intercom_webhooks.tamper, concurrency=concurrency)
    sender.configure(receiver.url, "hmac-sha1", secret=SECRET, retry_backoff_s=0.01)
    sender.configure_faults(faults)
    return sender


def test_genuine_deliveries_verify_against_the_product_verifier(receiver: Receiver) -> None:
    sender = sender_for(receiver)
    sender.send_many(notes(20))
    assert sender.flush(10)
    assert sorted(p["id"] for p in receiver.ok_payloads()) == sorted(f"n{i}" for i in range(20))
    assert all(r["verdict"] == "ok" for r in receiver.received)
    assert sender.stats["genuine:200"] == 20


def test_duplicates_are_redeliveries_with_the_same_id_and_a_new_attempt_count(receiver: Receiver) -> None:
    sender = sender_for(receiver, duplicate_rate=1.0)
    sender.send_many(notes(5))
    assert sender.flush(10)
    payloads = receiver.ok_payloads()
    assert len(payloads) == 10
    for i in range(5):
        attempts = sorted(p["delivery_attempts"] for p in payloads if p["id"] == f"n{i}")
        assert attempts == [1, 2]


def test_reordering_shuffles_within_a_window(receiver: Receiver) -> None:
    sender = sender_for(receiver, concurrency=1, reorder_window=10, seed=3)
    sender.send_many(notes(10))
    assert sender.flush(10)
    order = [p["id"] for p in receiver.ok_payloads()]
    assert sorted(order) == sorted(f"n{i}" for i in range(10)) and order != [f"n{i}" for i in range(10)]


def test_a_partial_reorder_batch_is_released_on_its_own(receiver: Receiver) -> None:
    sender = sender_for(receiver, reorder_window=50)
    sender.send_many(notes(3))
    for _ in range(100):
        if len(receiver.ok_payloads()) == 3:
            break
        threading.Event().wait(0.05)
    assert len(receiver.ok_payloads()) == 3


def test_dropped_deliveries_are_never_sent(receiver: Receiver) -> None:
    sender = sender_for(receiver, drop_rate=1.0)
    sender.send_many(notes(4))
    assert sender.flush(5)
    assert receiver.received == [] and sender.stats["dropped"] == 4
    assert [e.kind for e in sender.log] == ["dropped"] * 4


def test_mis_signed_first_attempts_are_refused_then_retried_correctly(receiver: Receiver) -> None:
    sender = sender_for(receiver, mis_sign_rate=1.0)
    sender.send_many(notes(3))
    assert sender.flush(10)
    verdicts = [r["verdict"] for r in receiver.received]
    assert verdicts.count("signature_invalid") == 3 and verdicts.count("ok") == 3
    assert sorted(p["delivery_attempts"] for p in receiver.ok_payloads()) == [2, 2, 2]


def test_forged_unsigned_and_stale_copies_are_sent_once_beside_the_genuine_one(receiver: Receiver) -> None:
    sender = sender_for(receiver, forge_rate=1.0, unsigned_rate=1.0, stale_rate=1.0, stale_age_s=86_400)
    sender.send_many(notes(2))
    assert sender.flush(10)
    verdicts = sorted(r["verdict"] for r in receiver.received)
    # the stale copy is validly signed: Intercom's staleness is in the body, for the receiver to judge
    assert verdicts == ["ok", "ok", "ok", "ok", "signature_invalid", "signature_invalid", "signature_missing",
                        "signature_missing"]
    stale = [p for p in receiver.ok_payloads() if p["created_at"] < 1_000 - 80_000]
    assert len(stale) == 2
    forged = [r["payload"] for r in receiver.received if r["verdict"] == "signature_invalid"]
    assert len(forged) == 2


def test_intercom_forgeries_change_the_record_they_carry() -> None:
    genuine = intercom_webhooks.notification("contact.user.updated", {"id": "c1", "name": "Ann", "updated_at": 5})
    forged = intercom_webhooks.tamper(genuine.payload)
    assert forged["data"]["item"]["name"] == "Forged by an attacker"
    assert forged["data"]["item"]["updated_at"] > 5 and genuine.payload["data"]["item"]["name"] == "Ann"


def test_failures_are_retried_until_max_attempts(receiver: Receiver) -> None:
    receiver.fail_with = [503, 503]
    sender = sender_for(receiver)
    sender.send(notes(1)[0])
    assert sender.flush(10)
    assert [r["status"] for r in receiver.received] == [503, 503, 200]
    receiver.fail_with = [500] * 10
    sender.send(Notification("x", "t", {"id": "x", "created_at": 1, "first_sent_at": 1}))
    assert sender.flush(10)
    assert sender.stats["gave_up"] == 1 and sender.stats["genuine:500"] == 4


def test_hubspot_v3_and_basic_signers_verify_and_stale_timestamps_do_not() -> None:
    hubspot = Receiver(HubSpotSignatureV3(), {"client_secret": SECRET})
    with BackgroundWSGI(hubspot) as served:
        hubspot.url = served.base_url + "/hook"
        sender = WebhookSender()
        sender.configure(hubspot.url, "hubspot-v3", secret=SECRET, max_attempts=1)
        sender.configure_faults({"stale_rate": 1.0, "stale_age_s": 600})
        sender.send(Notification("e1", "contact.creation", [{"eventId": 1}]))
        assert sender.flush(10)
    assert sorted(r["verdict"] for r in hubspot.received) == ["ok", "signature_stale"]
    basic = Receiver(BasicCredentials(), {"webhook_username": "u", "webhook_password": "p" * 20})
    with BackgroundWSGI(basic) as served:
        basic.url = served.base_url + "/hook"
        sender = WebhookSender()
        sender.configure(basic.url, "basic", username="u", password="p" * 20, max_attempts=1)
        sender.configure_faults({"forge_rate": 1.0})
        sender.send(Notification("e1", "change.person", {"meta": {}}))
        assert sender.flush(10)
    assert sorted(r["verdict"] for r in basic.received) == ["ok", "signature_invalid"]


def test_targets_are_loopback_only() -> None:
    sender = WebhookSender()
    with pytest.raises(ValueError, match="loopback"):
        sender.configure("https://example.com/hook", "hmac-sha1", secret="x")
    with pytest.raises(ValueError, match="unknown webhook faults"):
        sender.configure_faults({"chaos": 1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        sender.configure_faults({"drop_rate": 2})


def test_the_sandbox_sends_intercom_notifications_for_its_changes(receiver: Receiver) -> None:
    app = create_app(SandboxConfig(data=DataConfig(contacts=50, companies=10, admins=3, conversations=40)))
    control = Client(app)
    assert control.post("/_sandbox/webhooks", json={"url": receiver.url, "signer": "hmac-sha1", "secret": SECRET,
                                                   "retry_backoff_s": 0.01}).status_code == 200
    assert control.post("/_sandbox/webhooks/faults", json={"duplicate_rate": 0.5}).status_code == 200
    changes = control.post("/_sandbox/mutate", json={"contacts_updated": 3, "contacts_created": 2, "contacts_deleted": 2,
                                                     "conversations_updated": 3, "conversations_created": 1}).json
    flushed = control.post("/_sandbox/webhooks/flush", json={"timeout_s": 10}).json
    assert flushed["flushed"] and flushed["pending"] == 0
    by_id: dict[str, dict[str, Any]] = {}
    for payload in receiver.ok_payloads():
        assert payload["type"] == "notification_event" and payload["id"].startswith("notif_")
        by_id[payload["id"]] = payload
    topics = sorted(p["topic"] for p in by_id.values())
    assert topics.count("contact.deleted") == 2
    assert sum(t.startswith("contact.") and t.endswith(".created") for t in topics) == 2
    assert sum(t.startswith("contact.") and t.endswith(".updated") for t in topics) == 3
    assert topics.count("conversation.user.created") == 1
    assert sum(t.startswith("conversation.") for t in topics) == 4
    deleted = {p["data"]["item"]["id"] for p in by_id.values() if p["topic"] == "contact.deleted"}
    assert deleted == set(changes["contacts_deleted"])
    updated = {p["data"]["item"]["id"]: p["data"]["item"] for p in by_id.values() if p["topic"].endswith(".updated")
               and p["topic"].startswith("contact.")}
    assert set(updated) == set(changes["contacts_updated"])
    assert all(item["updated_at"] == changes["now"] for item in updated.values())
    state = control.get("/_sandbox/webhooks").json
    assert state["target"]["signer"] == "hmac-sha1" and "secret" not in json.dumps(state["target"])
    log = control.get("/_sandbox/webhooks/log").json
    assert log["total"] >= len(by_id)
