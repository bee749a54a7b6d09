"""Handlers of the webhooks and webhook-worker functions (their main.py only declare routes).

    POST /webhooks/{connection_id}          the vendor's delivery (public: the signature is the auth)
    GET  /webhooks/{connection_id}/setup    the URL to give the vendor, whether the secret is set
    PUT  /webhooks/{connection_id}/secret   save the secret (entered, or generated and shown once)
    POST /webhooks/{connection_id}/register register with the vendor again (API vendors only)
    POST /webhook-worker                    Cloud Tasks: process one remembered delivery

Secrets are write-only like credentials: the setup answer says which fields are set, never
their values; a generated secret is in the answer that generated it and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.api.body import read_body
from shared.api.endpoint import Call
from shared.connections import access
from shared.errors import ServiceUnavailable, ValidationFailed
from shared.vendors.webhooks import SignedRequest
from shared.webhooks.models import (
    Ack,
    ProcessResult,
    Registered,
    SecretSaved,
    SecretUpdate,
    WebhookSetup,
    WebhookTask,
)

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from shared.connections.models import Connection
    from shared.vendors.connector import Connector


def _db(call: Call[Any, Any]) -> Client:
    from shared.store.client import db

    return db(call.settings)


def _connection(call: Call[Any, Any], *, manage: bool) -> tuple[Connection, Connector]:
    from shared.sync.registry import connector as find_connector
    from shared.webhooks.receive import scheme_of

    load = access.manageable if manage else access.readable
    connection = load(_db(call), call.principal, call.path["connection_id"])
    connector = find_connector(connection.vendor)
    scheme_of(connector)
    return connection, connector


def signed_request(call: Call[Any, Any]) -> SignedRequest:
    """The delivery as the vendor sent it: raw bytes, the public URL it called, headers."""
    from shared.webhooks.queues import RECEIVER_FUNCTION

    request = call.request
    body = read_body(request, call.settings.max_body_bytes)
    url = call.settings.function_url(RECEIVER_FUNCTION) + request.path
    query = request.query_string.decode("latin-1")
    if query:
        url += "?" + query
    headers = {name.lower(): value for name, value in request.headers.items()}
    return SignedRequest(method=request.method, url=url, headers=headers, body=body)


def receive_webhook(call: Call[Any, Any]) -> Ack:
    """Verify the delivery, remember each event by its delivery id, enqueue it, answer."""
    from shared.webhooks.receive import deps_for, receive

    return receive(deps_for(call.settings), call.path["connection_id"], signed_request(call))


def webhook_setup(call: Call[Any, Any]) -> WebhookSetup:
    """What to paste in the vendor's console (admins, and owners of personal connections)."""
    from shared.webhooks import registration
    from shared.webhooks import secrets as webhook_secrets

    connection, connector = _connection(call, manage=True)
    scheme = connector.webhooks
    assert scheme is not None
    database = _db(call)
    wanted = list(scheme.verifier.secret_fields)
    present = set(webhook_secrets.fields_set(database, connection.id))
    state = registration.state(database, connection.id)
    return WebhookSetup(
        connection_id=connection.id,
        vendor=connection.vendor,
        url=registration.endpoint_url(call.settings, connection.id),
        verifier=scheme.verifier.kind,
        secret_fields=wanted,
        secret_set=set(wanted) <= present,
        secret_chosen_by="tributary" if scheme.verifier.generated else "vendor",
        topics=list(scheme.subscribed_topics),
        registration="api" if scheme.registrar is not None else "manual",
        registered=state.get("registered") if scheme.registrar is not None else None,
        registration_error=state.get("error"),
        setup_url=scheme.setup_url,
        steps=[step.replace("{connection_id}", connection.id) for step in scheme.setup_steps],
    )


def set_secret(call: Call[Any, SecretUpdate]) -> SecretSaved:
    """Store the connection's webhook secret (encrypted), replacing the previous one."""
    from shared.crypto import keyring_from_settings
    from shared.webhooks import secrets as webhook_secrets

    connection, connector = _connection(call, manage=True)
    scheme = connector.webhooks
    assert scheme is not None
    fields = list(scheme.verifier.secret_fields)
    body = call.body
    given = [body.secret is not None, body.values is not None, body.generate]
    if sum(given) != 1:
        raise ValidationFailed("Send exactly one of secret, values or generate.", code="secret_ambiguous")
    generated: dict[str, str] | None = None
    if body.generate:
        values = {name: webhook_secrets.generate() for name in fields}
        generated = dict(values)
    elif body.secret is not None:
        if len(fields) != 1:
            raise ValidationFailed(f"{connector.title} webhooks need values for {fields}.", code="secret_fields",
                                   details={"fields": fields})
        values = {fields[0]: body.secret.get_secret_value()}
    else:
        values = {k: v.get_secret_value() for k, v in (body.values or {}).items()}
        if set(values) != set(fields) or not all(values.values()):
            raise ValidationFailed(f"{connector.title} webhooks need values for exactly {fields}.",
                                   code="secret_fields", details={"fields": fields})
    webhook_secrets.save(_db(call), keyring_from_settings(call.settings), connection.id, values)
    return SecretSaved(secret_set=True, fields=sorted(values), generated=generated)


def register_webhook(call: Call[Any, Any]) -> Registered:
    """Register the webhook with the vendor again (vendors whose API allows it)."""
    from shared.crypto import keyring_from_settings
    from shared.webhooks import registration

    connection, connector = _connection(call, manage=True)
    outcome = registration.register(call.settings, _db(call), keyring_from_settings(call.settings), connector, connection)
    return Registered(registered=bool(outcome.get("registered")), registration_error=outcome.get("error"))


def process_delivery(call: Call[Any, WebhookTask]) -> ProcessResult:
    """Cloud Tasks' target: one delivery through the ingest path."""
    from shared.api.headers import cloud_tasks_retry_count
    from shared.webhooks.process import RetryLater, deps_for, process
    from shared.webhooks.queues import MAX_ATTEMPTS

    last_attempt = cloud_tasks_retry_count(call.request) + 1 >= MAX_ATTEMPTS
    try:
        return process(call.body, deps_for(call.settings), last_attempt=last_attempt)
    except RetryLater as exc:
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))} if exc.retry_after_s else {}
        raise ServiceUnavailable(exc.reason, code="retry_later", headers=headers) from exc
