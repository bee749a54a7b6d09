"""The vendor client against a scripted transport (httpx's own MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from shared.vendors.auth import BearerToken, StaticAuth
from shared.vendors.errors import VendorAuthFailed, VendorRateLimited, VendorUnavailable
from shared.vendors.http import VendorClient
from shared.vendors.intercom.connector import CONNECTOR, IntercomConfig
from shared.vendors.pagination import PageRequest


def client_for(responses: list, sleeps: list[float]) -> VendorClient:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    client = VendorClient(
        CONNECTOR,
        IntercomConfig(base_url="https://intercom.test"),
        auth=StaticAuth(BearerToken().wire({"access_token": "tok-123"})),
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
    )
    client.seen = seen  # type: ignore[attr-defined]
    return client


def test_retries_5xx_and_network_errors_then_succeeds() -> None:
    sleeps: list[float] = []
    client = client_for(
        [httpx.Response(503), httpx.ConnectError("reset"), httpx.Response(200, json={"data": [1]})], sleeps
    )
    assert client.fetch(PageRequest(path="/contacts")) == {"data": [1]}
    assert client.stats.requests == 3 and client.stats.retries == 2
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0] / 2


def test_honours_retry_after_on_429() -> None:
    sleeps: list[float] = []
    client = client_for([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})], sleeps)
    client.fetch(PageRequest(path="/contacts"))
    assert sleeps == [3.0]
    assert client.stats.rate_limited == 1


def test_long_rate_limit_wait_is_handed_back_not_slept() -> None:
    sleeps: list[float] = []
    client = client_for([httpx.Response(429, headers={"Retry-After": "120"})], sleeps)
    with pytest.raises(VendorRateLimited) as info:
        client.fetch(PageRequest(path="/contacts"))
    assert info.value.retry_after_s == 120 and info.value.transient
    assert sleeps == []


def test_gives_up_with_transient_error_after_max_attempts() -> None:
    sleeps: list[float] = []
    client = client_for([httpx.Response(502)] * CONNECTOR.retry.max_attempts, sleeps)
    with pytest.raises(VendorUnavailable):
        client.fetch(PageRequest(path="/contacts"))
    assert client.stats.requests == CONNECTOR.retry.max_attempts


def test_auth_failure_is_terminal_and_sends_headers() -> None:
    sleeps: list[float] = []
    client = client_for([httpx.Response(401, json={"type": "error.list"})], sleeps)
    with pytest.raises(VendorAuthFailed) as info:
        client.fetch(PageRequest(path="/contacts"))
    assert not info.value.transient
    request = client.seen[0]  # type: ignore[attr-defined]
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["Intercom-Version"] == "2.14"
    assert "tok-123" not in info.value.message


def test_paces_when_remaining_budget_is_low() -> None:
    import time

    sleeps: list[float] = []
    reset = str(int(time.time()) + 10)
    low = {"X-RateLimit-Limit": "166", "X-RateLimit-Remaining": "4", "X-RateLimit-Reset": reset}
    client = client_for([httpx.Response(200, json={}, headers=low), httpx.Response(200, json={})], sleeps)
    client.fetch(PageRequest(path="/contacts"))
    client.fetch(PageRequest(path="/contacts"))
    assert len(sleeps) == 1 and 1.0 < sleeps[0] <= 2.5


def test_hands_the_page_back_when_a_retry_would_cross_the_deadline() -> None:
    import time

    sleeps: list[float] = []
    client = client_for([httpx.Response(503), httpx.Response(200, json={})], sleeps)
    client.deadline = time.monotonic() + 5  # less than one more attempt's timeout (30 s)
    with pytest.raises(VendorUnavailable) as info:
        client.fetch(PageRequest(path="/contacts"))
    assert info.value.transient and "time budget" in info.value.message
    assert sleeps == [] and client.stats.requests == 1


def test_a_request_is_only_ever_a_path_on_the_connection_host() -> None:
    from pydantic import ValidationError

    for path in ("http://127.0.0.1:9999/steal", "//evil.test/x", "steal"):
        with pytest.raises(ValidationError):
            PageRequest(path=path)


class RotatingAuth:
    """Credentials refreshed once after a 401 (as OAuth tokens are)."""

    def __init__(self) -> None:
        self.token, self.refreshes = "old", 0

    def current(self):  # type: ignore[no-untyped-def]
        return BearerToken().wire({"access_token": self.token})

    def refresh(self) -> bool:
        self.refreshes += 1
        self.token = "new"
        return True


def test_a_401_refreshes_the_credentials_once_and_retries() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ok = request.headers["Authorization"] == "Bearer new"
        return httpx.Response(200, json={"ok": True}) if ok else httpx.Response(401)

    auth = RotatingAuth()
    client = VendorClient(CONNECTOR, IntercomConfig(base_url="https://intercom.test"), auth=auth,
                          transport=httpx.MockTransport(handler), sleep=lambda s: None)
    assert client.fetch(PageRequest(path="/me")) == {"ok": True}
    assert auth.refreshes == 1 and [r.headers["Authorization"] for r in seen] == ["Bearer old", "Bearer new"]
    auth.token = "revoked"
    auth.refresh = lambda: False  # type: ignore[method-assign]
    with pytest.raises(VendorAuthFailed):
        client.fetch(PageRequest(path="/me"))


def test_a_body_that_is_not_json_is_the_vendor_failing_and_a_list_is_wrapped() -> None:
    client = client_for([httpx.Response(200, content=b"<html>oops</html>"),
                         httpx.Response(200, content=b'[{"id": "1", "name": "\\u00e9"}]')], [])
    with pytest.raises(VendorUnavailable, match="not JSON"):
        client.fetch(PageRequest(path="/contacts"))
    assert client.fetch(PageRequest(path="/contacts")) == {"data": [{"id": "1", "name": "é"}]}


def test_a_timeout_set_after_the_client_was_opened_is_the_one_requests_use() -> None:
    """The outbox opens a client, then shortens its timeout to one attempt's (8 s): a request
    must wait that long, not the connection's default (a cached timeout once let an accepted,
    slow create answer late and count as delivered on its second attempt)."""
    client = client_for([httpx.Response(200, json={}), httpx.Response(200, json={})], [])
    client.fetch(PageRequest(path="/contacts"))
    client.config = client.config.model_copy(update={"timeout_s": 8.0})
    client.fetch(PageRequest(path="/contacts"))
    first, second = (request.extensions["timeout"] for request in client.seen)  # type: ignore[attr-defined]
    assert first["read"] == IntercomConfig(base_url="https://intercom.test").timeout_s
    assert second == {"connect": 10.0, "read": 8.0, "write": 8.0, "pool": 8.0}
