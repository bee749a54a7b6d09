"""firestore.rules on the Firestore emulator, rendered the way Terraform renders it (the
allowed-domain list replaced): reads of dashboard collections for verified users of an
allowed domain only; nothing else, and never a write."""

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
    seed = {
        "connections/intercom/contacts/c1": {"name": {"stringValue": "Ada"}},
        "connections/intercom/companies/co1": {"name": {"stringValue": "Acme"}},
        "connections/intercom/admins/a1": {"name": {"stringValue": "Op"}},
        "connections/intercom/conversations/v1": {"state": {"stringValue": "open"}},
        "connections/intercom/runs/r1": {"status": {"stringValue": "done"}},
        "connections/intercom/runs/r1/chains/contacts": {"page": {"integerValue": "3"}},
        "connections/intercom/dead_letters/d1": {"error": {"stringValue": "x"}},
        "connections/intercom": {"vendor": {"stringValue": "intercom"}},
        "connections/intercom/private/credentials": {"ciphertext": {"stringValue": "x"}},
        "oauth_states/s1": {"connection_id": {"stringValue": "intercom"}},
        "connections/org-1": {"owner": {"mapValue": {"fields": {"kind": {"stringValue": "org"}}}}},
        "connections/org-1/contacts/c1": {"name": {"stringValue": "Ada"}},
        "connections/mine-1": {"owner": {"mapValue": {"fields": {
            "kind": {"stringValue": "user"}, "uid": {"stringValue": "uid-1"}}}}},
        "connections/mine-1/contacts/c1": {"name": {"stringValue": "Ada"}},
        "connections/mine-1/runs/r1": {"status": {"stringValue": "done"}},
        "_health/ping": {"ok": {"booleanValue": True}},
    }
    with httpx.Client(timeout=10, headers={"Authorization": "Bearer owner"}) as admin:
        for path, fields in seed.items():
            response = admin.patch(f"{base}/{path}", json={"fields": fields})
            assert response.status_code == 200, response.text
    yield base
    proc.stop()


def get(base: str, path: str, bearer: str | None) -> int:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.get(f"{base}/{path}", headers=headers, timeout=10).status_code


READABLE = [
    "connections/intercom/contacts/c1",
    "connections/intercom/companies/co1",
    "connections/intercom/admins/a1",
    "connections/intercom/conversations/v1",
    "connections/intercom/runs/r1",
    "connections/org-1/contacts/c1",
]
HIDDEN = [
    "connections/intercom/runs/r1/chains/contacts",
    "connections/intercom/dead_letters/d1",
    "connections/intercom",
    "connections/intercom/private/credentials",
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


def test_list_queries_follow_the_same_rule(emulator: str) -> None:
    url = f"{emulator}/connections/intercom/contacts"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token()}"}, timeout=10).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {token('x@evil.com')}"}, timeout=10).status_code == 403


@pytest.mark.parametrize("path", READABLE + ["connections/intercom/contacts/new", "anything/else"])
def test_no_client_writes(emulator: str, path: str) -> None:
    response = httpx.patch(
        f"{emulator}/{path}",
        json={"fields": {"x": {"stringValue": "y"}}},
        headers={"Authorization": f"Bearer {token('alice@example.com', role='admin')}"},
        timeout=10,
    )
    assert response.status_code == 403, response.text
    deleted = httpx.delete(f"{emulator}/{path}", headers={"Authorization": f"Bearer {token()}"}, timeout=10)
    assert deleted.status_code == 403


@pytest.mark.parametrize("path", ["connections/mine-1/contacts/c1", "connections/mine-1/runs/r1"])
def test_personal_connections_are_read_by_their_owner_and_admins_only(emulator: str, path: str) -> None:
    assert get(emulator, path, token("alice@example.com")) == 200  # sub uid-1: the owner
    bob = token("bob@example.com", sub="uid-2", user_id="uid-2")
    assert get(emulator, path, bob) == 403
    assert get(emulator, path, token("ops@example.com", sub="uid-3", user_id="uid-3", role="admin")) == 200
    listed = httpx.get(f"{emulator}/connections/mine-1/contacts", headers={"Authorization": f"Bearer {bob}"}, timeout=10)
    assert listed.status_code == 403
