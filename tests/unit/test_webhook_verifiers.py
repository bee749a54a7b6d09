"""Webhook verifiers and schemes, without servers: each verifier against signatures computed
independently (and HubSpot's published vector), each refusal's code, constant-time
comparison, and the mapping of deliveries to events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.vendors import webhooks as wh
from shared.vendors.intercom.webhooks import SCHEME as INTERCOM
from shared.vendors.webhooks import (
    BasicCredentials,
    Envelope,
    HmacSignature,
    HubSpotSignatureV3,
    MalformedWebhook,
    SignedRequest,
    TopicRule,
    WebhookRejected,
    WebhookScheme,
)

SECRET = "intercom-client-secret"
BODY = b'{"type":"notification_event","id":"notif_1","topic":"contact.user.updated"}'


def request(headers: dict[str, str], body: bytes = BODY, url: str = "https://x.example/webhooks/c", at: float = 0.0,
            method: str = "POST") -> SignedRequest:
    return SignedRequest(method, url, {k.lower(): v for k, v in headers.items()}, body, received_at=at)


def refused(verifier: Any, req: SignedRequest, secrets: dict[str, str]) -> str:
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify(req, secrets)
    assert caught.value.status == 401
    return caught.value.code


# -- HMAC (Intercom's X-Hub-Signature) ----------------------------------------------------------


def sha1_header(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_intercom_signature_verifies_over_the_raw_bytes() -> None:
    verifier = INTERCOM.verifier
    secrets = {"webhook_secret": SECRET}
    verifier.verify(request({"X-Hub-Signature": sha1_header(BODY)}), secrets)
    verifier.verify(request({"X-Hub-Signature": sha1_header(BODY).upper().replace("SHA1=", "sha1=")}), secrets)
    # the same JSON with other whitespace is other bytes: refused
    respaced = json.dumps(json.loads(BODY)).encode()
    assert refused(verifier, request({"X-Hub-Signature": sha1_header(BODY)}, respaced), secrets) == "signature_invalid"


def test_intercom_refusals_have_codes() -> None:
    verifier, secrets = INTERCOM.verifier, {"webhook_secret": SECRET}
    assert refused(verifier, request({}), secrets) == "signature_missing"
    assert refused(verifier, request({"X-Hub-Signature": ""}), secrets) == "signature_missing"
    assert refused(verifier, request({"X-Hub-Signature": sha1_header(BODY, "other")}), secrets) == "signature_invalid"
    assert refused(verifier, request({"X-Hub-Signature": sha1_header(BODY)[5:]}), secrets) == "signature_invalid"
    assert refused(verifier, request({"X-Hub-Signature": "sha1=zz"}), secrets) == "signature_invalid"
    assert refused(verifier, request({"X-Hub-Signature": sha1_header(BODY)}, BODY + b" "), secrets) == "signature_invalid"
    assert refused(verifier, request({"X-Hub-Signature": sha1_header(BODY)}), {}) == "webhook_secret_missing"
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify(request({}), secrets)
    assert "WWW-Authenticate" in caught.value.headers


def test_comparisons_are_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(wh.hmac, "compare_digest", spy)
    INTERCOM.verifier.verify(request({"X-Hub-Signature": sha1_header(BODY)}), {"webhook_secret": SECRET})
    assert len(calls) == 1
    token = base64.b64encode(b"user:" + b"p" * 20).decode()
    BasicCredentials().verify(request({"Authorization": f"Basic {token}"}),
                              {"webhook_username": "user", "webhook_password": "p" * 20})
    assert len(calls) == 3  # user and password, both compared


def test_hmac_sha256_base64_variant() -> None:
    verifier = HmacSignature(header="X-Signature", algorithm="sha256", prefix="", encoding="base64", secret_field="s")
    good = base64.b64encode(hmac.new(b"k", BODY, hashlib.sha256).digest()).decode()
    verifier.verify(request({"X-Signature": good}), {"s": "k"})
    assert refused(verifier, request({"X-Signature": good.lower()}), {"s": "k"}) == "signature_invalid"


# -- HubSpot v3 ----------------------------------------------------------------------------------


def test_hubspot_v3_matches_hubspots_published_vector() -> None:
    # hubspot-api-client's signature tests: this secret, body, URL, method and timestamp
    signature = HubSpotSignatureV3.signature(b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "POST",
                                             "https://www.example.com/webhook_uri",
                                             b"{'example_field':'example_value'}", "15000000")
    assert signature == b"HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


def hubspot_headers(url: str, body: bytes, ts_ms: int, secret: str = SECRET, method: str = "POST") -> dict[str, str]:
    source = (method + url).encode() + body + str(ts_ms).encode()
    sig = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(ts_ms)}


def test_hubspot_v3_verifies_and_refuses_what_is_older_than_five_minutes() -> None:
    verifier, secrets = HubSpotSignatureV3(), {"client_secret": SECRET}
    url, now = "https://x.example/webhooks/hubspot-1", 1_800_000_000.0
    ts = int((now - 10) * 1000)
    verifier.verify(request(hubspot_headers(url, BODY, ts), url=url, at=now), secrets)
    old = int((now - 301) * 1000)
    assert refused(verifier, request(hubspot_headers(url, BODY, old), url=url, at=now), secrets) == "signature_stale"
    future = int((now + 120) * 1000)
    assert refused(verifier, request(hubspot_headers(url, BODY, future), url=url, at=now), secrets) == "signature_stale"
    assert refused(verifier, request(hubspot_headers(url, BODY, ts), url=url + "x", at=now), secrets) == "signature_invalid"
    assert refused(verifier, request(hubspot_headers(url, BODY, ts), url=url, at=now, method="PUT"), secrets) == "signature_invalid"
    missing = {"X-HubSpot-Signature-v3": "x"}
    assert refused(verifier, request(missing, url=url, at=now), secrets) == "signature_missing"
    bad_ts = {**hubspot_headers(url, BODY, ts), "X-HubSpot-Request-Timestamp": "12e3"}
    assert refused(verifier, request(bad_ts, url=url, at=now), secrets) == "signature_invalid"


def test_hubspot_v3_decodes_the_uri_as_hubspot_does() -> None:
    verifier, now = HubSpotSignatureV3(), 1_800_000_000.0
    ts = int(now * 1000)
    signed_as = "https://x.example/hook?a=b:c"
    received = "https://x.example/hook?a=b%3Ac"
    verifier.verify(request(hubspot_headers(signed_as, BODY, ts), url=received, at=now), {"client_secret": SECRET})


# -- basic credentials (Pipedrive v2) ---------------------------------------------------------


def test_basic_credentials() -> None:
    verifier = BasicCredentials()
    secrets = {"webhook_username": "tributary", "webhook_password": "s3cret-s3cret"}

    def basic(value: bytes) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(value).decode()}

    verifier.verify(request(basic(b"tributary:s3cret-s3cret")), secrets)
    assert refused(verifier, request(basic(b"tributary:wrong")), secrets) == "signature_invalid"
    assert refused(verifier, request(basic(b"someone:s3cret-s3cret")), secrets) == "signature_invalid"
    assert refused(verifier, request(basic(b"tributarys3cret-s3cret")), secrets) == "signature_invalid"
    assert refused(verifier, request({"Authorization": "Basic !!!"}), secrets) == "signature_invalid"
    assert refused(verifier, request({"Authorization": "Bearer x"}), secrets) == "signature_missing"
    assert refused(verifier, request({}), secrets) == "signature_missing"
    assert verifier.generated and verifier.secret_fields == ("webhook_username", "webhook_password")


# -- mapping deliveries ------------------------------------------------------------------------


def intercom(topic: str, item: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "notification_event", "id": "notif_9", "topic": topic, "created_at": 1_700_000_000,
            "data": {"type": "notification_event_data", "item": item or {"type": "contact", "id": "c1"}}, **extra}


def test_intercom_topics_map_to_stream_actions() -> None:
    [event] = INTERCOM.events(intercom("contact.user.updated", {"type": "contact", "id": "c1", "updated_at": 5}))
    assert (event.stream, event.action, event.record_id, event.delivery_id) == ("contacts", "upsert", "c1", "notif_9")
    assert event.item == {"type": "contact", "id": "c1", "updated_at": 5} and event.occurred_at == 1_700_000_000
    [deleted] = INTERCOM.events(intercom("contact.deleted", {"type": "contact", "id": "c2", "deleted": True}))
    assert (deleted.stream, deleted.action, deleted.record_id, deleted.item) == ("contacts", "delete", "c2", None)
    assert INTERCOM.events(intercom("contact.archived"))[0].action == "delete"
    assert INTERCOM.events(intercom("contact.unarchived"))[0].action == "fetch"
    assert INTERCOM.events(intercom("conversation.admin.closed", {"id": "v1"}))[0].stream == "conversations"
    assert INTERCOM.events(intercom("conversation.deleted", {"id": "v1"}))[0].action == "delete"
    assert INTERCOM.events(intercom("company.updated", {"id": "co1"}))[0].stream == "companies"
    assert INTERCOM.events(intercom("admin.away_mode_updated", {"id": "a1"}))[0].action == "fetch"
    assert INTERCOM.events(intercom("ping", {}))[0].action == "ignore"
    assert INTERCOM.events(intercom("some.future.topic", {}))[0].action == "ignore"
    assert "ping" not in INTERCOM.subscribed_topics and "contact.user.updated" in INTERCOM.subscribed_topics


def test_malformed_intercom_deliveries_are_refused() -> None:
    for payload in ([intercom("contact.user.updated")], "x", {}, {**intercom("contact.user.updated"), "type": "other"},
                    {**intercom("contact.user.updated"), "id": None}, {**intercom("contact.user.updated"), "id": 7.5},
                    intercom("contact.user.updated", {"type": "contact"}),
                    {**intercom("contact.user.updated"), "data": {"item": "c1"}}):
        with pytest.raises(MalformedWebhook):
            INTERCOM.events(payload)


def test_stale_is_older_than_the_schemes_max_age() -> None:
    [event] = INTERCOM.events(intercom("contact.deleted"))
    assert not INTERCOM.stale(event, 1_700_000_000 + 3600)
    assert INTERCOM.stale(event, 1_700_000_000 + 4 * 86_400)


def test_batched_id_only_events_hubspot_style() -> None:
    scheme = WebhookScheme(
        verifier=HubSpotSignatureV3(),
        envelope=Envelope(delivery_id="eventId", topic=("subscriptionType",), record_id="objectId",
                          occurred_at="occurredAt", batch=True),
        topics={"contact.propertyChange": TopicRule("contacts", "fetch"), "contact.deletion": TopicRule("contacts", "delete")},
        fetch_paths={"contacts": "/crm/v3/objects/contacts/{id}"},
    )
    events = scheme.events([
        {"eventId": 11, "subscriptionType": "contact.propertyChange", "objectId": 5, "occurredAt": 1_700_000_000_123},
        {"eventId": 12, "subscriptionType": "contact.deletion", "objectId": 6, "occurredAt": 1_700_000_001_000},
    ])
    assert [(e.delivery_id, e.action, e.record_id) for e in events] == [("11", "fetch", "5"), ("12", "delete", "6")]
    assert events[0].occurred_at == pytest.approx(1_700_000_000.123)
    with pytest.raises(MalformedWebhook):
        scheme.events({"eventId": 1})


def test_composite_topics_pipedrive_style() -> None:
    scheme = WebhookScheme(
        verifier=BasicCredentials(),
        envelope=Envelope(delivery_id="meta.id", topic=("meta.action", "meta.entity"), record_id="meta.entity_id",
                          item="data", occurred_at="meta.timestamp"),
        topics={"change.person": TopicRule("persons", "upsert"), "delete.person": TopicRule("persons", "delete")},
    )
    [event] = scheme.events({"meta": {"id": "d-1", "action": "change", "entity": "person", "entity_id": "42",
                                      "timestamp": "2026-05-01T10:00:00Z"}, "data": {"id": 42, "name": "Ann"}})
    assert (event.topic, event.action, event.record_id) == ("change.person", "upsert", "42")
    assert event.occurred_at == datetime(2026, 5, 1, 10, tzinfo=UTC).timestamp()


def test_secret_document_is_rotated_with_the_credentials() -> None:
    from shared.connections.store import ENVELOPE_DOCS
    from shared.webhooks.secrets import SECRET_DOC

    assert SECRET_DOC in ENVELOPE_DOCS


def test_an_item_too_large_to_keep_is_fetched_instead() -> None:
    from shared.webhooks import deliveries

    [event] = INTERCOM.events(intercom("contact.user.updated", {"id": "c1", "notes": "x" * (deliveries.MAX_ITEM_CHARS + 1)}))
    doc = deliveries.document(event, datetime.now(UTC))
    assert doc["action"] == "fetch" and doc["item"] is None and doc["record_id"] == "c1"
    [small] = INTERCOM.events(intercom("contact.user.updated", {"id": "c1"}))
    kept = deliveries.document(small, datetime.now(UTC))
    assert kept["action"] == "upsert" and deliveries.item_of(kept) == {"id": "c1"}
    assert kept["expires_at"] - kept["received_at"] == deliveries.RETENTION
