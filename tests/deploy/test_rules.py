"""firestore.rules on the Firestore emulator, rendered the way Terraform renders it (the
allowed-domain list replaced): reads of the streams a connection's vendor serves (and its
runs) for verified users of an allowed domain who may see the connection (org: everyone;
personal: its owner and admins); nothing else, and never a write."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.deploy.conftest import REPO

pytestmark = pytest.mark.e2e

PROJECT = "demo-tributary-rules"
DOMAINS = ["example.com", "corp.example.org"]
DOCS = "projects/%s/databases/(default)/documents" % PROJECT


def rendered_rules() -> str:
    """What infra/terraform/firestore.tf publishes for allowed_domains = DOMAINS."""
    rules = (REPO / "firestore.rules").read_text()
    return re.sub(
        r"\[[^\]\n]*\]; // @allowed-domains", json.dumps(DOMAINS, separators=(",", ":")) + "; // @allowed-domains", rules
    )


def token(email: str | None = "alice@example.com", verified: bool = True, **extra: Any) -> str:
    """An unsigned ID token, which the emulator accepts (it checks rules, not signatures)."""
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": "uid-1",
        "user_id": "uid-1",
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "firebase": {"sign_in_provider": "google.com", "identities": {}},
        **({"email": email, "email_verified": verified} if email else {}),
        **extra,
    }

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _connection(vendor: str, kind: str, uid: str | None = None) -> dict[str, Any]:
    owner = {"kind": {"stringValue": kind}, **({"uid": {"stringValue": uid}} if uid else {})}
    return {"vendor": {"stringValue": vendor}, "owner": {"mapValue": {"fields": owner}}}


NAME = {"name": {"stringValue": "x"}}
SEED: dict[str, dict[str, Any]] = {
    "connections/org1": _connection("intercom", "org"),
    "connections/org1/contacts/c1": NAME,
    "connections/org1/companies/co1": NAME,
    "connections/org1/admins/a1": NAME,
    "connections/org1/conversations/v1": NAME,
    "connections/org1/runs/r1": {"status": {"stringValue": "done"}},
    "connections/org1/runs/r1/chains/contacts": {"page": {"integerValue": "3"}},
    "connections/org1/dead_letters/d1": {"error": {"stringValue": "x"}},
    "connections/org1/private/credentials": {"access_token": {"stringValue": "secret"}},
    "connections/org1/_idempotency/k1": NAME,
    "connections/org1/_views/v1": NAME,
    "connections/org1/widgets/w1": NAME,
    "connections/mine": _connection("intercom", "user", "uid-1"),
    "connections/mine/contacts/c1": NAME,
    "connections/mine/runs/r1": {"status": {"stringValue": "done"}},
    "connections/legacy": {"vendor": {"stringValue": "intercom"}},  # an engine document without an owner
    "connections/legacy/contacts/c1": NAME,
    "oauth_states/s1": {"connection_id": {"stringValue": "org1"}},
    "connections/theirs": _connection("intercom", "user", "uid-2"),
    "connections/theirs/contacts/c1": NAME,
    "connections/unknown-vendor": _connection("nope", "org"),
    "connections/unknown-vendor/contacts/c1": NAME,
    "elsewhere/x/contacts/c1": NAME,
    "_health/ping": {"ok": {"booleanValue": True}},
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from devtools.emulators import EmulatorMissing, firestore_emulator
    from devtools.processes import free_port

    rules = tmp_path_factory.mktemp("rules") / "firestore.rules"
    rules.write_text(rendered_rules())
    port = free_port()
    try:
        proc = firestore_emulator(port, tmp_path_factory.mktemp("logs"), rules=rules).start()
    except EmulatorMissing as exc:
        pytest.skip(str(exc))
    base = f"http://127.0.0.1:{port}/v1/{DOCS}"
    try:  # the emulator stops even when seeding fails
        with httpx.Client(timeout=30, headers={"Authorization": "Bearer owner"}) as admin:
            for path, fields in SEED.items():
                response = admin.patch(f"{base}/{path}", json={"fields": fields})
                assert response.status_code == 200, response.text
        yield base
    finally:
        proc.stop()


def get(base: str, path: str, bearer: str | None) -> int:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.get(f"{base}/{path}", headers=headers, timeout=30).status_code


READABLE = [
    "connections/org1/contacts/c1",
    "connections/org1/companies/co1",
    "connections/org1/admins/a1",
    "connections/org1/conversations/v1",
    "connections/org1/runs/r1",
    "connections/mine/contacts/c1",
    "connections/mine/runs/r1",
]
HIDDEN = [
    "connections/org1/runs/r1/chains/contacts",
    "connections/org1/dead_letters/d1",
    "connections/org1/private/credentials",
    "connections/org1/_idempotency/k1",
    "connections/org1/_views/v1",
    "connections/org1/widgets/w1",  # not a stream Intercom serves
    "connections/org1",
    "connections/theirs/contacts/c1",  # someone else's personal connection
    "connections/unknown-vendor/contacts/c1",
    "connections/nowhere/contacts/c1",  # no connection document
    "elsewhere/x/contacts/c1",
    "connections/legacy/contacts/c1",  # whose it is is unknown: nobody's
    "oauth_states/s1",
    "_health/ping",
]


def test_rendered_rules_have_the_domains() -> None:
    assert 'return ["example.com","corp.example.org"]; // @allowed-domains' in rendered_rules()


@pytest.mark.parametrize("path", READABLE)
def test_verified_allowed_users_read_dashboard_collections(emulator: str, path: str) -> None:
    assert get(emulator, path, token("alice@example.com")) == 200
    assert get(emulator, path, token("Bob@Corp.Example.org")) == 200


@pytest.mark.parametrize("path", READABLE)
def test_everyone_else_is_denied(emulator: str, path: str) -> None:
    assert get(emulator, path, None) == 403
    assert get(emulator, path, token("alice@example.com", verified=False)) == 403
    assert get(emulator, path, token("mallory@evil.com")) == 403
    assert get(emulator, path, token("mallory@example.com.evil.com")) == 403
    assert get(emulator, path, token("mallory@evil.com@example.com")) == 403
    assert get(emulator, path, token(None)) == 403


@pytest.mark.parametrize("path", HIDDEN)
def test_other_documents_are_not_readable(emulator: str, path: str) -> None:
    assert get(emulator, path, token("alice@example.com")) == 403


def test_personal_connection_records_follow_the_owner(emulator: str) -> None:
    mine, theirs = "connections/mine/contacts/c1", "connections/theirs/contacts/c1"
    assert get(emulator, mine, token(sub="uid-1", user_id="uid-1")) == 200
    assert get(emulator, theirs, token(sub="uid-1", user_id="uid-1")) == 403
    assert get(emulator, theirs, token(sub="uid-2", user_id="uid-2")) == 200
    assert get(emulator, theirs, token(role="admin")) == 200  # admins see every connection
    assert get(emulator, theirs, token(role="member")) == 403
    assert get(emulator, theirs, token(role=["admin"])) == 403  # a malformed claim is no admin
    url = f"{emulator}/connections/theirs/contacts"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token()}"}, timeout=30).status_code == 403
    assert httpx.get(url, headers={"Authorization": f"Bearer {token(role='admin')}"}, timeout=30).status_code == 200


def test_list_queries_follow_the_same_rule(emulator: str) -> None:
    url = f"{emulator}/connections/org1/contacts"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token()}"}, timeout=30).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {token('x@evil.com')}"}, timeout=30).status_code == 403


@pytest.mark.parametrize("path", READABLE + ["connections/org1/contacts/new", "connections/mine", "anything/else"])
def test_no_client_writes(emulator: str, path: str) -> None:
    response = httpx.patch(
        f"{emulator}/{path}",
        json={"fields": {"x": {"stringValue": "y"}}},
        headers={"Authorization": f"Bearer {token('alice@example.com', role='admin')}"},
        timeout=30,
    )
    assert response.status_code == 403, response.text
    deleted = httpx.delete(f"{emulator}/{path}", headers={"Authorization": f"Bearer {token()}"}, timeout=30)
    assert deleted.status_code == 403
