"""What a connector declares about its webhooks, as data: how a delivery is authenticated,
how it maps to events on its streams, and whether it can be registered through the API.

    WebhookScheme(verifier, envelope, topics, fetch_paths, max_age_s, registration)
    ├── Verifier      checks a delivery over its raw bytes, before anything parses it
    │   ├── HmacSignature        a hex/base64 HMAC of the body in a header     (Intercom, GitHub-style)
    │   ├── HubSpotSignatureV3   HMAC-SHA256 of method + URI + body + timestamp (HubSpot v3)
    │   └── BasicCredentials     HTTP basic credentials chosen at registration  (Pipedrive v2)
    ├── Envelope      where a delivery keeps its id, topic, time, record and record id
    └── TopicRule     topic -> (stream, upsert | delete | fetch | ignore)

Nothing here does I/O: the webhooks function (shared.webhooks) reads the connection's secret,
asks the verifier, maps the payload with `events()`, and hands each event to the engine's
one ingest path. Every check compares in constant time (hmac.compare_digest) and every
refusal is a WebhookRejected (401) with a stable code, so an unsigned, badly signed or stale
delivery writes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from shared.errors import BadRequest, Unauthenticated
from shared.vendors.pagination import PageRequest, as_unix, dig

Action = Literal["upsert", "delete", "fetch", "children", "ignore"]


class WebhookRejected(Unauthenticated):
    """The delivery did not prove it came from the vendor (codes: signature_missing,
    signature_invalid, signature_stale, webhook_secret_missing)."""

    default_code = "signature_invalid"
    default_message = "The webhook delivery is not signed by the vendor."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Signature realm="tributary-webhooks"'})
        super().__init__(message, **kwargs)


class MalformedWebhook(BadRequest):
    """Signed by the vendor, but not shaped as its webhooks are (a vendor change we must see)."""

    default_code = "webhook_malformed"
    default_message = "The webhook payload does not have the vendor's shape."


# -- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """A delivery as received: nothing parsed. `url` is the public URL the vendor called
    (HubSpot signs it); header names are lower-case."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return value.strip() if isinstance(value, str) else None


