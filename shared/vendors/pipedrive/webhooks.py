"""Pipedrive's webhooks v2, declared and registered per user connection
(https://pipedrive.readme.io/docs/guide-for-webhooks-v2).

Each user connection registers its own webhooks with its own token (POST /api/v1/webhooks,
`version: "2.0"`, one per object: `event_action` "*", `event_object` person, organization,
deal, activity), so Pipedrive sends it what that user may see. Pipedrive signs nothing; a
webhook carries the HTTP basic credentials given at registration (`http_auth_user` /
`http_auth_password`, generated per connection and stored encrypted), which the basic
verifier checks. A v2 delivery:

    {"meta": {"action": "create"|"change"|"delete", "entity": "person", "entity_id": "123",
              "id": "<uuid, the same on every retry>", "timestamp": ..., "version": "2.0", ...},
     "data": <the record as API v2 lists it, null on delete>, "previous": <changed fields>}

create/change upsert `data` through the ingest path (newer-wins by update_time, so late or
repeated deliveries change nothing), delete tombstones the record (versioned by the event's
time); records the connection's user does not own are left out there (Stream.owned).
Deliveries cost no API tokens, so they also spare the daily budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.vendors.pagination import PageRequest
from shared.vendors.webhooks import BasicCredentials, Envelope, TopicRule, WebhookScheme

#: Pipedrive's object name -> our stream
OBJECTS = {"person": "persons", "organization": "organizations", "deal": "deals", "activity": "activities"}


def topics() -> dict[str, TopicRule]:
    rules: dict[str, TopicRule] = {}
    for entity, stream in OBJECTS.items():
        rules[f"create.{entity}"] = TopicRule(stream, "upsert")
        rules[f"change.{entity}"] = TopicRule(stream, "upsert")
        rules[f"delete.{entity}"] = TopicRule(stream, "delete")
    return rules


class Registrar:
    """One webhook per object, registered with the connection's own token."""

    def __init__(self, verifier: BasicCredentials) -> None:
        self.verifier = verifier

    def register(self, client: Any, url: str, secrets: Mapping[str, str], topics: tuple[str, ...]) -> dict[str, Any]:
        entities = sorted({topic.split(".", 1)[1] for topic in topics})
        ids: list[int] = []
        try:
            for entity in entities:
                answer = client.fetch(PageRequest(method="POST", path="/api/v1/webhooks", json_body={
                    "subscription_url": url, "event_action": "*", "event_object": entity, "version": "2.0",
                    "http_auth_user": secrets[self.verifier.username_field],
                    "http_auth_password": secrets[self.verifier.password_field],
                }))
                ids.append(int((answer.get("data") or {})["id"]))
        except Exception:
            self.unregister(client, {"webhook_ids": ids})  # no half registration left behind
            raise
        return {"webhook_ids": ids}

    def unregister(self, client: Any, registration: Mapping[str, Any]) -> None:
        from shared.vendors.errors import VendorNotFound

        for webhook_id in registration.get("webhook_ids") or []:
            try:
                client.fetch(PageRequest(method="DELETE", path=f"/api/v1/webhooks/{int(webhook_id)}"))
            except VendorNotFound:
                continue  # removed already (by the user in Pipedrive)


VERIFIER = BasicCredentials()

SCHEME = WebhookScheme(
    verifier=VERIFIER,
    envelope=Envelope(delivery_id="meta.id", topic=("meta.action", "meta.entity"), record_id="meta.entity_id",
                      item="data", occurred_at="meta.timestamp"),
    topics=topics(),
    fetch_paths={stream: f"/api/v2/{stream}/{{id}}" for stream in OBJECTS.values()},
    registrar=Registrar(VERIFIER),
    setup_url="https://pipedrive.readme.io/docs/guide-for-webhooks-v2",
    setup_steps=("Registered through Pipedrive's API with the connection's own token when it is connected; "
                 "POST /webhooks/{connection_id}/register registers again.",),
)
