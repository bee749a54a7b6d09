"""The sandbox HubSpot's changes as HubSpot webhook batches, through the kit's signed sender.

    POST /_sandbox/webhooks {"url": ".../webhooks/<connection id>", "signer": "hubspot-v3",
                             "secret": "<the app's client secret>"}

Each /_sandbox/mutate sends one batch (a JSON list, as HubSpot does, up to 100 events):
changed records as `<object>.propertyChange`, new ones as `<object>.creation`, archived ones
as `<object>.deletion`, associations added or removed (`link`, `unlink`: [{"from": "contacts",
"id": "1001", "to": "companies", "to_id": "1002"}]) as `<object>.associationChange`
(fromObjectId, toObjectId, associationType such as CONTACT_TO_COMPANY, associationRemoved); each event has eventId (stable across retries), subscriptionId,
portalId, appId, occurredAt (ms), subscriptionType, attemptNumber, objectId, and for
property changes propertyName and propertyValue. Signed X-HubSpot-Signature-v3.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

from devtools.sandboxes.kit.params import control_body
from devtools.sandboxes.kit.responses import ApiError
from devtools.sandboxes.kit.webhooks import Notification, WebhookSender

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from devtools.sandboxes.hubspot.records import Record, Store
    from devtools.sandboxes.kit.app import SandboxApp

PORTAL_ID = 62515
APP_ID = 54321
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
_ids = itertools.count(1)


def prepare(payload: Any, attempt: int, age_s: float) -> Any:
    """A retry counts its attempt; a replayed copy carries its older occurredAt."""
    return [{**event, "attemptNumber": attempt - 1,
             "occurredAt": int(event["occurredAt"] - age_s * 1000)} for event in payload]


def sender() -> WebhookSender:
    return WebhookSender(prepare=prepare)


def _event(kind: str, change: str, rec: Record, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"eventId": next(_ids) + int(time.time() * 1000) % 10**9 * 1000, "subscriptionId": 1,
            "portalId": PORTAL_ID, "appId": APP_ID, "occurredAt": int(time.time() * 1000),
            "subscriptionType": f"{SINGULAR[kind]}.{change}", "attemptNumber": 0, "objectId": int(rec.id),
            "changeSource": "CRM", **(extra or {})}


def _association(store: Store, verb: str, change: Any, done: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(change, dict) or change.get("from") not in SINGULAR or change.get("to") not in SINGULAR:
        raise ApiError(400, "VALIDATION_ERROR", f"{verb}: {change!r}")
    kind, rid, to, to_id = change["from"], str(change["id"]), change["to"], str(change["to_id"])
    if verb == "link":
        with store.lock:
            store.link(kind, rid, to, to_id)
    elif not store.unlink(kind, rid, to, to_id):
        return []
    done[verb].append(change)
    now = int(time.time() * 1000)
    return [{"eventId": next(_ids) + now % 10**9 * 1000, "subscriptionId": 2, "portalId": PORTAL_ID, "appId": APP_ID,
             "occurredAt": now, "subscriptionType": f"{SINGULAR[kind]}.associationChange", "attemptNumber": 0,
             "changeSource": "CRM", "associationType": f"{SINGULAR[kind]}_TO_{SINGULAR[to]}".upper(),
             "fromObjectId": int(rid), "toObjectId": int(to_id), "associationRemoved": verb == "unlink",
             "isPrimaryAssociation": False}]


def mutate(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    body = control_body(request)
    store = app.store
    events: list[dict[str, Any]] = []
    done: dict[str, Any] = {"touched": {}, "created": {}, "archived": {}}
    for kind, count in dict(body.get("touch") or {}).items():
        if kind not in SINGULAR or not isinstance(count, int):
            raise ApiError(400, "VALIDATION_ERROR", f"touch: {kind!r}")
        changed = store.touch(kind, count, spread_s=int(body.get("spread_s") or 0))
        done["touched"][kind] = [r.id for r in changed]
        events += [_event(kind, "propertyChange", r, {"propertyName": "favorite_color",
                                                      "propertyValue": r.properties.get("favorite_color")})
                   for r in changed]
    for kind, count in dict(body.get("create") or {}).items():
        if kind not in SINGULAR or not isinstance(count, int):
            raise ApiError(400, "VALIDATION_ERROR", f"create: {kind!r}")
        made = store.create(kind, count)
        done["created"][kind] = [r.id for r in made]
        events += [_event(kind, "creation", r) for r in made]
    for kind, ids in dict(body.get("archive") or {}).items():
        if kind not in SINGULAR or not isinstance(ids, list):
            raise ApiError(400, "VALIDATION_ERROR", f"archive: {kind!r}")
        gone = store.archive(kind, [str(i) for i in ids])
        done["archived"][kind] = [r.id for r in gone]
        events += [_event(kind, "deletion", r) for r in gone]
    for verb in ("link", "unlink"):
        done[verb] = []
        for change in list(body.get(verb) or []):
            events += _association(store, verb, change, done)
    if app.webhooks is not None and events:
        sender = app.webhooks
        assert isinstance(sender, WebhookSender)
        for start in range(0, len(events), 100):  # HubSpot batches up to 100 events a request
            batch = events[start:start + 100]
            sender.send(Notification(f"batch-{batch[0]['eventId']}", "batch", batch))
    return done
