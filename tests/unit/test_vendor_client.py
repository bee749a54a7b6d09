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


def test_a_spent_window_waits_for_the_next_instead_of_meeting_a_429() -> None:
    """#16: at full share the queue's token bucket dispatches the burst it saved while idle
    into a fixed window that already had its share (Intercom counts 10 s windows and says
    what is left of the current one). Requests sharing one budget's pacing keep a ledger of
    the window: those over its room wait for the next window instead of taking 429s."""
    import threading
    import time

    from shared.vendors.http import WindowLedger

    length, limit = 2, 5
    lock = threading.Lock()
    counted: dict[int, int] = {}
    refused: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            start = int(time.time() // length) * length
            counted[start] = counted.get(start, 0) + 1
            remaining = limit - counted[start]
            headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, remaining)),
                       "X-RateLimit-Reset": str(start + length)}
            if remaining < 0:
                refused.append(start)
        time.sleep(0.2)  # counted on arrival, answered later: the burst is in flight together
        if remaining < 0:
            return httpx.Response(429, headers=headers, json={"type": "error.list"})
        return httpx.Response(200, headers=headers, json={})

    window = WindowLedger()
    transport = httpx.MockTransport(handler)

    def one() -> None:
        client = VendorClient(CONNECTOR, IntercomConfig(base_url="https://intercom.test"),
                              auth=StaticAuth(BearerToken().wire({"access_token": "tok"})), transport=transport,
                              window=window)
        client.fetch(PageRequest(path="/contacts"))

    time.sleep(length - time.time() % length + 0.05)  # the start of a window: the burst below falls in it
    one()  # its answer reports the window: 4 left
    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    assert sum(counted.values()) == 9 and max(counted.values()) == limit


def test_the_window_ledger_counts_a_request_given_its_turn_but_sent_late() -> None:
    """A busy process's thread may send its request after one that took its turn later; an
    answer to the later one does not count it, so the room it reports is one too many."""
    import time

    from shared.vendors.http import WindowLedger

    pacing = WindowLedger()
    end = time.time() + 60
    pacing.take()
    pacing.settle(pacing.sending(), remaining=2, window_end=end)  # 2 left in this window
    assert pacing.take() == 0  # A's turn: it is not sent yet
    assert pacing.take() == 0  # B's turn
    pacing.settle(pacing.sending(), remaining=1, window_end=end)  # B went first: 1 left, A's
    assert pacing.take() > 50  # C waits for the next window; A takes the last slot


def test_each_connection_keeps_its_own_window_and_an_app_budget_shares_its_pacing() -> None:
    """Two Intercom workspaces' answers report two windows: one spent workspace must not
    hold the other's requests (the ledger mixed them when it was kept per app)."""
    from shared.vendors.clients import vendor_client

    auth = StaticAuth(BearerToken().wire({"access_token": "tok"}))
    config = IntercomConfig(base_url="https://intercom.test")
    one, two = (vendor_client(CONNECTOR, config, auth, connection) for connection in ("ws-1", "ws-2"))
    assert one.window is not two.window and one.pacing is two.pacing
    assert vendor_client(CONNECTOR, config, auth, "ws-1").window is one.window


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


def test_a_request_sent_shortly_before_the_reporting_one_is_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads of a busy process put requests on the wire in another order than they were
    ticketed: one ticketed 0.3 s before the request whose answer reports the window may
    reach the vendor after it, so the report may not count it and the ledger must (with a
    50 ms allowance, a full-share Intercom run had 101 requests in one window of 100)."""
    import time as real_time

    from shared.vendors.http import WindowLedger

    clock = [1000.0]
    monkeypatch.setattr(real_time, "monotonic", lambda: clock[0])
    ledger = WindowLedger()
    ledger.take()
    earlier = ledger.sending()
    clock[0] += 0.3
    ledger.take()
    reporting = ledger.sending()
    ledger.settle(reporting, remaining=10, window_end=real_time.time() + 60)
    assert earlier  # still on the wire
    turns = 0
    while ledger.take() == 0.0:
        ledger.abandon()
        turns += 1
    assert turns == 9
