"""HubSpot's webhooks, declared (https://developers.hubspot.com/docs/api/webhooks).

A delivery is a JSON list of up to 100 events, each:

    {"eventId": 100, "subscriptionId": 1, "portalId": 62515, "appId": 54321,
     "occurredAt": 1713533523000, "subscriptionType": "contact.propertyChange",
     "attemptNumber": 0, "objectId": 123, "propertyName": "email", "propertyValue": "..."}

signed with X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method + URI + body + the
X-HubSpot-Request-Timestamp (ms), keyed by the app's client secret, refused after 5
minutes (shared.vendors.webhooks.HubSpotSignatureV3). Events carry ids, not records, so
creations, property changes, restores and merges fetch the object with the connection's
chosen properties; deletions (and GDPR deletions) become tombstones versioned by
occurredAt; `contact.associationChange` and `deal.associationChange` (fromObjectId,
toObjectId, associationType, associationRemoved) re-read that object's associations, so a
removed one is tombstoned without waiting for the object itself to change. The eventId is the same on every retry: it is the dedupe key. Subscriptions
belong to the app (configured in its developer account), so setup shows the URL to paste.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.vendors.pagination import PageRequest
from shared.vendors.webhooks import Envelope, HubSpotSignatureV3, TopicRule, WebhookScheme

#: HubSpot retries a failed delivery for about a day; older events are replays
MAX_AGE_S = 3 * 86_400

_OBJECTS = {"contact": "contacts", "company": "companies", "deal": "deals"}


def topics() -> dict[str, TopicRule]:
    rules: dict[str, TopicRule] = {}
    for kind, stream in _OBJECTS.items():
        for change in ("creation", "propertyChange", "restore", "merge"):
            rules[f"{kind}.{change}"] = TopicRule(stream, "fetch")
        rules[f"{kind}.deletion"] = TopicRule(stream, "delete")
    rules["contact.privacyDeletion"] = TopicRule("contacts", "delete")
    # an association added or removed: re-read the object's associations (the batch read),
    # which replaces its stored set. Companies have no association streams of their own:
    # HubSpot also sends the contact's or deal's side of each change.
    for kind in ("contact", "deal"):
        rules[f"{kind}.associationChange"] = TopicRule(_OBJECTS[kind], "children", record_id="fromObjectId")
    return rules


def scheme(fetch_one: Callable[[str, str, Mapping[str, Any]], PageRequest]) -> WebhookScheme:
    return WebhookScheme(
        verifier=HubSpotSignatureV3(secret_field="client_secret"),
        envelope=Envelope(delivery_id="eventId", topic=("subscriptionType",), record_id="objectId",
                          occurred_at="occurredAt", batch=True),
        topics=topics(),
        fetch_paths={stream: f"/crm/v3/objects/{stream}/{{id}}" for stream in _OBJECTS.values()},
        fetch_request=fetch_one,
        max_age_s=MAX_AGE_S,
        registrar=None,
        setup_url="https://developers.hubspot.com/docs/api/webhooks",
        setup_steps=(
            "Save your app's client secret with PUT /webhooks/{connection_id}/secret: HubSpot signs every "
            "delivery with it (signature v3).",
            "In your HubSpot developer account, open the app's Webhooks settings, paste the URL below as the "
            "target URL and subscribe to the topics listed.",
        ),
    )
