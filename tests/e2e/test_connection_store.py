"""shared.connections on the real Firestore emulator, in process: scheduling, credentials,
rotation, and OAuth token refresh against the kit OAuth server (rotating refresh tokens).
The over-the-wire behaviour (functions, access rules, install flow) is test_connections_api."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer
from devtools.sandboxes.kit.server import BackgroundWSGI
from shared import crypto
from shared.connections import oauth, store
from shared.connections.models import ConnectionSchedule, ConnectionStatus, Owner
from shared.vendors.auth import StaticAuth
from shared.vendors.intercom.connector import CONNECTOR as INTERCOM
from tests.conftest import PROJECT, TEST_EXTRA_CONNECTORS
from tests.demo_connectors import DEMO_CRM, DEMO_KEYS, DEMO_NOTES

UTC = timezone.utc
K1 = crypto.Kek("k1", b"\x11" * 32)
KEYRING = crypto.Keyring([K1])
REDIRECT = "http://127.0.0.1:1/oauth-callback"


@pytest.fixture(autouse=True)
def demo_connectors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry sees the demo connectors (as the functions do with the test env)."""
    from shared.sync import registry

    monkeypatch.setenv("TRIBUTARY_EXTRA_CONNECTORS", TEST_EXTRA_CONNECTORS)
    monkeypatch.setenv("TRIBUTARY_ENV", "test")
    registry._found.cache_clear()
    yield
    registry._found.cache_clear()


@pytest.fixture()
def db(clean_firestore: str) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=PROJECT)


@pytest.fixture()
def kit() -> Iterator[tuple[OAuthServer, str]]:
    server = OAuthServer([OAuthClient("cid", "csecret", (REDIRECT,))], access_token_ttl_s=3600)
    with BackgroundWSGI(server.wsgi_app()) as served:
        yield server, served.base_url


