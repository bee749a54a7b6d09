"""OAuth 2 for connections: the install flow (authorization code + PKCE) and token refresh.

Install:

    start_install      random state (stored in oauth_states/{state}, 10 minutes, single use)
                       and PKCE verifier -> the vendor's authorize URL
    complete_install   the browser comes back to oauth-callback with code and state: the
                       state is consumed in a transaction, the code exchanged at the token
                       endpoint, the tokens stored encrypted, the connection connected

Refresh (ConnectionAuth, the RequestAuth the engine's vendor client uses): an access token
is refreshed shortly before it expires, or once after a 401. Vendors increasingly rotate
refresh tokens (each works once), so two workers refreshing the same connection at once
would have one of them burn the other's token and leave the connection broken. Refreshes
are therefore serialized per connection *across processes*: a short lock (holder, expiry)
on the credentials document, taken atomically: a compare-and-set on the document's
update_time, so the lock lands only on the very credentials just read (see
ConnectionAuth._try_acquire for why not a read-write transaction). Each attempt reads the
credentials first, and if someone else refreshed meanwhile, uses that instead of calling
the token endpoint; the others poll, briefly, for the holder to finish. An expired
lock (a holder that died) is taken over. invalid_grant means the grant is gone (revoked,
expired, rotated away): the connection becomes needs_reauth and ReauthRequired is raised.

Token endpoint URLs may hold {config_key} placeholders (a sandbox, a Salesforce My Domain),
filled from the connection's config.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from shared.connections import store
from shared.connections.models import Connection, ConnectionStatus, LastError
from shared.errors import BadRequest, ValidationFailed
from shared.store.txn import run_transaction
from shared.vendors.auth import OAuth2, RequestAuth, StaticAuth, WireAuth
from shared.vendors.errors import VendorAuthFailed, VendorRejected, VendorUnavailable

if TYPE_CHECKING:
    import httpx
    from google.cloud.firestore import Client, DocumentReference, Transaction

    from shared.config import Settings
    from shared.crypto import Keyring
    from shared.vendors.connector import Connector

STATES = "oauth_states"
STATE_TTL = timedelta(minutes=10)
CALLBACK_FUNCTION = "oauth-callback"
#: timeout of each phase of a token endpoint call (the 60 s refresh lock outlives them)
TOKEN_TIMEOUT_S = 10.0
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# -- errors ---------------------------------------------------------------------------------


class OAuthStateInvalid(BadRequest):
    default_code = "oauth_state_invalid"
    default_message = "This authorization link is unknown or was already used; start again."


class OAuthStateExpired(BadRequest):
    default_code = "oauth_state_expired"
    default_message = "This authorization link expired; start again."


class OAuthDenied(BadRequest):
    default_code = "oauth_denied"
    default_message = "The vendor did not grant access."


class NotOAuth(BadRequest):
    default_code = "connector_not_oauth"
    default_message = "This connection does not use OAuth."


class TokenExchangeFailed(VendorRejected):
    """The token endpoint refused or mangled an exchange for a reason a retry will not fix."""

    default_code = "oauth_exchange_failed"
    default_message = "The vendor's token endpoint refused the exchange."


class ReauthRequired(VendorAuthFailed):
    """The grant is gone (invalid_grant / invalid_client): a person must reconnect. The
    connection is marked needs_reauth before this is raised."""

    status = 409
    default_code = "connection_needs_reauth"
    default_message = "The vendor revoked this connection's access; reconnect it."


class RefreshBusy(VendorUnavailable):
    """Another worker holds the refresh lock and did not finish in time (transient)."""

    default_code = "token_refresh_busy"
    default_message = "A token refresh for this connection is in progress elsewhere; retry."


class _GrantRefused(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


# -- helpers --------------------------------------------------------------------------------


def fill(template: str, config: Mapping[str, Any]) -> str:
    """`{key}` placeholders from the connection's config (names only: no attribute access)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if config.get(key) in (None, ""):
            raise ValidationFailed(
                f"The OAuth URL needs config.{key}.", code="invalid_config", details={"missing": key}
            )
        return str(config[key]).rstrip("/")

    return _PLACEHOLDER.sub(value, template)


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def strategy_of(connector: Connector) -> OAuth2:
    if not isinstance(connector.auth, OAuth2):
        raise NotOAuth(details={"vendor": connector.vendor, "auth": connector.auth.kind})
    return connector.auth


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def token_request(
    http: httpx.Client,
    strategy: OAuth2,
    config: Mapping[str, Any],
    creds: Mapping[str, Any],
    form: dict[str, str],
) -> dict[str, Any]:
    """POST the token endpoint; the JSON answer, or _GrantRefused (invalid_grant /
    invalid_client), VendorUnavailable (network, 5xx, 429) or TokenExchangeFailed."""
    import httpx

    url = fill(strategy.token_url, config)
    client_id, client_secret = str(creds.get("client_id", "")), str(creds.get("client_secret", ""))
    data = dict(form)
    headers = {"Accept": "application/json"}
    if strategy.client_auth == "basic":
        pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    else:
        data.update(client_id=client_id, client_secret=client_secret)
    request = http.build_request(
        "POST", url, data=data, headers=headers, timeout=httpx.Timeout(TOKEN_TIMEOUT_S)
    )
    if strategy.client_auth != "basic":
        # a pooled vendor client may carry default auth headers: they never go to the token endpoint
        request.headers.pop("Authorization", None)
    try:
        response = http.send(request)
    except httpx.HTTPError as exc:
        raise VendorUnavailable(f"The token endpoint did not answer: {type(exc).__name__}.") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code >= 500 or response.status_code == 429:
        raise VendorUnavailable(f"The token endpoint answered {response.status_code}.")
    if response.status_code >= 400:
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise _GrantRefused(str(error))
        raise TokenExchangeFailed(details={"status": response.status_code, "error": error})
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
        or not body["access_token"]
    ):
        raise TokenExchangeFailed("The token endpoint answered without an access token.")
    return body


