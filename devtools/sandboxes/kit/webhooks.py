"""A signed-webhook sender a sandbox vendor mounts: it delivers the vendor's notifications to
a target URL, signed the way the vendor signs them, and misbehaves on request the way real
delivery does (duplicates, reordering, delays, losses) or the way an attacker would (forged
signatures, unsigned requests, replays of old deliveries).

    sender = WebhookSender(prepare=..., tamper=...)            # the vendor's hooks, optional
    sender.configure(url="http://127.0.0.1:5001/.../webhooks/<connection>", signer="hmac-sha1",
                     secret="...")
    sender.send(Notification(id="notif_1", topic="contact.user.updated", payload={...}))
    sender.flush(timeout_s=30)                                  # every delivery answered or given up
    if sender.handles(request): return sender.dispatch(request) # /_sandbox/webhooks* inside the app

Signers (`signer=`), each the vendor's documented scheme:

    hmac-sha1     X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>            (Intercom)
    hmac-sha256   X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>     (GitHub-style)
    hubspot-v3    X-HubSpot-Signature-v3: base64 HMAC-SHA256(method+URI+body+ts),
                  X-HubSpot-Request-Timestamp: ts in ms                         (HubSpot)
    basic         Authorization: Basic user:password                            (Pipedrive v2)

Faults (`configure_faults`, POST /_sandbox/webhooks/faults), all shares in [0, 1], seeded:

    duplicate_rate   the delivery is sent again afterwards, as the vendor's redelivery (attempt + 1)
    reorder_window   deliveries are released in shuffled batches of this many (0/1: in order)
    delay_ms         each delivery waits this long (plus up to delay_jitter_ms) before it is sent
    drop_rate        the delivery is lost: never sent (what a periodic reconcile must catch)
    mis_sign_rate    the first attempt carries a wrong signature; the vendor's retry is right
    forge_rate       an extra copy with a tampered body and a signature made with a wrong secret
    unsigned_rate    an extra copy with no signature at all
    stale_rate       an extra copy replayed as if long after (stale_age_s): the vendor's time
                     fields (prepare hook) and timestamp signers move back, the signature is valid

Genuine deliveries (and duplicates) are retried on a non-2xx answer or a network error, up
to max_attempts with doubling backoff, like a vendor's at-least-once delivery; forged,
unsigned and stale copies are sent once. Every attempt is in the log with its answer and
latency. Targets must be loopback unless the sender is built with allow_remote=True.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from werkzeug.wrappers import Request, Response

Kind = Literal["genuine", "duplicate", "forged", "unsigned", "stale"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: HubSpot decodes these in the URI before signing
_HUBSPOT_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
                    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


# -- signers ----------------------------------------------------------------------------------


class Signer(Protocol):
    name: str

    def headers(self, method: str, url: str, body: bytes, now: float) -> dict[str, str]: ...

    def wrong(self) -> Signer:
        """The same scheme with a wrong secret (what a forger without the secret produces)."""
        ...


@dataclass(frozen=True)
class HmacSigner:
    secret: str
    header: str = "X-Hub-Signature"
    algorithm: str = "sha1"
    prefix: str = "sha1="
    name: str = "hmac-sha1"

    def headers(self, method: str, url: str, body: bytes, now: float) -> dict[str, str]:
        digest = hmac.new(self.secret.encode(), body, getattr(hashlib, self.algorithm)).hexdigest()
        return {self.header: self.prefix + digest}

    def wrong(self) -> Signer:
        return replace(self, secret=self.secret + "-forged")


@dataclass(frozen=True)
class HubSpotV3Signer:
    secret: str
    name: str = "hubspot-v3"

    def headers(self, method: str, url: str, body: bytes, now: float) -> dict[str, str]:
        timestamp = str(int(now * 1000))
        uri = url
        for encoded, plain in _HUBSPOT_DECODED.items():
            uri = uri.replace(encoded, plain)
        source = method.encode() + uri.encode() + body + timestamp.encode()
        signature = base64.b64encode(hmac.new(self.secret.encode(), source, hashlib.sha256).digest()).decode()
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}

    def wrong(self) -> Signer:
        return replace(self, secret=self.secret + "-forged")


@dataclass(frozen=True)
class BasicSigner:
    username: str
    password: str
    name: str = "basic"

    def headers(self, method: str, url: str, body: bytes, now: float) -> dict[str, str]:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def wrong(self) -> Signer:
        return replace(self, password=self.password + "-forged")


def build_signer(name: str, config: dict[str, Any]) -> Signer:
    """A signer from its name and settings (secret, or username and password)."""
    if name == "basic":
        return BasicSigner(str(config["username"]), str(config["password"]))
    secret = str(config["secret"])
    if name == "hmac-sha1":
        return HmacSigner(secret)
    if name == "hmac-sha256":
        return HmacSigner(secret, header="X-Hub-Signature-256", algorithm="sha256", prefix="sha256=",
                          name="hmac-sha256")
    if name == "hubspot-v3":
        return HubSpotV3Signer(secret)
    raise ValueError(f"unknown signer {name!r}: hmac-sha1, hmac-sha256, hubspot-v3 or basic")


# -- what is sent -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One vendor event: its delivery id (stable across retries), topic and JSON payload."""

    id: str
    topic: str
    payload: Any