def create(
    db: Any, connector: Any = DEMO_KEYS, *, config: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    owner = Owner(kind="user", uid="u1") if connector.ownership == "user" else Owner(kind="org")
    creds = kwargs.pop(
        "credentials",
        {"api_key": "k-secret"}
        if connector is DEMO_KEYS
        else {"client_id": "cid", "client_secret": "csecret"},
    )
    return store.create_connection(
        db,
        KEYRING,
        connector,
        environment="test",
        name="n",
        owner=owner,
        config=config or {"base_url": "http://127.0.0.1:9"},
        credentials=creds,
        **kwargs,
    )


def _authorize(db: Any, connection: Any, server: OAuthServer, base_url: str) -> tuple[str, str | None]:
    settings = _Settings()
    strategy = oauth.strategy_of(DEMO_NOTES if connection.vendor == "demo_notes" else DEMO_CRM)
    url = oauth.start_install(db, settings, KEYRING, connection, strategy, uid="u1")  # type: ignore[arg-type]
    redirect = httpx.get(url)
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    return query["state"][0], query["code"][0]


class _Settings:
    """The two Settings members the OAuth flow reads (complete_install also finds connectors)."""

    environment = "test"

    def function_url(self, name: str) -> str:
        assert name == "oauth-callback"
        return REDIRECT


def install(db: Any, server: OAuthServer, base_url: str, connector: Any = DEMO_NOTES) -> Any:
    connection = create(db, connector, config={"base_url": base_url})
    state, code = _authorize(db, connection, server, base_url)
    with httpx.Client() as http:
        return oauth.complete_install(db, _Settings(), KEYRING, state, code, http=http)  # type: ignore[arg-type]


# -- scheduling -----------------------------------------------------------------------------


def test_due_connections_and_mark_planned(db: Any) -> None:
    t0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    hourly = create(db, schedule=ConnectionSchedule(cron="0 * * * *"), now=t0)
    default = create(db, now=t0)  # demo default: 06:00 UTC
    # a new connection's first import is due at once; its schedule takes over after
    assert hourly.next_run_at == t0 and default.next_run_at == t0
    pending = create(db, DEMO_NOTES, now=t0)
    assert pending.status is ConnectionStatus.pending and pending.next_run_at is None
    assert {c.id for c in store.due_connections(db, t0)} == {hourly.id, default.id}
    assert store.mark_planned(db, hourly.id, t0, DEMO_KEYS) == datetime(2026, 1, 2, 13, 0, tzinfo=UTC)
    assert store.mark_planned(db, default.id, t0, DEMO_KEYS) == datetime(2026, 1, 3, 6, 0, tzinfo=UTC)

    assert store.due_connections(db, t0) == []
    at = datetime(2026, 1, 2, 13, 0, 30, tzinfo=UTC)
    assert [c.id for c in store.due_connections(db, at)] == [hourly.id]
    assert store.mark_planned(db, hourly.id, at, DEMO_KEYS) == datetime(2026, 1, 2, 14, 0, tzinfo=UTC)
    # a second scheduler invocation at the same moment does not plan it again
    assert store.mark_planned(db, hourly.id, at, DEMO_KEYS) is None
    assert store.due_connections(db, at) == []

    later = datetime(2026, 1, 3, 7, 0, tzinfo=UTC)
    assert {c.id for c in store.due_connections(db, later)} == {hourly.id, default.id}
    store.pause_connection(db, default.id)
    assert [c.id for c in store.due_connections(db, later)] == [hourly.id]
    assert store.mark_planned(db, default.id, later, DEMO_KEYS) is None  # paused: not due
    resumed = store.resume_connection(db, DEMO_KEYS, default.id, now=later)
    assert resumed.status is ConnectionStatus.connected
    assert resumed.next_run_at == datetime(2026, 1, 4, 6, 0, tzinfo=UTC)


def test_mark_planned_finds_the_registered_connector_itself(db: Any) -> None:
    t0 = datetime(2026, 1, 2, 4, 0, tzinfo=UTC)
    connection = store.create_connection(
        db,
        KEYRING,
        INTERCOM,
        environment="test",
        name="Intercom",
        owner=Owner(kind="org"),
        config={"base_url": "http://127.0.0.1:9101"},
        credentials={"access_token": "t"},
        now=t0,
    )
    assert connection.next_run_at == t0  # the first import: at the next tick
    assert store.mark_planned(db, connection.id, t0) == datetime(2026, 1, 2, 5, 0, tzinfo=UTC)  # Intercom: 05:00
    assert store.mark_planned(db, connection.id, datetime(2026, 1, 2, 5, 0, tzinfo=UTC)) == datetime(
        2026, 1, 3, 5, 0, tzinfo=UTC
    )


def test_schedule_change_moves_next_run(db: Any) -> None:
    t0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    connection = create(db, now=t0)
    changed = store.update_connection(
        db,
        None,
        DEMO_KEYS,
        connection.id,
        {"schedule": ConnectionSchedule(cron="30 12 * * *")},
        environment="test",
        now=t0,
    )
    assert changed.next_run_at == datetime(2026, 1, 2, 12, 30, tzinfo=UTC)
    back = store.update_connection(
        db, None, DEMO_KEYS, connection.id, {"schedule": None}, environment="test", now=t0
    )
    assert back.schedule is None and back.next_run_at == datetime(2026, 1, 3, 6, 0, tzinfo=UTC)
    assert store.get_connection(db, connection.id).next_run_at == back.next_run_at


# -- credentials ----------------------------------------------------------------------------


def test_credentials_stored_as_envelope_bound_to_their_connection(db: Any) -> None:
    a = create(db, credentials={"api_key": "PLAINTEXT-key-a"})
    b = create(db, credentials={"api_key": "PLAINTEXT-key-b"})
    raw = store.credentials_ref(db, a.id).get().to_dict()
    assert set(raw) == {"v", "alg", "kid", "wrapped_key", "nonce", "ciphertext", "updated_at"}
    assert "PLAINTEXT" not in repr(raw) and raw["kid"] == "k1"
    assert store.load_credentials(db, KEYRING, a.id) == {"api_key": "PLAINTEXT-key-a"}
    # a's envelope pasted onto b does not decrypt as b's
    store.credentials_ref(db, b.id).set(raw)
    with pytest.raises(crypto.DecryptionFailed):
        store.load_credentials(db, KEYRING, b.id)
    with pytest.raises(crypto.UnknownKeyId):
        store.load_credentials(db, crypto.Keyring([crypto.Kek("other", b"\x22" * 32)]), a.id)


def test_rewrap_moves_every_credential_to_the_current_key(db: Any) -> None:
    ids = [create(db, credentials={"api_key": f"key-{i}"}).id for i in range(3)]
    store.connection_ref(db, "intercom").set({"lease": {"holder": "x"}})  # engine-only doc, no credentials
    before = {i: store.credentials_ref(db, i).get().to_dict() for i in ids}
    new = crypto.Kek("k2", b"\x33" * 32)
    rotating = crypto.Keyring([new, K1])
    assert store.rewrap_credentials(db, rotating) == 3
    assert store.rewrap_credentials(db, rotating) == 0  # idempotent
    for n, i in enumerate(ids):
        after = store.credentials_ref(db, i).get().to_dict()
        assert after["kid"] == "k2" and after["wrapped_key"] != before[i]["wrapped_key"]
        assert after["ciphertext"] == before[i]["ciphertext"]
        assert store.load_credentials(db, crypto.Keyring([new]), i) == {"api_key": f"key-{n}"}


def test_delete_is_recursive(db: Any) -> None:
    keep = create(db)
    gone = create(db)
    for ref in (store.connection_ref(db, gone.id), store.connection_ref(db, keep.id)):
        ref.collection("notes").document("n1").set({"x": 1})
        ref.collection("runs").document("r1").collection("chains").document("c").set({"x": 1})
    deleted = store.delete_connection(db, gone.id)
    assert deleted >= 4  # the connection, 2 records, the credentials (+ the run)
    assert not store.connection_ref(db, gone.id).get().exists
    assert list(store.connection_ref(db, gone.id).collections()) == []
    assert store.connection_ref(db, keep.id).collection("notes").document("n1").get().exists
    with pytest.raises(Exception) as info:
        store.get_connection(db, gone.id)
    assert getattr(info.value, "status", None) == 404


def test_what_a_writer_in_flight_writes_after_a_delete_is_purged_once_it_has_ended(db: Any) -> None:
    """A page (or webhook) that read the connection before its delete stores its records
    after it: customer data we were asked to delete, under a connection that is gone."""
    gone = create(db)
    deleted_at = datetime.now(timezone.utc)
    store.delete_connection(db, gone.id, now=deleted_at)
    late = store.connection_ref(db, gone.id)
    late.collection("notes").document("n2").set({"x": 2})  # the page in flight lands
    late.collection("runs").document("r1").collection("chains").document("c").set({"x": 1})
    assert store.purge_deleted(db, deleted_at + timedelta(seconds=60)) == 0  # writers may still be running
    assert late.collection("notes").document("n2").get().exists
    assert store.purge_deleted(db, deleted_at + store.PURGE_AFTER) >= 2
    assert list(late.collections()) == []
    assert not db.collection(store.PURGES).document(gone.id).get().exists  # purged once


# -- OAuth refresh --------------------------------------------------------------------------


def test_request_auth_static_for_api_keys(db: Any) -> None:
    connection = create(db, credentials={"api_key": "k-1"})
    auth = oauth.request_auth(db, KEYRING, connection, DEMO_KEYS, httpx.Client())
    assert isinstance(auth, StaticAuth)
    assert auth.current().headers == {"X-Api-Key": "k-1"} and auth.refresh() is False
    pending = create(db, DEMO_NOTES)
    with pytest.raises(oauth.ReauthRequired):
        oauth.request_auth(db, KEYRING, pending, DEMO_NOTES, httpx.Client())


def test_install_stores_tokens_and_request_auth_uses_them(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    assert connection.status is ConnectionStatus.connected and connection.next_run_at is not None
    creds = store.load_credentials(db, KEYRING, connection.id)
    assert server.is_valid_access_token(creds["access_token"]) and creds["refresh_token"]
    assert creds["expires_at"] == pytest.approx(time.time() + 3600, abs=30)
    with httpx.Client() as http:
        auth = oauth.request_auth(db, KEYRING, connection, DEMO_NOTES, http)
        assert isinstance(auth, oauth.ConnectionAuth)
        assert auth.current().headers == {"Authorization": f"Bearer {creds['access_token']}"}
        assert auth.token_calls == 0  # not expiring: no refresh


def test_basic_client_auth_and_instance_url(db: Any) -> None:
    server = OAuthServer(
        [OAuthClient("cid", "csecret", (REDIRECT,))],
        extra_token_fields={"instance_url": "http://127.0.0.1:4242"},
    )
    with BackgroundWSGI(server.wsgi_app()) as served:
        connection = install(db, server, served.base_url, DEMO_CRM)
    assert connection.config["base_url"] == "http://127.0.0.1:4242"
    assert connection.status is ConnectionStatus.connected
    # the token endpoint cannot send us (and our tokens) to a host the connector does not allow
    evil = OAuthServer(
        [OAuthClient("cid", "csecret", (REDIRECT,))],
        extra_token_fields={"instance_url": "https://evil.example"},
    )
    with BackgroundWSGI(evil.wsgi_app()) as served, pytest.raises(oauth.TokenExchangeFailed):
        install(db, evil, served.base_url, DEMO_CRM)


def test_expiring_token_is_refreshed_before_use(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    first = store.load_credentials(db, KEYRING, connection.id)
    with httpx.Client() as http:
        # a clock 3500 s ahead: the token expires within the 300 s margin
        auth = oauth.ConnectionAuth(
            db,
            KEYRING,
            connection.id,
            DEMO_NOTES.auth,
            connection.config,
            http,  # type: ignore[arg-type]
            clock=lambda: time.time() + 3500,
        )
        header = auth.current().headers["Authorization"]
    stored = store.load_credentials(db, KEYRING, connection.id)
    assert header == f"Bearer {stored['access_token']}" and stored["access_token"] != first["access_token"]
    assert stored["refresh_token"] != first["refresh_token"]  # rotated, and the new one kept
    assert server.stats["token:refresh_token"] == 1
    assert "refresh_lock" not in store.credentials_ref(db, connection.id).get().to_dict()


def test_concurrent_refreshes_call_the_token_endpoint_once(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    stale = store.load_credentials(db, KEYRING, connection.id)["access_token"]
    server.token_latency_s = 0.5  # the holder is mid-refresh while the others arrive
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[tuple[bool, str]] = []
    errors: list[BaseException] = []
    http = httpx.Client()

    def worker(n: int) -> None:
        # one ConnectionAuth per worker, as separate processes would have
        auth = oauth.ConnectionAuth(
            db,
            KEYRING,
            connection.id,
            DEMO_NOTES.auth,
            connection.config,
            http,  # type: ignore[arg-type]
            holder=f"worker-{n}",
            poll_s=0.02,
        )
        auth.current()  # loads the (stale) token
        barrier.wait()
        try:
            changed = auth.refresh()  # as after a 401
            results.append((changed, auth.current().headers["Authorization"]))
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    http.close()
    assert not errors, errors
    assert server.stats["token:refresh_token"] == 1
    final = store.load_credentials(db, KEYRING, connection.id)
    assert final["access_token"] != stale and server.is_valid_access_token(final["access_token"])
    assert results == [(True, f"Bearer {final['access_token']}")] * workers
    assert "refresh_lock" not in store.credentials_ref(db, connection.id).get().to_dict()


def test_dead_holders_lock_is_taken_over(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    ref = store.credentials_ref(db, connection.id)
    ref.update({"refresh_lock": {"holder": "crashed", "expires_at": time.time() + 0.5}})
    with httpx.Client() as http:
        auth = oauth.ConnectionAuth(
            db, KEYRING, connection.id, DEMO_NOTES.auth, connection.config, http, poll_s=0.05
        )  # type: ignore[arg-type]
        assert auth.refresh() is True
    assert server.stats["token:refresh_token"] == 1


def test_waiting_is_bounded(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    store.credentials_ref(db, connection.id).update(
        {"refresh_lock": {"holder": "slow", "expires_at": time.time() + 60}}
    )
    with httpx.Client() as http:
        auth = oauth.ConnectionAuth(
            db,
            KEYRING,
            connection.id,
            DEMO_NOTES.auth,
            connection.config,
            http,  # type: ignore[arg-type]
            wait_s=0.3,
            poll_s=0.05,
        )
        started = time.monotonic()
        with pytest.raises(oauth.RefreshBusy) as info:
            auth.refresh()
    assert time.monotonic() - started < 5
    assert info.value.transient and info.value.code == "token_refresh_busy"
    assert server.stats["token:refresh_token"] == 0


def test_invalid_grant_marks_needs_reauth(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    server.revoke_all()
    with httpx.Client() as http:
        auth = oauth.request_auth(db, KEYRING, connection, DEMO_NOTES, http)
        with pytest.raises(oauth.ReauthRequired) as info:
            auth.refresh()
    assert (
        info.value.status == 409 and info.value.code == "connection_needs_reauth" and not info.value.transient
    )
    after = store.get_connection(db, connection.id)
    assert after.status is ConnectionStatus.needs_reauth and after.next_run_at is None
    assert after.last_error is not None and after.last_error.code == "invalid_grant"
    assert "refresh_lock" not in store.credentials_ref(db, connection.id).get().to_dict()


def test_token_endpoint_outage_is_transient_and_releases_the_lock(
    db: Any, kit: tuple[OAuthServer, str]
) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    down = httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(503, json={"error": "x"}))
    )
    auth = oauth.ConnectionAuth(db, KEYRING, connection.id, DEMO_NOTES.auth, connection.config, down)  # type: ignore[arg-type]
    with pytest.raises(oauth.VendorUnavailable) as info:
        auth.refresh()
    assert info.value.transient
    assert "refresh_lock" not in store.credentials_ref(db, connection.id).get().to_dict()
    assert store.get_connection(db, connection.id).status is ConnectionStatus.connected


def test_token_requests_never_carry_the_pooled_clients_auth(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = install(db, server, base_url)
    seen: list[httpx.Request] = []
    forward = httpx.Client()

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = forward.post(
            str(request.url),
            content=request.content,
            headers={"Content-Type": request.headers["Content-Type"]},
        )
        return httpx.Response(
            answer.status_code, content=answer.content, headers={"Content-Type": "application/json"}
        )

    pooled = httpx.Client(
        headers={"Authorization": "Bearer vendor-app-token"}, transport=httpx.MockTransport(capture)
    )
    auth = oauth.ConnectionAuth(db, KEYRING, connection.id, DEMO_NOTES.auth, connection.config, pooled)  # type: ignore[arg-type]
    assert auth.refresh() is True
    assert len(seen) == 1 and "authorization" not in seen[0].headers
    assert seen[0].url == f"{base_url}/oauth/token"
    assert b"grant_type=refresh_token" in seen[0].content and b"client_secret=csecret" in seen[0].content
    forward.close()


def test_state_is_single_use_and_expires(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    connection = create(db, DEMO_NOTES, config={"base_url": base_url})
    state, code = _authorize(db, connection, server, base_url)
    record = oauth.state_ref(db, state).get().to_dict()
    assert (
        record["connection_id"] == connection.id
        and record["uid"] == "u1"
        and len(record["code_verifier"]) >= 43
    )
    assert record["expires_at"] - record["created_at"] == timedelta(minutes=10)
    with pytest.raises(oauth.OAuthStateExpired):
        oauth.consume_state(db, state, datetime.now(UTC) + timedelta(minutes=11))
    with pytest.raises(oauth.OAuthStateInvalid):  # consumed even though it had expired
        oauth.consume_state(db, state, datetime.now(UTC))


def test_new_credentials_and_pause_resume_move_the_status(db: Any, kit: tuple[OAuthServer, str]) -> None:
    server, base_url = kit
    # static credentials: replacing them clears needs_reauth
    keys = create(db)
    store.set_status(db, keys.id, ConnectionStatus.needs_reauth)
    fixed = store.update_connection(
        db, KEYRING, DEMO_KEYS, keys.id, {"credentials": {"api_key": "k-new"}}, environment="test"
    )
    assert fixed.status is ConnectionStatus.connected and fixed.next_run_at is not None
    assert store.load_credentials(db, KEYRING, keys.id) == {"api_key": "k-new"}
    with pytest.raises(Exception) as incomplete:
        store.update_connection(db, KEYRING, DEMO_KEYS, keys.id, {"credentials": {}}, environment="test")
    assert getattr(incomplete.value, "code", None) == "credentials_incomplete"

    # OAuth: new client credentials mean a new install; a paused one resumes where it was
    installed = install(db, server, base_url)
    again = store.update_connection(
        db, KEYRING, DEMO_NOTES, installed.id,
        {"credentials": {"client_id": "cid", "client_secret": "other"}}, environment="test",
    )
    assert again.status is ConnectionStatus.pending and again.next_run_at is None
    assert "access_token" not in store.load_credentials(db, KEYRING, installed.id)
    paused = store.pause_connection(db, installed.id)
    assert paused.status is ConnectionStatus.disabled
    assert store.pause_connection(db, installed.id).status is ConnectionStatus.disabled  # idempotent
    resumed = store.resume_connection(db, DEMO_NOTES, installed.id)
    assert resumed.status is ConnectionStatus.pending and resumed.next_run_at is None