class Verifier(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """The secret values this verifier needs (stored encrypted per connection)."""
        ...

    @property
    def generated(self) -> bool:
        """True when we choose the secret (and register it with the vendor); False when the
        vendor issues it (an app's client secret) and an admin enters it."""
        ...

    def verify(self, request: SignedRequest, secrets: Mapping[str, str]) -> None:
        """Return when the delivery is authentic; raise WebhookRejected otherwise."""
        ...


def _secret(secrets: Mapping[str, str], name: str) -> bytes:
    value = secrets.get(name)
    if not value:
        raise WebhookRejected("No webhook secret is set for this connection.", code="webhook_secret_missing")
    return value.encode()


def _equal(expected: bytes, given: bytes) -> bool:
    return hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class HmacSignature:
    """`<header>: <prefix><digest of the raw body>`, keyed by the secret.

    Intercom: X-Hub-Signature: sha1=<40 hex>, HMAC-SHA1 with the app's client secret.
    """

    header: str = "X-Hub-Signature"
    algorithm: Literal["sha1", "sha256"] = "sha1"
    prefix: str = "sha1="
    encoding: Literal["hex", "base64"] = "hex"
    secret_field: str = "webhook_secret"
    kind: str = "hmac"
    generated: bool = False

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return (self.secret_field,)

    def signature(self, key: bytes, body: bytes) -> bytes:
        digest = hmac.new(key, body, getattr(hashlib, self.algorithm)).digest()
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return (self.prefix + text).encode()

    def verify(self, request: SignedRequest, secrets: Mapping[str, str]) -> None:
        given = request.header(self.header)
        if not given:
            raise WebhookRejected(f"The {self.header} header is missing.", code="signature_missing")
        expected = self.signature(_secret(secrets, self.secret_field), request.body)
        # hex digests are case-insensitive; compare the canonical lower-case form
        candidate = given.encode() if self.encoding == "base64" else given.lower().encode()
        if not _equal(expected, candidate):
            raise WebhookRejected("The signature does not match the body.", code="signature_invalid")


#: HubSpot decodes these in the URI before signing (its request-validation guide)
_HUBSPOT_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


def hubspot_uri(url: str) -> str:
    for encoded, plain in _HUBSPOT_DECODED.items():
        url = url.replace(encoded, plain).replace(encoded.lower(), plain)
    return url


@dataclass(frozen=True)
class HubSpotSignatureV3:
    """X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret, method + URI + body +
    timestamp)), X-HubSpot-Request-Timestamp in milliseconds; older than 5 minutes is refused."""

    secret_field: str = "client_secret"
    max_age_s: float = 300.0
    #: a timestamp this far ahead of our clock is refused too (clock skew allowance)
    max_skew_s: float = 60.0
    kind: str = "hubspot-v3"
    generated: bool = False

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return (self.secret_field,)

    @staticmethod
    def signature(key: bytes, method: str, url: str, body: bytes, timestamp: str) -> bytes:
        source = method.upper().encode() + hubspot_uri(url).encode() + body + timestamp.encode()
        return base64.b64encode(hmac.new(key, source, hashlib.sha256).digest())

    def verify(self, request: SignedRequest, secrets: Mapping[str, str]) -> None:
        given, timestamp = request.header("X-HubSpot-Signature-v3"), request.header("X-HubSpot-Request-Timestamp")
        if not given or not timestamp:
            raise WebhookRejected("The HubSpot v3 signature headers are missing.", code="signature_missing")
        if not timestamp.isdigit() or len(timestamp) > 16:
            raise WebhookRejected("The request timestamp is not a number.", code="signature_invalid")
        age_s = request.received_at - int(timestamp) / 1000
        if age_s > self.max_age_s or age_s < -self.max_skew_s:
            raise WebhookRejected("The request timestamp is too old.", code="signature_stale",
                                  details={"max_age_s": self.max_age_s})
        expected = self.signature(_secret(secrets, self.secret_field), request.method, request.url, request.body, timestamp)
        if not _equal(expected, given.encode()):
            raise WebhookRejected("The signature does not match the request.", code="signature_invalid")


@dataclass(frozen=True)
class BasicCredentials:
    """Authorization: Basic user:password, both chosen by us when the webhook is registered
    (Pipedrive webhooks v2 have no HMAC; its docs say to protect them this way)."""

    username_field: str = "webhook_username"
    password_field: str = "webhook_password"
    kind: str = "basic"
    generated: bool = True

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return (self.username_field, self.password_field)

    def verify(self, request: SignedRequest, secrets: Mapping[str, str]) -> None:
        header = request.header("Authorization") or ""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise WebhookRejected("HTTP basic credentials are missing.", code="signature_missing")
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            raise WebhookRejected("The basic credentials are not base64.", code="signature_invalid") from None
        expected_user = _secret(secrets, self.username_field)
        expected_password = _secret(secrets, self.password_field)
        # both compared, always: no early exit that would time the username alone
        user_ok = _equal(expected_user, user)
        password_ok = _equal(expected_password, password)
        if not (sep and user_ok and password_ok):
            raise WebhookRejected("The basic credentials are wrong.", code="signature_invalid")


# -- mapping deliveries to events -----------------------------------------------------------


@dataclass(frozen=True)
class TopicRule:
    """What a topic does to a stream: upsert the record it carries, tombstone it (deletes,
    merges away, archives), fetch the current record (events that carry only an id, or whose
    order cannot be trusted), re-read the children of the record (`children`: every child
    stream of `stream` for that parent, e.g. HubSpot's associationChange), or nothing."""

    stream: str | None
    action: Action
    #: where this topic's events name the record, when not the envelope's record_id path
    #: (HubSpot's associationChange: fromObjectId)
    record_id: str | None = None


IGNORE = TopicRule(None, "ignore")


@dataclass(frozen=True)
class Envelope:
    """Dotted paths into a delivery's JSON. `batch`: the body is a list of such events
    (HubSpot); otherwise one object is one event (Intercom, Pipedrive)."""

    delivery_id: str
    #: paths whose values, joined with ".", name the topic (Pipedrive: meta.action, meta.entity)
    topic: tuple[str, ...]
    record_id: str
    #: the record the event carries, if any
    item: str | None = None
    #: when the vendor created the event (unix seconds, milliseconds or ISO 8601)
    occurred_at: str | None = None
    #: (path, value) the payload must hold (Intercom: type == notification_event)
    kind: tuple[str, str] | None = None
    batch: bool = False


@dataclass(frozen=True)
class WebhookEvent:
    """One event of a delivery, as the engine sees it."""

    delivery_id: str
    topic: str
    stream: str | None
    action: Action
    record_id: str | None
    item: dict[str, Any] | None
    occurred_at: float | None


class Registrar(Protocol):
    """Registers and removes a connection's webhook where the vendor's API allows it."""

    def register(self, client: Any, url: str, secrets: Mapping[str, str], topics: tuple[str, ...]) -> dict[str, Any]:
        """Create the subscription; return what unregister needs (ids), stored on the connection."""
        ...

    def unregister(self, client: Any, registration: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class WebhookScheme:
    """A vendor's webhooks. `topics` maps each topic to a rule; a topic not listed is
    acknowledged and ignored (vendors add topics; refusing them would make them retry)."""

    verifier: Verifier
    envelope: Envelope
    topics: Mapping[str, TopicRule]
    #: stream -> path of one record ("{id}" is the record id, URL-quoted), for fetch events
    fetch_paths: Mapping[str, str] = field(default_factory=dict)
    #: (stream, record id, the connection's config) -> the request for one record, when a
    #: static path is not enough (HubSpot: the properties each connection chose)
    fetch_request: Callable[[str, str, Mapping[str, Any]], PageRequest] | None = None
    #: an event older than this (its occurred_at) is refused as stale: a replay past the
    #: time deliveries are remembered could otherwise resurrect a deleted record
    max_age_s: float | None = None
    #: None: the webhook is configured by hand in the vendor's console (setup shows the URL)
    registrar: Registrar | None = None
    setup_url: str = ""
    setup_steps: tuple[str, ...] = ()

    @property
    def subscribed_topics(self) -> tuple[str, ...]:
        return tuple(sorted(t for t, rule in self.topics.items() if rule.action != "ignore"))

    def events(self, payload: Any) -> list[WebhookEvent]:
        """The events of a verified delivery; MalformedWebhook when it lacks what every
        delivery of this vendor has."""
        items = payload if self.envelope.batch else [payload]
        if not isinstance(items, list) or not items:
            raise MalformedWebhook("Expected a list of events." if self.envelope.batch else "Expected an object.")
        return [self._event(one) for one in items]

    def _event(self, raw: Any) -> WebhookEvent:
        env = self.envelope
        if not isinstance(raw, dict):
            raise MalformedWebhook("An event is not an object.")
        if env.kind is not None and dig(raw, env.kind[0]) != env.kind[1]:
            raise MalformedWebhook(f"{env.kind[0]} is not {env.kind[1]!r}.")
        delivery_id = _scalar(dig(raw, env.delivery_id))
        parts = [_scalar(dig(raw, path)) for path in env.topic]
        if delivery_id is None or any(p is None for p in parts):
            raise MalformedWebhook("The event has no id or topic.", details={"paths": [env.delivery_id, *env.topic]})
        topic = ".".join(str(p) for p in parts)
        rule = self.topics.get(topic, IGNORE)
        item = dig(raw, env.item) if env.item else None
        occurred = as_unix(dig(raw, env.occurred_at)) if env.occurred_at else None
        record_path = rule.record_id or env.record_id
        record_id = _scalar(dig(raw, record_path))
        if rule.action != "ignore" and record_id is None:
            raise MalformedWebhook(f"A {topic} event carries no record id.", details={"path": record_path})
        if rule.action == "upsert" and not isinstance(item, dict):
            raise MalformedWebhook(f"A {topic} event carries no record.", details={"path": env.item})
        return WebhookEvent(
            delivery_id=str(delivery_id),
            topic=topic,
            stream=rule.stream,
            action=rule.action,
            record_id=str(record_id) if record_id is not None else None,
            item=item if isinstance(item, dict) and rule.action == "upsert" else None,
            occurred_at=occurred,
        )

    def stale(self, event: WebhookEvent, now: float) -> bool:
        return self.max_age_s is not None and event.occurred_at is not None and now - event.occurred_at > self.max_age_s


def _scalar(value: Any) -> str | int | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, (str, int)):
        return value
    return None