#: (payload, attempt number, seconds to age it by) -> the payload as that attempt sends it
Prepare = Callable[[Any, int, float], Any]
#: payload -> the payload a forger would send instead (the vendor knows which field matters)
Tamper = Callable[[Any], Any]


def _same(payload: Any, attempt: int, age_s: float) -> Any:
    return payload


def _tampered(payload: Any) -> Any:
    return {"forged": True, "original": payload}


@dataclass
class DeliveryFaults:
    duplicate_rate: float = 0.0
    reorder_window: int = 0
    delay_ms: int = 0
    delay_jitter_ms: int = 0
    drop_rate: float = 0.0
    mis_sign_rate: float = 0.0
    forge_rate: float = 0.0
    unsigned_rate: float = 0.0
    stale_rate: float = 0.0
    stale_age_s: float = 30 * 86_400.0
    seed: int = 7

    def update(self, changes: dict[str, Any]) -> DeliveryFaults:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown webhook faults: {sorted(unknown)}; known: {sorted(known)}")
        new = replace(self, **changes)
        for name in ("duplicate_rate", "drop_rate", "mis_sign_rate", "forge_rate", "unsigned_rate", "stale_rate"):
            value = getattr(new, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in ("reorder_window", "delay_ms", "delay_jitter_ms", "seed"):
            value = getattr(new, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if isinstance(new.stale_age_s, bool) or not isinstance(new.stale_age_s, (int, float)) or new.stale_age_s < 0:
            raise ValueError("stale_age_s must be a non-negative number")
        return new


@dataclass
class _Delivery:
    notification: Notification
    kind: Kind
    attempt: int = 1
    mis_signed: bool = False


@dataclass
class _Target:
    url: str
    signer: Signer
    max_attempts: int = 4
    retry_backoff_s: float = 0.2
    timeout_s: float = 10.0


@dataclass
class LogEntry:
    id: str
    topic: str
    kind: str
    attempt: int
    status: int | None
    latency_ms: float | None
    error: str | None = None
    mis_signed: bool = False
    at: float = field(default_factory=time.time)


class WebhookSender:
    """Delivers notifications on background threads; see the module docstring."""

    def __init__(self, *, prepare: Prepare = _same, tamper: Tamper = _tampered, concurrency: int = 4,
                 clock: Callable[[], float] = time.time, allow_remote: bool = False, log_size: int = 50_000,
                 reorder_hold_s: float = 0.2, prefix: str = "/_sandbox/webhooks") -> None:
        self.prepare, self.tamper, self.clock = prepare, tamper, clock
        self.allow_remote = allow_remote
        self.reorder_hold_s = reorder_hold_s
        self.prefix = prefix.rstrip("/")
        self.faults = DeliveryFaults()
        self.stats: Counter[str] = Counter()
        self.log: deque[LogEntry] = deque(maxlen=log_size)
        self._target: _Target | None = None
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._held: list[_Delivery] = []
        self._held_since: float | None = None
        self._outbox: queue.Queue[_Delivery | None] = queue.Queue()
        self._local = threading.local()
        self._concurrency = concurrency
        self._threads: list[threading.Thread] = []

    def _start(self) -> None:
        """Threads start with the first target: a sandbox nobody configures runs none."""
        if self._threads:
            return
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"webhook-sender-{i}")
                         for i in range(self._concurrency)]
        self._threads.append(threading.Thread(target=self._release_held, daemon=True, name="webhook-reorder"))
        for thread in self._threads:
            thread.start()

    # -- configuration ---------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        return self._target is not None

    def configure(self, url: str, signer: str | Signer = "hmac-sha1", *, max_attempts: int = 4,
                  retry_backoff_s: float = 0.2, timeout_s: float = 10.0, **settings: Any) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http(s) URL")
        if not self.allow_remote and parts.hostname not in LOOPBACK:
            raise ValueError("this sender delivers to loopback addresses only")
        if not 1 <= max_attempts <= 20:
            raise ValueError("max_attempts must be between 1 and 20")
        built = signer if not isinstance(signer, str) else build_signer(signer, settings)
        with self._lock:
            self._target = _Target(url, built, max_attempts, retry_backoff_s, timeout_s)
            self._start()

    def unconfigure(self) -> None:
        with self._lock:
            self._target = None

    def configure_faults(self, changes: dict[str, Any]) -> DeliveryFaults:
        new = self.faults.update(changes)
        with self._lock:
            self.faults = new
            if "seed" in changes:
                self._rng = random.Random(new.seed)
        return new

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()
            self.stats.clear()

    # -- sending ------------------------------------------------------------------------------

    def send(self, notification: Notification) -> None:
        """Queue a notification: returns at once; the faults decide what happens to it."""
        with self._lock:
            if self._target is None:
                self.stats["unconfigured"] += 1
                return
            faults, rng = self.faults, self._rng
            self.stats["notifications"] += 1
            if rng.random() < faults.drop_rate:
                self.stats["dropped"] += 1
                self.log.append(LogEntry(notification.id, notification.topic, "dropped", 0, None, None))
                return
            batch = [_Delivery(notification, "genuine", mis_signed=rng.random() < faults.mis_sign_rate)]
            if rng.random() < faults.duplicate_rate:
                batch.append(_Delivery(notification, "duplicate", attempt=2))
            for kind, rate in (("forged", faults.forge_rate), ("unsigned", faults.unsigned_rate),
                               ("stale", faults.stale_rate)):
                if rng.random() < rate:
                    batch.append(_Delivery(notification, kind))  # type: ignore[arg-type]
            self._pending += len(batch)
            if faults.reorder_window > 1:
                if not self._held:
                    self._held_since = time.monotonic()
                self._held.extend(batch)
                if len(self._held) >= faults.reorder_window:
                    self._release_locked()
                return
        for delivery in batch:
            self._outbox.put(delivery)

    def send_many(self, notifications: Iterable[Notification]) -> None:
        for notification in notifications:
            self.send(notification)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Release held deliveries and wait until every delivery was answered or given up."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._release_locked()
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.5))
        return True

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def _release_locked(self) -> None:
        held, self._held, self._held_since = self._held, [], None
        self._rng.shuffle(held)
        for delivery in held:
            self._outbox.put(delivery)

    def _release_held(self) -> None:
        """A partial reorder batch does not wait forever."""
        while True:
            time.sleep(self.reorder_hold_s / 2)
            with self._lock:
                if self._held_since is not None and time.monotonic() - self._held_since >= self.reorder_hold_s:
                    self._release_locked()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(follow_redirects=False)
            self._local.client = client
        return client

    def _work(self) -> None:
        while True:
            delivery = self._outbox.get()
            if delivery is None:
                return
            with self._lock:
                faults, target = self.faults, self._target
                delay = (faults.delay_ms + (self._rng.randint(0, faults.delay_jitter_ms) if faults.delay_jitter_ms else 0)) / 1000
            if delay:
                time.sleep(delay)
            retry_in = self._attempt(delivery, target, faults) if target is not None else None
            if retry_in is not None:
                delivery.attempt += 1
                delivery.mis_signed = False
                threading.Timer(retry_in, self._outbox.put, args=(delivery,)).start()
                continue
            with self._lock:
                self._pending -= 1
                if self._pending <= 0:
                    self._idle.notify_all()

    def _attempt(self, delivery: _Delivery, target: _Target, faults: DeliveryFaults) -> float | None:
        """Send one attempt; the seconds until the next one, or None when it is done."""
        note, kind = delivery.notification, delivery.kind
        now = self.clock()
        age = faults.stale_age_s if kind == "stale" else 0.0
        payload = self.prepare(note.payload, delivery.attempt, age)
        if kind == "forged":
            payload = self.tamper(payload)
        body = json.dumps(payload, separators=(",", ":")).encode()
        signer = target.signer.wrong() if kind == "forged" or delivery.mis_signed else target.signer
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "tributary-sandbox-webhooks/1.0"}
        if kind != "unsigned":
            headers.update(signer.headers("POST", target.url, body, now - age))
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = self._client().post(target.url, content=body, headers=headers, timeout=target.timeout_s).status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        latency = (time.perf_counter() - started) * 1000
        ok = status is not None and 200 <= status < 300
        with self._lock:
            self.log.append(LogEntry(note.id, note.topic, kind, delivery.attempt, status, round(latency, 2), error,
                                     delivery.mis_signed))
            self.stats[f"{kind}:{status if status is not None else 'error'}"] += 1
            self.stats["attempts"] += 1
        retriable = kind in ("genuine", "duplicate")
        if ok or not retriable or delivery.attempt >= target.max_attempts:
            if retriable and not ok:
                with self._lock:
                    self.stats["gave_up"] += 1
            return None
        return float(target.retry_backoff_s * 2 ** (delivery.attempt - 1))

    # -- control routes -------------------------------------------------------------------

    def handles(self, request: Request) -> bool:
        return request.path == self.prefix or request.path.startswith(self.prefix + "/")

    def state(self) -> dict[str, Any]:
        with self._lock:
            target = self._target
            return {
                "target": None if target is None else {
                    "url": target.url, "signer": target.signer.name, "max_attempts": target.max_attempts,
                    "retry_backoff_s": target.retry_backoff_s},
                "faults": asdict(self.faults),
                "stats": dict(self.stats),
                "pending": self._pending,
            }

    def dispatch(self, request: Request) -> Response:
        route = request.path[len(self.prefix):].strip("/")
        try:
            body = _json_body(request)
            if route == "" and request.method == "GET":
                return _json(self.state())
            if route == "" and request.method == "POST":
                settings = dict(body)
                url, signer = settings.pop("url", None), settings.pop("signer", "hmac-sha1")
                if not isinstance(url, str):
                    raise ValueError("url is required")
                self.configure(url, signer, **settings)
                return _json(self.state())
            if route == "" and request.method == "DELETE":
                self.unconfigure()
                return _json(self.state())
            if route == "faults" and request.method in ("GET", "POST"):
                if request.method == "POST":
                    self.configure_faults(body)
                return _json(asdict(self.faults))
            if route == "flush" and request.method == "POST":
                flushed = self.flush(float(body.get("timeout_s", 30.0)))
                return _json({**self.state(), "flushed": flushed})
            if route == "log" and request.method == "GET":
                limit = int(request.args.get("limit", "1000"))
                kind = request.args.get("kind")
                with self._lock:
                    entries = [asdict(e) for e in self.log if kind is None or e.kind == kind]
                return _json({"entries": entries[-limit:], "total": len(entries)})
            if route == "log" and request.method == "DELETE":
                self.clear_log()
                return _json(self.state())
        except (ValueError, TypeError, KeyError) as exc:
            return _json({"error": "parameter_invalid", "message": str(exc)}, 400)
        return _json({"error": "not_found", "message": f"no webhook control {request.method} {request.path}"}, 404)


def _json_body(request: Request) -> dict[str, Any]:
    if request.method not in ("POST", "PUT") or not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