def apply_tokens(creds: Mapping[str, Any], body: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The credentials after a token answer: a new refresh token replaces the old one
    (rotation); without one the old one stays (vendors that do not rotate)."""
    updated = dict(creds)
    updated["access_token"] = body["access_token"]
    if body.get("refresh_token"):
        updated["refresh_token"] = body["refresh_token"]
    expires_in = body.get("expires_in")
    if isinstance(expires_in, (int, float)) or (isinstance(expires_in, str) and expires_in.isdigit()):
        updated["expires_at"] = now + float(expires_in)
    else:
        updated.pop("expires_at", None)
    for key in ("token_type", "scope"):
        if body.get(key):
            updated[key] = body[key]
    return updated


def _needs_reauth(db: Client, connection_id: str, error: str) -> ReauthRequired:
    message = f"The vendor answered {error}: reconnect to grant access again."
    store.set_status(
        db,
        connection_id,
        ConnectionStatus.needs_reauth,
        error=LastError(code=error, message=message, at=datetime.now(timezone.utc)),
    )
    return ReauthRequired(details={"connection_id": connection_id, "error": error})


# -- install --------------------------------------------------------------------------------


def state_ref(db: Client, state: str) -> DocumentReference:
    return db.collection(STATES).document(state)


def start_install(
    db: Client,
    settings: Settings,
    keyring: Keyring,
    connection: Connection,
    strategy: OAuth2,
    *,
    uid: str,
    now: datetime | None = None,
) -> str:
    """The URL to send the person's browser to. The state document expires after 10 minutes
    (expires_at carries a Firestore TTL policy, so abandoned ones are swept)."""
    now = now or datetime.now(timezone.utc)
    creds = store.load_credentials(db, keyring, connection.id)
    state = secrets.token_urlsafe(32)
    redirect_uri = settings.function_url(CALLBACK_FUNCTION)
    record: dict[str, Any] = {
        "connection_id": connection.id,
        "vendor": connection.vendor,
        "uid": uid,
        "redirect_uri": redirect_uri,
        "created_at": now,
        "expires_at": now + STATE_TTL,
    }
    params = {
        "response_type": "code",
        "client_id": str(creds["client_id"]),
        "redirect_uri": redirect_uri,
        "state": state,
        **strategy.extra_authorize_params,
    }
    if strategy.scopes:
        params["scope"] = strategy.scope_separator.join(strategy.scopes)
    if strategy.pkce:
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
        record["code_verifier"] = verifier
        params.update(code_challenge=code_challenge(verifier), code_challenge_method="S256")
    state_ref(db, state).create(record)
    base = fill(strategy.authorize_url, connection.config)
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"


def check_state(state: str) -> None:
    """400 oauth_state_invalid for a state no install could have issued: refused before any
    client is made, so a stray visit to the callback costs no Firestore import."""
    if not state or len(state) > 200 or "/" in state:
        raise OAuthStateInvalid()


def consume_state(db: Client, state: str, now: datetime) -> dict[str, Any]:
    """The state's record, deleted in the same transaction (single use), or 400
    oauth_state_invalid / oauth_state_expired. An expired state is consumed too."""
    if not state or len(state) > 200 or "/" in state:
        raise OAuthStateInvalid()
    ref = state_ref(db, state)

    def take(transaction: Transaction) -> dict[str, Any] | None:
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return None
        transaction.delete(ref)
        return snapshot.to_dict() or {}

    record = run_transaction(db, take)
    if record is None:
        raise OAuthStateInvalid()
    if record["expires_at"] <= now:
        raise OAuthStateExpired()
    return record


def complete_install(
    db: Client,
    settings: Settings,
    keyring: Keyring,
    state: str,
    code: str | None,
    *,
    http: httpx.Client,
    error: str | None = None,
    now: datetime | None = None,
) -> Connection:
    """Consume the state, exchange the code, store the tokens encrypted, and connect."""
    from shared.connections import schedule, validate
    from shared.sync.registry import connector as find_connector

    now = now or datetime.now(timezone.utc)
    record = consume_state(db, state, now)
    connection_id = str(record["connection_id"])
    connection = store.get_connection(db, connection_id)
    if connection.status is ConnectionStatus.deleting:
        raise OAuthStateInvalid()
    if error or not code:
        raise OAuthDenied(details={"error": error or "no_code"})
    connector = find_connector(connection.vendor)
    strategy = strategy_of(connector)
    creds = store.load_credentials(db, keyring, connection_id)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": str(record["redirect_uri"])}
    if record.get("code_verifier"):
        form["code_verifier"] = str(record["code_verifier"])
    try:
        body = token_request(http, strategy, connection.config, creds, form)
    except _GrantRefused as refused:
        raise TokenExchangeFailed(details={"error": refused.error}) from None
    creds = apply_tokens(creds, body, now.timestamp())
    config = dict(connection.config)
    if strategy.base_url_field and body.get(strategy.base_url_field):
        config["base_url"] = str(body[strategy.base_url_field])
        try:
            config = validate.config(connector, config, environment=settings.environment)
        except ValidationFailed:
            # the token endpoint must not be able to point our requests (and tokens) elsewhere
            raise TokenExchangeFailed(
                f"The token endpoint returned a {strategy.base_url_field} that is not allowed."
            ) from None
    store.save_credentials(db, keyring, connection_id, creds, now=now)
    paused = connection.status is ConnectionStatus.disabled
    extra: dict[str, Any] = {"config": config}
    if paused:  # installed while paused: resume will connect it
        extra["paused_from"] = ConnectionStatus.connected.value
        store.connection_ref(db, connection_id).update({**extra, "last_error": None, "updated_at": now})
    else:
        store.set_status(
            db,
            connection_id,
            ConnectionStatus.connected,
            next_run_at=schedule.next_run_for(connection.schedule, connector, now),
            extra=extra,
        )
    return store.get_connection(db, connection_id)


# -- refresh --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Acquired:
    creds: dict[str, Any]
    #: the ciphertext we decided on (detects a replacement by someone else before we write)
    ciphertext: str


class ConnectionAuth:
    """RequestAuth for one OAuth connection (a worker builds one per unit of work).

    Thread-safe; refreshes are serialized per connection across processes (module doc).
    """

    def __init__(
        self,
        db: Client,
        keyring: Keyring,
        connection_id: str,
        strategy: OAuth2,
        config: Mapping[str, Any],
        http: httpx.Client,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lock_ttl_s: float = 60.0,
        wait_s: float = 15.0,
        poll_s: float = 0.05,
    ) -> None:
        self.db, self.keyring, self.connection_id = db, keyring, connection_id
        self.strategy, self.config, self.http = strategy, dict(config), http
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock, self.sleep = clock, sleep
        self.lock_ttl_s, self.wait_s, self.poll_s = lock_ttl_s, wait_s, poll_s
        self.token_calls = 0
        self._creds: dict[str, Any] | None = None
        self._mutex = threading.Lock()
        self._ref = store.credentials_ref(db, connection_id)

    # RequestAuth

    def current(self) -> WireAuth:
        with self._mutex:
            creds = self._loaded()
            if self._expiring(creds) and creds.get("refresh_token"):
                creds = self._refresh(stale=creds.get("access_token"), forced=False)
            return self.strategy.wire(creds)

    def refresh(self) -> bool:
        """After a 401: a new access token (ours or another worker's); False when there is
        no refresh token to use."""
        with self._mutex:
            creds = self._loaded()
            before = creds.get("access_token")
            if not creds.get("refresh_token"):
                return False
            return self._refresh(stale=before, forced=True).get("access_token") != before

    # internals

    def _loaded(self) -> dict[str, Any]:
        if self._creds is None:
            self._creds = store.load_credentials(self.db, self.keyring, self.connection_id)
        return self._creds

    def _expiring(self, creds: Mapping[str, Any]) -> bool:
        expires_at = creds.get("expires_at")
        if expires_at is None:
            return False
        return float(expires_at) - self.clock() <= self.strategy.refresh_margin_s

    def _fresh(self, creds: Mapping[str, Any], stale: Any, forced: bool) -> bool:
        """Already refreshed by someone else since we saw `stale`?"""
        if creds.get("access_token") != stale:
            return True
        return not forced and not self._expiring(creds)

    def _lock_held_by_other(self, data: Mapping[str, Any]) -> bool:
        lock = data.get("refresh_lock") or {}
        return (
            bool(lock)
            and lock.get("holder") != self.holder
            and float(lock.get("expires_at", 0)) > time.time()
        )

    def _try_acquire(self, stale: Any, forced: bool) -> tuple[str, dict[str, Any], str]:
        """("fresh" | "busy" | "acquired", credentials, ciphertext).

        The lock is taken with a compare-and-set: an update whose precondition is the
        document's update_time as just read, so it lands only if nobody wrote in between
        (Firestore checks it atomically, like a one-document optimistic transaction). We
        do not use a read-write transaction here: when many workers race, each holds a
        read lock and waits to upgrade it, and they abort one another (the emulator can
        livelock like that); a failed compare-and-set instead just means "re-read".
        """
        from google.api_core import exceptions as gexc

        snapshot = self._ref.get()
        data = snapshot.to_dict() if snapshot.exists else None
        creds = store.decrypt_snapshot(self.keyring, self.connection_id, snapshot)
        assert data is not None
        ciphertext = str(data.get("ciphertext"))
        if self._fresh(creds, stale, forced):
            return "fresh", creds, ciphertext
        if self._lock_held_by_other(data):
            return "busy", creds, ciphertext
        lock = {"holder": self.holder, "expires_at": time.time() + self.lock_ttl_s}
        try:
            self._ref.update(
                {"refresh_lock": lock}, option=self.db.write_option(last_update_time=snapshot.update_time)
            )
        except (gexc.FailedPrecondition, gexc.Aborted, gexc.Conflict):
            return "busy", creds, ciphertext  # someone wrote first: look again
        return "acquired", creds, ciphertext

    def _refresh(self, *, stale: Any, forced: bool) -> dict[str, Any]:
        deadline = time.monotonic() + self.wait_s
        while True:
            outcome, creds, ciphertext = self._try_acquire(stale, forced)
            if outcome == "fresh":
                self._creds = creds
                return creds
            if outcome == "acquired":
                break
            if time.monotonic() >= deadline:
                raise RefreshBusy(details={"connection_id": self.connection_id})
            self.sleep(self.poll_s * (0.5 + random.random()))  # jitter: waiters do not move in step
        return self._refresh_holding_lock(_Acquired(creds, ciphertext))

    def _refresh_holding_lock(self, acquired: _Acquired) -> dict[str, Any]:
        creds = acquired.creds
        try:
            self.token_calls += 1
            body = token_request(
                self.http,
                self.strategy,
                self.config,
                creds,
                {"grant_type": "refresh_token", "refresh_token": str(creds["refresh_token"])},
            )
        except _GrantRefused as refused:
            self._release()
            latest = store.load_credentials(self.db, self.keyring, self.connection_id)
            if latest.get("refresh_token") != creds.get("refresh_token"):
                # someone rotated the token after our lock lapsed: theirs is the live one
                self._creds = latest
                return latest
            raise _needs_reauth(self.db, self.connection_id, refused.error) from None
        except BaseException:
            self._release()
            raise
        updated = apply_tokens(creds, body, self.clock())
        self._creds = self._store(updated, acquired.ciphertext)
        return self._creds

    def _store(self, updated: dict[str, Any], seen_ciphertext: str) -> dict[str, Any]:
        """Write the new tokens and drop the lock, unless someone replaced the credentials
        since we read them (a person saved new ones): then theirs win."""
        from shared import crypto

        fields = {
            **crypto.encrypt(self.keyring, updated, aad=self.connection_id).to_dict(),
            "updated_at": _utc(time.time()),
        }

        def write(transaction: Transaction) -> dict[str, Any]:
            snapshot = self._ref.get(transaction=transaction)
            raw = snapshot.to_dict() or {}
            lock = raw.get("refresh_lock") or {}
            if lock.get("holder") == self.holder or raw.get("ciphertext") == seen_ciphertext:
                transaction.set(self._ref, fields)  # replaces the document: the lock goes too
                return updated
            return store.decrypt_snapshot(self.keyring, self.connection_id, snapshot)

        # this write must land: the vendor has already rotated the refresh token it holds
        return run_transaction(self.db, write, rounds=10)

    def _release(self) -> None:
        from google.cloud import firestore

        def release(transaction: Transaction) -> None:
            snapshot = self._ref.get(transaction=transaction)
            lock = (snapshot.to_dict() or {}).get("refresh_lock") or {}
            if lock.get("holder") == self.holder:
                transaction.update(self._ref, {"refresh_lock": firestore.DELETE_FIELD})

        run_transaction(self.db, release, rounds=5)


def request_auth(
    db: Client, keyring: Keyring, connection: Connection, connector: Connector, http_client: httpx.Client
) -> RequestAuth:
    """How the engine authenticates one connection's requests: a refreshing ConnectionAuth
    for OAuth connectors, StaticAuth of the stored credentials otherwise. `http_client` is
    used for token endpoint calls only (any default Authorization header it has is dropped)."""
    if connection.status in (ConnectionStatus.pending, ConnectionStatus.needs_reauth):
        raise ReauthRequired(
            f"Connection {connection.id} is {connection.status.value}: a person must connect it.",
            details={"connection_id": connection.id, "status": connection.status.value},
        )
    if isinstance(connector.auth, OAuth2):
        return ConnectionAuth(db, keyring, connection.id, connector.auth, connection.config, http_client)
    return StaticAuth(connector.auth.wire(store.load_credentials(db, keyring, connection.id)))
