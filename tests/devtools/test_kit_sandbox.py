"""The sandbox kit, through a vendor that is not Intercom: kitdemo (tests/fixtures/sandboxes/
kitdemo) is only records, rendering and routes, and gets keyset and numbered pages, its own
error body and rate-limit headers, 429s, faults, the /_sandbox controls, a control of its own,
the OAuth server and a webhook sender's controls from the kit. Served over HTTP (a thread of
this process, or a subprocess started from its registry descriptor)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from devtools.processes import free_port
from devtools.sandboxes import registry
from devtools.sandboxes.kit.app import WebhookMount
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.descriptor import Launch, SandboxDescriptor
from devtools.sandboxes.kit.oauth import s256
from devtools.sandboxes.kit.paging import CursorError, Ordered, keyset_page, number_page
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.kit.server import BackgroundWSGI
from tests.fixtures.sandboxes.kitdemo.app import OAUTH_CLIENT, create_app
from tests.fixtures.sandboxes.kitdemo.records import Sizes

REPO = Path(__file__).resolve().parents[2]
KITDEMO = "tests.fixtures.sandboxes.kitdemo.sandbox"
TOKEN = "kitdemo-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GENEROUS = {"per_minute": 1_000_000, "window_seconds": 10}
NO_FAULTS = {"error_rate": 0, "drop_rate": 0, "latency_ms": 0, "error_status": 500}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = create_app(Sizes(), ServerSettings(token=TOKEN, rate_limit=RateLimitConfig(**GENEROUS)))
    with BackgroundWSGI(app) as served:
        yield served.base_url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    """A client with the token, on fresh data, no faults and a generous limit."""
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=10) as client:
        client.post("/_sandbox/reset", json={"notes": 200, "people": 40, "seed": 1}).raise_for_status()
        client.post("/_sandbox/faults", json=NO_FAULTS).raise_for_status()
        client.post("/_sandbox/rate_limit", json=GENEROUS).raise_for_status()
        yield client


def walk_notes(api: httpx.Client, limit: int, between: Any = None) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        page = api.get("/v1/notes", params=params)
        assert page.status_code == 200, page.text
        seen.extend(page.json()["results"])
        after = (page.json().get("paging") or {}).get("next", {}).get("after")
        if not after:
            return seen
        if between is not None:
            between()
            between = None
        params = {"limit": limit, "after": after}


def test_keyset_pages_walk_every_note_once_even_when_notes_change_midway(api: httpx.Client) -> None:
    assert walk_notes(api, 17) == walk_notes(api, 100), "page boundaries change nothing"
    total = api.get("/_sandbox/counts").json()["notes"]
    touched: list[str] = []

    def touch() -> None:
        touched.extend(api.post("/_sandbox/mutate", json={"notes_updated": 5}).json()["notes_updated"])

    walked = walk_notes(api, 17, between=touch)
    ids = [n["id"] for n in walked]
    assert len(set(ids)) == total, "nothing skipped"
    twice = {i for i in ids if ids.count(i) > 1}
    assert twice <= set(touched), "only records updated behind the cursor come again"
    assert set(ids[-5:]) == set(touched), "updated records move to the end of the keyset"
    bad = api.get("/v1/notes", params={"after": "garbage!"})
    assert bad.status_code == 400
    assert bad.json() == {"status": "error", "category": "VALIDATION_ERROR",
                          "message": "after 'garbage!' is not a valid cursor"}
    assert "X-Demo-RateLimit-Remaining" in bad.headers


def test_numbered_pages_end_with_a_null_next_and_stop_at_the_cap(api: httpx.Client) -> None:
    pages = [api.get("/v1/people", params={"page": p, "per_page": 10}).json() for p in (1, 2, 3, 4)]
    names = [p["name"] for page in pages for p in page["data"]]
    assert len(names) == 40 and names == sorted(names)
    assert [page["meta"]["next_page"] for page in pages] == [2, 3, 4, None]
    api.post("/_sandbox/reset", json={"people": 80}).raise_for_status()
    capped = api.get("/v1/people", params={"page": 3, "per_page": 20}).json()
    assert len(capped["data"]) == 10 and capped["meta"]["total"] == 80, "no page reaches past the cap"
    refused = api.get("/v1/people", params={"page": 6, "per_page": 10})
    assert refused.status_code == 400 and refused.json()["category"] == "PAGE_LIMIT"


def test_429_carries_the_vendors_headers_and_retry_after(api: httpx.Client) -> None:
    window = 60
    if window - time.time() % window < 3:  # do not straddle a window boundary
        time.sleep(window - time.time() % window + 0.1)
    api.post("/_sandbox/rate_limit", json={"per_minute": 3, "window_seconds": window}).raise_for_status()
    seen = [api.get("/v1/notes/n00001") for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["X-Demo-RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
    assert {r.headers["X-Demo-RateLimit-Max"] for r in seen} == {"3"}
    assert 1 <= int(seen[-1].headers["X-Demo-RateLimit-Reset"]) <= window  # seconds left, not a date
    assert seen[-1].headers["Retry-After"] == seen[-1].headers["X-Demo-RateLimit-Reset"]
    assert "Retry-After" not in seen[0].headers
    assert seen[-1].json() == {"status": "error", "category": "RATE_LIMITS",
                               "message": "You have reached your 60-second limit."}
    assert api.get("/_sandbox/stats").json()["rate_limited"] == 1  # controls are never limited


def test_faults_answer_in_the_vendors_body_drop_connections_and_add_latency(api: httpx.Client) -> None:
    api.post("/_sandbox/faults", json={"error_rate": 1, "error_status": 502}).raise_for_status()
    failed = api.get("/v1/notes")
    assert failed.status_code == 502
    assert failed.json() == {"status": "error", "category": "bad_gateway", "message": "injected by the sandbox"}
    api.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 1}).raise_for_status()
    with pytest.raises(httpx.TransportError):
        api.get("/v1/notes")
    api.post("/_sandbox/faults", json={"drop_rate": 0, "latency_ms": 120}).raise_for_status()
    started = time.monotonic()
    assert api.get("/v1/notes").status_code == 200
    assert time.monotonic() - started >= 0.12
    stats = api.get("/_sandbox/stats").json()
    assert (stats["injected_errors"], stats["dropped_connections"]) == (1, 1)
    refused = api.post("/_sandbox/faults", json={"error_rate": 2})
    assert refused.status_code == 400 and refused.json()["category"] == "parameter_invalid"


def test_control_endpoints_need_no_credentials_and_include_the_vendors_own(base_url: str, api: httpx.Client) -> None:
    bare = httpx.Client(base_url=base_url, timeout=10)
    assert api.get("/v1/notes", headers={"Authorization": "Bearer wrong"}).json() == {
        "status": "error", "category": "INVALID_AUTHENTICATION", "message": "Authentication credentials not found."}
    assert bare.get("/_sandbox/counts").json() == {"notes": 200, "people": 40, "clock": 1_767_225_600}
    changed = bare.post("/_sandbox/mutate", json={"notes_updated": 2}).json()
    assert len(changed["notes_updated"]) == 2 and changed["now"] > 1_767_225_600
    stats = bare.get("/_sandbox/stats").json()
    assert stats["clock"] == changed["now"] and stats["unauthorized"] == 1
    assert stats["requests_by_path"] == {"GET /v1/notes": 1}
    assert set(stats) >= {"faults", "rate_limit", "responses_by_status", "rate_limited"}
    assert bare.get("/_sandbox/rate_limit").json() == {**GENEROUS, "per_window": 166_667}
    reset = bare.post("/_sandbox/reset", json={"notes": 12, "seed": 3}).json()
    assert reset["counts"]["notes"] == 12 and reset["sizes"] == {"notes": 12, "people": 40, "seed": 3}
    assert bare.get("/_sandbox/stats").json()["requests"] == 0, "a reset clears the counters"
    assert bare.post("/_sandbox/reset", json={"shoe_size": 1}).status_code == 400
    missing = bare.get("/_sandbox/nothing")
    assert missing.status_code == 404 and missing.json()["category"] == "not_found"
    assert bare.delete("/_sandbox/stats").status_code == 405


def test_the_oauth_server_is_mounted_and_its_tokens_open_the_api(base_url: str, api: httpx.Client) -> None:
    api.post("/_sandbox/rate_limit", json={"per_minute": 1, "window_seconds": 60}).raise_for_status()
    redirect = OAUTH_CLIENT.redirect_uris[0]
    params = {"response_type": "code", "client_id": OAUTH_CLIENT.client_id, "redirect_uri": redirect,
              "state": "s1", "code_challenge": s256("v" * 50), "code_challenge_method": "S256"}
    consent = httpx.get(f"{base_url}/oauth/authorize", params=params)
    assert consent.status_code == 302
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    token = httpx.post(f"{base_url}/oauth/token", auth=(OAUTH_CLIENT.client_id, OAUTH_CLIENT.client_secret),
                       data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                             "code_verifier": "v" * 50})
    assert token.status_code == 200, "the OAuth endpoints are not rate limited"
    api.post("/_sandbox/rate_limit", json=GENEROUS).raise_for_status()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert httpx.get(f"{base_url}/v1/notes", headers=bearer).status_code == 200
    assert api.get("/_sandbox/oauth").json()["stats"] == {"authorize": 1, "token:authorization_code": 1}
    api.post("/_sandbox/oauth", json={"revoke_all": True}).raise_for_status()
    assert httpx.get(f"{base_url}/v1/notes", headers=bearer).status_code == 401
    assert api.get("/v1/notes").status_code == 200, "the static token still works"
    api.post("/_sandbox/oauth", json={"deny_next_authorize": True}).raise_for_status()
    denied = httpx.get(f"{base_url}/oauth/authorize", params=params)
    assert parse_qs(urlsplit(denied.headers["Location"]).query)["error"] == ["access_denied"]
    assert api.post("/_sandbox/oauth", json={"revoke_all": "yes"}).status_code == 400


class FakeSender:
    """The smallest webhook sender: what the app requires of kit/webhooks.py."""

    prefix = "/_sandbox/webhooks"

    def __init__(self, claims: str = "/_sandbox/webhooks") -> None:
        self.claims = claims
        self.sent: list[dict[str, Any]] = []

    def handles(self, request: Request) -> bool:
        return request.path == self.claims or request.path.startswith(self.claims + "/")

    def dispatch(self, request: Request) -> Response:
        if request.method == "POST":
            self.sent.append({"path": request.path, "body": request.get_json()})
        return Response(json.dumps({"sent": self.sent}), mimetype="application/json")


def test_a_webhook_sender_is_held_and_answers_its_control_paths() -> None:
    sender = FakeSender()
    assert isinstance(sender, WebhookMount)
    app = create_app(Sizes(notes=3, people=1), webhooks=sender)
    assert app.webhooks is sender
    with BackgroundWSGI(app) as served, httpx.Client(base_url=served.base_url) as bare:
        sent = bare.post("/_sandbox/webhooks/send", json={"id": "n00001"}).json()
        assert sent == {"sent": [{"path": "/_sandbox/webhooks/send", "body": {"id": "n00001"}}]}
        assert bare.get("/_sandbox/webhooks").json() == sent
        assert bare.get("/_sandbox/counts").json()["notes"] == 3, "the kit's controls are still there"
        assert bare.get("/_sandbox/stats").json()["requests"] == 0, "controls are not API requests"
    greedy = create_app(Sizes(notes=3, people=1), webhooks=FakeSender(claims="/v1"))
    with BackgroundWSGI(greedy) as served:
        assert httpx.get(f"{served.base_url}/v1/notes", headers=AUTH).json()["total"] == 3, \
            "a sender is offered control paths only"


def test_keyset_paging_descends_from_the_same_sort_and_refuses_foreign_cursors() -> None:
    ordered = Ordered.of(range(10), lambda n: (n % 3, n))
    first = keyset_page(ordered, 4, None, descending=True)
    assert first.items == [8, 5, 2, 7] and first.next_cursor is not None
    second = keyset_page(ordered, 4, first.next_cursor, descending=True)
    rest = keyset_page(ordered, 4, second.next_cursor, descending=True)
    assert second.items + rest.items == [4, 1, 9, 6, 3, 0] and rest.next_cursor is None and rest.page == 3
    strings = Ordered.of(["a", "b"], lambda s: (s,))
    with pytest.raises(CursorError, match="does not belong to this query"):
        keyset_page(strings, 1, first.next_cursor)
    assert number_page(list(range(7)), 3, 3).items == [6] and number_page(list(range(7)), 3, 3).is_last


# -- the registry, and sandboxes started from their descriptors ------------------------------


def test_the_registry_finds_every_sandbox_and_each_matches_a_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.sync.registry import vendors as connector_vendors

    assert "intercom" in registry.vendors()
    assert set(registry.vendors()) <= set(connector_vendors()), "a sandbox is named after its connector"
    monkeypatch.delenv(registry.EXTRA_ENV, raising=False)
    assert [d.vendor for d in registry.all_sandboxes()] == list(registry.vendors())
    monkeypatch.setenv(registry.EXTRA_ENV, f" {KITDEMO} ,")
    assert [d.vendor for d in registry.all_sandboxes()][-1] == "kitdemo"
    with pytest.raises(ValueError, match="two sandboxes for vendor 'kitdemo'"):
        registry.all_sandboxes([KITDEMO, KITDEMO])
    with pytest.raises(TypeError, match="must define SANDBOX"):
        registry.all_sandboxes(["tests.fixtures.sandboxes.kitdemo.records"])
    with pytest.raises(KeyError):
        registry.descriptor("kitdemo")  # extras are not the repository's


def test_a_descriptor_gives_the_command_line_and_the_connection_body() -> None:
    (kitdemo,) = registry.all_sandboxes([KITDEMO])[-1:]
    launch = Launch(port=1234, size={"notes": 5, "contacts": 9}, seed=3, rate_limit=600)
    assert kitdemo.argv(launch, python="py") == [
        "py", "-m", "tests.fixtures.sandboxes.kitdemo", "--host", "127.0.0.1", "--port", "1234",
        "--token", "kitdemo-token", "--notes", "5", "--seed", "3", "--rate-limit", "600"]
    assert kitdemo.connection("http://127.0.0.1:1234") == {
        "vendor": "kitdemo", "name": "Sandbox Kitdemo", "owner": "org",
        "config": {"base_url": "http://127.0.0.1:1234"}, "credentials": {"access_token": "kitdemo-token"}}
    assert registry.descriptor("intercom").connection("http://x", token="t", name="N")["credentials"] == {
        "access_token": "t"}


SMALL = {"contacts": 20, "companies": 5, "admins": 2, "conversations": 20, "notes": 30, "people": 5, "leads": 7, "issues": 30, "accounts": 5, "persons": 5,
         "deals": 6, "sf_contacts": 8, "opportunities": 4}


@pytest.mark.parametrize("sandbox", registry.all_sandboxes([KITDEMO]), ids=lambda d: d.vendor)
def test_every_registered_sandbox_starts_from_its_descriptor(sandbox: SandboxDescriptor) -> None:
    """What the stack and the harness do for each sandbox, with no line of their own for it."""
    port = free_port()
    launch = Launch(port=port, size=SMALL, seed=5, rate_limit=900)
    proc = subprocess.Popen(sandbox.argv(launch), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    try:
        ready = proc.stdout.readline()
        assert f"{sandbox.vendor} sandbox ready on http://127.0.0.1:{port}" in ready, ready
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            counts = client.get("/_sandbox/counts").json()
            assert {k: counts[k] for k in sandbox.sizes} == sandbox.sizes_for(SMALL)
            assert client.get("/_sandbox/rate_limit").json()["per_minute"] == 900
            assert client.get("/no/such/path").status_code == 401
            assert client.get("/no/such/path", headers=sandbox.headers(sandbox.token)).status_code == 404
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
        output = proc.stdout.read()
        proc.stdout.close()
    assert code == 0, "SIGTERM must shut the sandbox down cleanly"
    assert f"{sandbox.vendor} sandbox stopped" in output


def test_api_keys_in_a_header_or_the_query_and_server_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from werkzeug.test import EnvironBuilder

    from devtools.sandboxes.kit.auth import ApiKeyAuth
    from devtools.sandboxes.kit.cli import Env

    def request(headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Request:
        return Request(EnvironBuilder(path="/x", headers=headers, query_string=query).get_environ())

    auth = ApiKeyAuth(["k1"], header="X-Api-Key", query="api_token")
    assert auth(request({"X-Api-Key": "k1"})) and auth(request(query={"api_token": "k1"}))
    assert not auth(request({"X-Api-Key": "k2"})) and not auth(request()) and not auth(request({"X-Api-Key": ""}))
    with pytest.raises(ValueError):
        ApiKeyAuth(["k1"])
    monkeypatch.setenv("DEMO_SANDBOX_RATE_LIMIT", "600")
    monkeypatch.setenv("DEMO_SANDBOX_ERROR_STATUS", "503")
    monkeypatch.setenv("DEMO_SANDBOX_TOKEN", "")
    settings = Env("DEMO_SANDBOX_").server_settings()
    assert (settings.rate_limit.per_minute, settings.faults.error_status, settings.token) == (600, 503, "sandbox-token")
    monkeypatch.setenv("DEMO_SANDBOX_DROP_RATE", "2")
    with pytest.raises(ValueError, match="drop_rate"):
        Env("DEMO_SANDBOX_").server_settings()
