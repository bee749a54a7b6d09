"""The sandbox kit's OAuth 2 server: authorize, code + PKCE, rotating refresh, expiry,
revocation, RFC 6749 error bodies (werkzeug test client, and once served over HTTP)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from werkzeug.test import Client

from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer, s256
from devtools.sandboxes.kit.server import BackgroundWSGI

REDIRECT = "https://app.example.com/oauth-callback"
VERIFIER = "v" * 50


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> OAuthServer:
    return OAuthServer([OAuthClient("cid", "csecret", (REDIRECT,))], access_token_ttl_s=60, clock=clock)


@pytest.fixture
def client(server: OAuthServer) -> Client:
    return Client(server.wsgi_app())


def authorize(client: Client, **overrides: str) -> Any:
    params = {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    return client.get("/oauth/authorize", query_string=params)


def code_from(response: Any) -> str:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def token(client: Client, auth: tuple[str, str] | None = None, **form: str) -> Any:
    if auth is None:
        form = {"client_id": "cid", "client_secret": "csecret", **form}
        return client.post("/oauth/token", data=form)
    import base64

    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return client.post("/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})


def exchange(client: Client, code: str, verifier: str = VERIFIER) -> Any:
    return token(
        client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=verifier
    )


def assert_oauth_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == error and isinstance(body["error_description"], str)
    assert response.headers["Cache-Control"] == "no-store"


def test_code_flow_with_pkce_gives_tokens_that_expire(
    client: Client, server: OAuthServer, clock: Clock
) -> None:
    response = exchange(client, code_from(authorize(client, scope="a b")))
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60 and body["scope"] == "a b"
    assert server.is_valid_access_token(body["access_token"])
    clock.now += 61
    assert not server.is_valid_access_token(body["access_token"])
    assert not server.is_valid_access_token(None) and not server.is_valid_access_token("made-up")


def test_codes_are_single_use_and_expire(client: Client, clock: Clock) -> None:
    code = code_from(authorize(client))
    assert exchange(client, code).status_code == 200
    assert_oauth_error(exchange(client, code), 400, "invalid_grant")
    late = code_from(authorize(client))
    clock.now += 601
    assert_oauth_error(exchange(client, late), 400, "invalid_grant")


def test_pkce_verifier_must_match(client: Client) -> None:
    assert_oauth_error(
        exchange(client, code_from(authorize(client)), verifier="w" * 50), 400, "invalid_grant"
    )
    response = token(
        client, grant_type="authorization_code", code=code_from(authorize(client)), redirect_uri=REDIRECT
    )
    assert_oauth_error(response, 400, "invalid_grant")
    # without a challenge, no verifier is needed (confidential clients without PKCE)
    params = {"response_type": "code", "client_id": "cid", "redirect_uri": REDIRECT, "state": "st-1"}
    plain = client.get("/oauth/authorize", query_string=params)
    form = {"grant_type": "authorization_code", "code": code_from(plain), "redirect_uri": REDIRECT}
    assert token(client, **form).status_code == 200


def test_authorize_checks_client_and_exact_redirect_uri_without_redirecting(client: Client) -> None:
    assert_oauth_error(authorize(client, client_id="nope"), 400, "invalid_client")
    assert_oauth_error(authorize(client, redirect_uri=REDIRECT + "/evil"), 400, "invalid_request")
    assert_oauth_error(authorize(client, redirect_uri="https://evil.example.com/cb"), 400, "invalid_request")
    # other errors go back to the client, with the state
    bad = authorize(client, response_type="token")
    assert bad.status_code == 302 and "error=unsupported_response_type" in bad.headers["Location"]


def test_deny_redirects_with_access_denied(client: Client, server: OAuthServer) -> None:
    server.deny_next_authorize()
    response = authorize(client)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["st-1"]}
    assert "code" in parse_qs(urlsplit(authorize(client).headers["Location"]).query)  # only once


def test_refresh_tokens_rotate_and_work_once(client: Client, server: OAuthServer) -> None:
    first = exchange(client, code_from(authorize(client))).get_json()
    second = token(client, grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    assert (
        second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    )
    assert_oauth_error(
        token(client, grant_type="refresh_token", refresh_token=first["refresh_token"]), 400, "invalid_grant"
    )
    third = token(client, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200
    assert server.stats["token:refresh_token"] == 3 and server.stats["token:authorization_code"] == 1


def test_client_authentication_basic_or_body(client: Client) -> None:
    code = code_from(authorize(client))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    assert token(client, auth=("cid", "csecret"), **form).status_code == 200
    assert_oauth_error(token(client, auth=("cid", "wrong"), **form), 401, "invalid_client")
    response = client.post("/oauth/token", data={**form, "client_id": "cid", "client_secret": "nope"})
    assert_oauth_error(response, 401, "invalid_client")
    assert_oauth_error(token(client, grant_type="password"), 400, "unsupported_grant_type")


def test_revocation_kills_the_grant(client: Client, server: OAuthServer) -> None:
    tokens = exchange(client, code_from(authorize(client))).get_json()
    response = client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "client_id": "cid", "client_secret": "csecret"},
    )
    assert response.status_code == 200
    assert not server.is_valid_access_token(tokens["access_token"])
    assert_oauth_error(
        token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]), 400, "invalid_grant"
    )
    other = exchange(client, code_from(authorize(client))).get_json()
    server.revoke_all()
    assert_oauth_error(
        token(client, grant_type="refresh_token", refresh_token=other["refresh_token"]), 400, "invalid_grant"
    )


def test_served_over_http_with_extra_token_fields() -> None:
    server = OAuthServer(
        [OAuthClient("cid", "csecret", (REDIRECT,))], extra_token_fields={"instance_url": "https://x.example"}
    )
    with BackgroundWSGI(server.wsgi_app()) as served, httpx.Client(base_url=served.base_url) as http:
        params = {"response_type": "code", "client_id": "cid", "redirect_uri": REDIRECT, "state": "s"}
        redirect = http.get("/oauth/authorize", params=params)
        assert redirect.status_code == 302
        code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
        answer = http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=("cid", "csecret"),
        )
        assert answer.status_code == 200 and answer.json()["instance_url"] == "https://x.example"
        assert http.get("/elsewhere").status_code == 404
