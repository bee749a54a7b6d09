"""Webhook secrets and registration on the real Firestore emulator, in process: a vendor
whose API registers webhooks (a demo connector with basic credentials, as Pipedrive v2)
gets its secrets generated and its webhook registered when the connection is made, the
registration kept, a failure recorded, and the webhook removed before the connection is
deleted; secrets are encrypted and rewrapped by a key rotation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from shared import crypto
from shared.config import Settings
from shared.connections import store
from shared.connections.models import Owner
from shared.vendors.errors import VendorRejected
from shared.vendors.webhooks import BasicCredentials, Envelope, TopicRule, WebhookScheme
from shared.webhooks import registration
from shared.webhooks import secrets as webhook_secrets
from tests.conftest import PROJECT
from tests.demo_connectors import DEMO_KEYS

K1 = crypto.Kek("k1", b"\x11" * 32)
K2 = crypto.Kek("k2", b"\x22" * 32)


@dataclass
class FakeRegistrar:
    registered: list[dict[str, Any]] = field(default_factory=list)
    removed: list[Mapping[str, Any]] = field(default_factory=list)
    refuse: bool = False

    def register(self, client: Any, url: str, secrets: Mapping[str, str], topics: tuple[str, ...]) -> dict[str, Any]:
        if self.refuse:
            raise VendorRejected("Demo rejected the request (400).")
        self.registered.append({"url": url, "secrets": dict(secrets), "topics": topics})
        return {"subscription_id": f"sub-{len(self.registered)}"}

    def unregister(self, client: Any, registration: Mapping[str, Any]) -> None:
        self.removed.append(dict(registration))


def demo_connector(registrar: FakeRegistrar) -> Any:
    scheme = WebhookScheme(
        verifier=BasicCredentials(),
        envelope=Envelope(delivery_id="meta.id", topic=("meta.action", "meta.entity"), record_id="meta.entity_id",
                          item="data"),
        topics={"change.item": TopicRule("items", "upsert"), "delete.item": TopicRule("items", "delete")},
        registrar=registrar,
    )
    return replace(DEMO_KEYS, webhooks=scheme)


@contextmanager
def no_client(connection: Any) -> Iterator[None]:
    yield None


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


@pytest.fixture()
def settings(settings_env: dict[str, str]) -> Settings:
    from shared.config import get_settings

    return get_settings()


def connect(db: Any, connector: Any) -> Any:
    return store.create_connection(db, crypto.Keyring([K1]), connector, environment="test", name="Demo",
                                   owner=Owner(kind="user", uid="u1"), config={"base_url": "http://127.0.0.1:1"},
                                   credentials={"api_key": "k-secret"})


def test_a_connection_made_registers_its_webhook_with_generated_secrets(db: Any, settings: Settings) -> None:
    registrar = FakeRegistrar()
    connector = demo_connector(registrar)
    connection = connect(db, connector)
    registration.after_create(settings, db, crypto.Keyring([K1]), connector, connection, open_client=no_client)

    [made] = registrar.registered
    assert made["url"] == f"{settings.function_url('webhooks')}/{connection.id}"
    assert set(made["secrets"]) == {"webhook_username", "webhook_password"}
    assert all(len(v) >= 32 for v in made["secrets"].values())
    assert made["topics"] == ("change.item", "delete.item")
    assert webhook_secrets.load(db, crypto.Keyring([K1]), connection.id) == made["secrets"]
    stored = registration.state(db, connection.id)
    assert stored["registered"] is True and stored["registration"] == {"subscription_id": "sub-1"}
    # encrypted at rest: no secret value in the document
    raw = webhook_secrets.secret_ref(db, connection.id).get().to_dict()
    assert not any(v in str(raw) for v in made["secrets"].values())
    assert raw["fields"] == ["webhook_password", "webhook_username"]

    registration.before_delete(settings, db, connector, connection, open_client=no_client)
    assert registrar.removed == [{"subscription_id": "sub-1"}]


def test_a_refused_registration_is_recorded_not_raised(db: Any, settings: Settings) -> None:
    registrar = FakeRegistrar(refuse=True)
    connector = demo_connector(registrar)
    connection = connect(db, connector)
    registration.after_create(settings, db, crypto.Keyring([K1]), connector, connection, open_client=no_client)
    stored = registration.state(db, connection.id)
    assert stored["registered"] is False and "vendor_rejected" in stored["error"]
    registration.before_delete(settings, db, connector, connection, open_client=no_client)
    assert registrar.removed == []  # nothing was registered: nothing to remove
    registrar.refuse = False
    outcome = registration.register(settings, db, crypto.Keyring([K1]), connector, connection, open_client=no_client)
    assert outcome["registered"] is True and registration.state(db, connection.id)["error"] is None


def test_webhook_secrets_are_rewrapped_by_a_key_rotation(db: Any) -> None:
    connection = connect(db, DEMO_KEYS)
    webhook_secrets.save(db, crypto.Keyring([K1]), connection.id, {"webhook_secret": "s" * 40})
    rotated = crypto.Keyring([K2, K1])
    assert store.rewrap_credentials(db, rotated) == 2  # the credentials and the webhook secret
    assert webhook_secrets.secret_ref(db, connection.id).get().to_dict()["kid"] == "k2"
    assert webhook_secrets.load(db, crypto.Keyring([K2]), connection.id) == {"webhook_secret": "s" * 40}
    assert webhook_secrets.load(db, crypto.Keyring([K2]), "other-connection") == {}
