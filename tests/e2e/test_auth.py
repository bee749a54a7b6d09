"""Sign-in over the wire: real RS256 tokens, verified by firebase-admin against the
certificate set the local identity serves. Every bad token is refused with its code."""

from __future__ import annotations

import time

import httpx
import pytest
from google.auth import crypt

from devtools.identity import IdentityServer, LocalIdentity
from tests.conftest import PROJECT, SCHEDULER_SA, TASKS_SA


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]


def test_valid_token_of_allowed_domain_reaches_protected_function(api: httpx.Client, identity: IdentityServer) -> None:
    token = identity.identity.id_token("ada@example.com", role="admin", uid="u-ada")
    response = api.get("/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"uid": "u-ada", "email": "ada@example.com", "role": "admin"}


def test_missing_role_claim_means_member(api: httpx.Client, identity: IdentityServer) -> None:
    token = identity.identity.id_token("bob@example.com", role=None)
    assert api.get("/me", headers=bearer(token)).json()["role"] == "member"


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, "token_missing"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "token_malformed"),
        ({"Authorization": "Bearer"}, "token_malformed"),
        ({"Authorization": "Bearer not-a-jwt"}, "token_malformed"),
        ({"Authorization": "Bearer a.b.c"}, "token_invalid"),
    ],
)
def test_missing_and_malformed_authorization(api: httpx.Client, headers: dict[str, str], code: str) -> None:
    response = api.get("/me", headers=headers)
    assert_error(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_forged_signature_is_rejected(api: httpx.Client, identity: IdentityServer) -> None:
    forger = LocalIdentity(PROJECT)
    # Same kid as the real key, signed with another key: only the signature check can catch it.
    signer = crypt.RSASigner.from_string(forger.key_pem, key_id=identity.identity.kid)
    token = identity.identity.sign(identity.identity.id_token_claims("eve@example.com"), signer=signer)
    assert_error(api.get("/me", headers=bearer(token)), 401, "token_invalid")


def test_unknown_key_id_is_rejected(api: httpx.Client) -> None:
    token = LocalIdentity(PROJECT).id_token("eve@example.com")
    assert_error(api.get("/me", headers=bearer(token)), 401, "token_invalid")


def test_expired_token(api: httpx.Client, identity: IdentityServer) -> None:
    now = int(time.time())
    claims = identity.identity.id_token_claims("ada@example.com", iat=now - 7200, exp=now - 3600, auth_time=now - 7200)
    assert_error(api.get("/me", headers=bearer(identity.identity.sign(claims))), 401, "token_expired")


def test_token_issued_in_the_future(api: httpx.Client, identity: IdentityServer) -> None:
    now = int(time.time())
    claims = identity.identity.id_token_claims("ada@example.com", iat=now + 600, exp=now + 4200)
    assert_error(api.get("/me", headers=bearer(identity.identity.sign(claims))), 401, "token_invalid")


def test_wrong_audience(api: httpx.Client, identity: IdentityServer) -> None:
    claims = identity.identity.id_token_claims("ada@example.com", aud="another-project")
    assert_error(api.get("/me", headers=bearer(identity.identity.sign(claims))), 401, "token_invalid")


def test_wrong_issuer(api: httpx.Client, identity: IdentityServer) -> None:
    claims = identity.identity.id_token_claims("ada@example.com", iss="https://securetoken.google.com/another-project")
    assert_error(api.get("/me", headers=bearer(identity.identity.sign(claims))), 401, "token_invalid")


def test_wrong_domain(api: httpx.Client, identity: IdentityServer) -> None:
    token = identity.identity.id_token("mallory@example.org")
    assert_error(api.get("/me", headers=bearer(token)), 403, "domain_not_allowed")


def test_lookalike_domain(api: httpx.Client, identity: IdentityServer) -> None:
    token = identity.identity.id_token("mallory@evil-example.com")
    assert_error(api.get("/me", headers=bearer(token)), 403, "domain_not_allowed")


def test_unverified_email(api: httpx.Client, identity: IdentityServer) -> None:
    token = identity.identity.id_token("ada@example.com", email_verified=False)
    assert_error(api.get("/me", headers=bearer(token)), 403, "email_not_verified")


def test_google_oidc_token_is_not_a_user_token(api: httpx.Client, identity: IdentityServer, functions_url: str) -> None:
    token = identity.identity.oidc_token(f"{functions_url}/me", SCHEDULER_SA)
    assert_error(api.get("/me", headers=bearer(token)), 401, "token_invalid")


def test_service_identities_are_configured_apart() -> None:
    assert SCHEDULER_SA != TASKS_SA


@pytest.mark.parametrize("role", [["admin"], {"admin": True}, ["member"], {}, [], 2, True])
def test_role_claim_that_is_not_a_string_is_403(api: httpx.Client, identity: IdentityServer, role: object) -> None:
    """A custom claim set by hand to a list or a map (unhashable: a 500 before) is refused."""
    claims = identity.identity.id_token_claims("ada@example.com")
    claims["role"] = role
    assert_error(api.get("/me", headers=bearer(identity.identity.sign(claims))), 403, "forbidden")


def test_unknown_role_string_means_member(api: httpx.Client, identity: IdentityServer) -> None:
    token = identity.identity.id_token("bob@example.com", role="superuser")
    assert api.get("/me", headers=bearer(token)).json()["role"] == "member"
