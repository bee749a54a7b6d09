"""The sandbox Intercom's webhooks: its changes as Intercom notifications, through the kit's
signed sender (devtools/sandboxes/kit/webhooks.py).

Configure a target, then every /_sandbox/mutate sends what Intercom would:

    POST /_sandbox/webhooks {"url": "http://127.0.0.1:5001/.../webhooks/<connection id>",
                             "signer": "hmac-sha1", "secret": "<the app's client secret>"}
    POST /_sandbox/webhooks/faults {"duplicate_rate": 0.3, "reorder_window": 8, ...}
    POST /_sandbox/webhooks/flush {"timeout_s": 30}

    contacts created     contact.user.created / contact.lead.created   (the contact)
    contacts updated     contact.user.updated / contact.lead.updated   (the contact)
    contacts deleted     contact.deleted     ({type, id, deleted}: deletes carry ids only)
    companies updated    company.updated                               (the company)
    conversations        conversation.user.created; an update is conversation.admin.closed
                         or, for a reopened one, conversation.user.replied / admin.opened
                         (the conversation with its parts, as GET /conversations/{id})

Notification envelopes follow Intercom's: type notification_event, id notif_<uuid> (the same
on every retry), topic, app_id, created_at and first_sent_at (wall-clock time: when the
notification was made), delivery_attempts (counts retries, so a retry's body differs),
data.item. X-Hub-Signature is sha1=<hex HMAC-SHA1 of the body>, keyed by the secret given.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import TYPE_CHECKING, Any

from devtools.sandboxes.intercom import render
from devtools.sandboxes.kit.webhooks import Notification, WebhookSender

if TYPE_CHECKING:
    from devtools.sandboxes.intercom.store import Store
    from devtools.sandboxes.kit.app import SandboxApp


def prepare(payload: Any, attempt: int, age_s: float) -> Any:
    """A retry counts its attempts; a replayed copy carries its original (older) times."""
    sent = dict(payload)
    sent["delivery_attempts"] = attempt
    if age_s:
        sent["created_at"] = int(sent["created_at"] - age_s)
        sent["first_sent_at"] = int(sent["first_sent_at"] - age_s)
    return sent


def tamper(payload: Any) -> Any:
    """What a forger sends: the same notification with the record's details changed."""
    forged = copy.deepcopy(payload)
    item = forged.get("data", {}).get("item", {})
    for key in ("name", "email", "title"):
        if key in item:
            item[key] = "forged@attacker.example" if key == "email" else "Forged by an attacker"
    item["updated_at"] = int(time.time()) + 86_400  # newer than anything, if it were believed
    return forged


def make_sender() -> WebhookSender:
    return WebhookSender(prepare=prepare, tamper=tamper)


def notification(topic: str, item: dict[str, Any], now: int | None = None) -> Notification:
    created = int(time.time()) if now is None else now
    notification_id = f"notif_{uuid.uuid4()}"
    payload = {
        "type": "notification_event",
        "app_id": render.WORKSPACE_ID,
        "data": {"type": "notification_event_data", "item": item},
        "links": {},
        "id": notification_id,
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": created,
        "created_at": created,
        "self": None,
    }
    return Notification(notification_id, topic, payload)


def notify_mutation(app: SandboxApp[Store], changes: dict[str, Any]) -> None:
    """Send the notifications of one /_sandbox/mutate (its answer names what changed)."""
    sender = app.webhooks
    if not isinstance(sender, WebhookSender) or not sender.configured:
        return
    store = app.store
    out: list[Notification] = []
    for contact_id in changes.get("contacts_created", []):
        contact = store.contacts.get(contact_id)
        if contact is not None:
            out.append(notification(f"contact.{contact.role}.created", render.contact(contact)))
    for contact_id in changes.get("contacts_updated", []):
        contact = store.contacts.get(contact_id)
        if contact is not None:
            out.append(notification(f"contact.{contact.role}.updated", render.contact(contact)))
    for contact_id in changes.get("contacts_deleted", []):
        out.append(notification("contact.deleted", {"type": "contact", "id": contact_id, "deleted": True}))
    for company_id in changes.get("companies_updated", []):
        company = store.companies.get(company_id)
        if company is not None:
            out.append(notification("company.updated", render.company(company)))
    for conversation_id in changes.get("conversations_created", []):
        conversation = store.conversations.get(conversation_id)
        if conversation is not None:
            out.append(notification("conversation.user.created",
                                    render.conversation_detail(conversation, store.authors)))
    for conversation_id in changes.get("conversations_updated", []):
        conversation = store.conversations.get(conversation_id)
        if conversation is None:
            continue
        if conversation.state == "closed":
            topic = "conversation.admin.closed"
        else:
            topic = "conversation.user.replied" if conversation.customer_id is not None else "conversation.admin.opened"
        out.append(notification(topic, render.conversation_detail(conversation, store.authors)))
    sender.send_many(out)
