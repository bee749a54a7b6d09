"""The sandbox Pipedrive: routes, per-token burst limits, a daily token budget per company,
the block that follows repeated calls after 429s, and fault injection.

    GET  /api/v1/{person,organization,deal}Fields   start/limit, additional_data.pagination
    GET  /api/v2/{persons,organizations,deals,activities}
         cursor/limit (<= 500), updated_since (RFC 3339, inclusive), sort_by id|update_time,
         sort_direction, person_id (activities); additional_data.next_cursor
    GET  /api/v2/{kind}/{id}, POST /api/v2/activities, GET /api/v1/users/me

Auth is the `x-api-token` header (or `api_token` query parameter); a token sees only its
own account. Limits (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting):
`burst` requests per token per 2-second window, reported as x-ratelimit-limit /
-remaining / -reset (seconds to the window's end); a daily budget of tokens per company,
each call charged by kind (list 20, one item 2, write 10), reported as
x-daily-requests-left; over either, 429 with Retry-After. A token that keeps calling while
refused (`block_after` refusals in a row) is blocked (403) for `block_s` seconds.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from devtools.sandboxes.pipedrive.data import Account, Ids, activity, iso, seed

KINDS = ("persons", "organizations", "deals", "activities")
COST = {"list": 20, "one": 2, "write": 10}
WINDOW_S = 2.0


@dataclass
class Fault:
    """The next `times` requests matching (method, path prefix) fail: `status` (a 5xx or
    429), or "timeout": the request is carried out, then the answer is held `delay_s` (the
    caller times out after the sandbox accepted it, as a slow Pipedrive would)."""

    method: str
    prefix: str
    times: int
    status: int | str = 500
    delay_s: float = 5.0


@dataclass
class Limits:
    burst: int = 20
    daily_tokens: int = 30_000 * 5
    block_after: int = 10
    block_s: float = 60.0


@dataclass
class TokenState:
    window_start: float = 0.0
    used: int = 0
    refused_in_a_row: int = 0
    blocked_until: float = 0.0


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    #: token -> the most requests it got answered within one window
    peak_window: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    return int(json.loads(base64.urlsafe_b64decode(padded))["o"])


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class PipedriveSandbox:
    def __init__(self, limits: Limits | None = None, now: Callable[[], float] = time.time, seed_: int = 7) -> None:
        self.accounts: dict[str, Account] = {}
        self.ids = Ids()
        self.limits = limits or Limits()
        self.now = now
        self.rng = random.Random(seed_)
        self.faults: list[Fault] = []
        self.stats = Stats()
        self._tokens: dict[str, TokenState] = defaultdict(TokenState)
        self._daily: dict[tuple[str, str], int] = defaultdict(int)
        self._lock = threading.Lock()

    # -- setup and control (tests and the dev stack) -----------------------------------------

    def add_account(self, token: str, persons: int = 50, company: str = "acme") -> Account:
        account = Account(token=token, user_id=self.ids.take(), company=company)
        seed(account, self.ids, persons, self.rng, datetime.fromtimestamp(self.now(), tz=timezone.utc))
        self.accounts[token] = account
        return account

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def touch(self, token: str, kind: str, item_id: int, **changes: Any) -> dict[str, Any]:
        """Change a record as a user would in Pipedrive (its update_time moves to now)."""
        record = self.accounts[token].collection(kind)[item_id]
        record.update(changes, update_time=iso(datetime.fromtimestamp(self.now(), tz=timezone.utc)))
        return record

    def delete(self, token: str, kind: str, item_id: int) -> None:
        """Delete as Pipedrive does: v2 lists leave the item out from then on."""
        self.touch(token, kind, item_id, is_deleted=True)

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        status, body, headers, delay = self.handle(
            request.method, request.path, dict(request.args), request.headers.get("x-api-token")
            or request.args.get("api_token"), request.get_data(),
        )
        if delay:
            time.sleep(delay)
        return Response(json.dumps(body), status, headers=headers, mimetype="application/json")(environ, start_response)

    def handle(self, method: str, path: str, args: dict[str, str], token: str | None, data: bytes
               ) -> tuple[int, Any, dict[str, str], float]:
        account = self.accounts.get(token or "")
        if account is None:
            return 401, {"success": False, "error": "unauthorized access", "errorCode": 401}, {}, 0.0
        kind = "write" if method in ("POST", "PUT", "PATCH", "DELETE") else ("one" if path.rstrip("/").split("/")[-1].isdigit() or path.endswith("/me") else "list")
        allowed, headers, refusal = self._admit(account, kind)
        self.stats.requests[account.token] += 1
        if not allowed:
            return refusal[0], refusal[1], headers, 0.0
        fault = self._fault(method, path)
        if fault is not None and fault.status != "timeout":
            return int(fault.status), {"success": False, "error": "Injected failure"}, headers, 0.0
        try:
            status, body = self._route(account, method, path, args, data)
        except (KeyError, ValueError, TypeError) as exc:
            status, body = 400, {"success": False, "error": f"Bad request: {exc}"}
        return status, body, headers, (fault.delay_s if fault is not None else 0.0)

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and path.startswith(fault.prefix):
                    fault.times -= 1
                    return fault
        return None

    def _admit(self, account: Account, kind: str) -> tuple[bool, dict[str, str], tuple[int, Any]]:
        now = self.now()
        day = datetime.fromtimestamp(now, tz=timezone.utc).date().isoformat()
        with self._lock:
            state = self._tokens[account.token]
            if state.blocked_until > now:
                self.stats.blocked[account.token] += 1
                return False, {}, (403, {"success": False, "error": "Blocked: too many requests after 429s"})
            start = now // WINDOW_S * WINDOW_S
            if start != state.window_start:
                state.window_start, state.used = start, 0
            spent = self._daily[(account.company, day)]
            reset = max(1, int(start + WINDOW_S - now + 0.999))
            over_daily = spent + COST[kind] > self.limits.daily_tokens
            over_burst = state.used >= self.limits.burst
            if over_daily or over_burst:
                state.refused_in_a_row += 1
                self.stats.refused[account.token] += 1
                if state.refused_in_a_row >= self.limits.block_after:
                    state.blocked_until = now + self.limits.block_s
                midnight = (now // 86_400 + 1) * 86_400
                retry = int(midnight - now) + 1 if over_daily else reset
                headers = self._headers(state, reset, spent) | {"Retry-After": str(retry)}
                return False, headers, (429, {"success": False, "error": "Request over limit", "errorCode": 429})
            state.refused_in_a_row = 0
            state.used += 1
            self.stats.peak_window[account.token] = max(self.stats.peak_window[account.token], state.used)
            self._daily[(account.company, day)] = spent + COST[kind]
            return True, self._headers(state, reset, spent + COST[kind]), (200, None)

    def _headers(self, state: TokenState, reset: int, spent: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limits.burst),
            "x-ratelimit-remaining": str(max(0, self.limits.burst - state.used)),
            "x-ratelimit-reset": str(reset),
            "x-daily-requests-left": str(max(0, self.limits.daily_tokens - spent)),
        }

    # -- routes ----------------------------------------------------------------------------------

    def _route(self, account: Account, method: str, path: str, args: dict[str, str], data: bytes) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"] and len(parts) == 3 and parts[2].endswith("Fields") and method == "GET":
            kind = {"personFields": "person_fields", "organizationFields": "organization_fields",
                    "dealFields": "deal_fields"}.get(parts[2])
            if kind is None:
                return 404, {"success": False, "error": "Unknown method ."}
            return 200, self._v1_page(getattr(account, kind), args)
        if parts == ["api", "v1", "users", "me"]:
            return 200, {"success": True, "data": {"id": account.user_id, "company_domain": account.company}}
        if parts[:2] == ["api", "v2"] and len(parts) >= 3 and parts[2] in KINDS:
            kind = parts[2]
            if len(parts) == 3 and method == "GET":
                return 200, self._v2_page(account, kind, args)
            if len(parts) == 3 and method == "POST" and kind == "activities":
                return 200, {"success": True, "data": self._create_activity(account, json.loads(data or b"{}"))}
            if len(parts) == 4 and method == "GET":
                record = account.collection(kind).get(int(parts[3]))
                if record is None or record.get("is_deleted"):
                    return 404, {"success": False, "error": "Not found"}
                return 200, {"success": True, "data": record}
        return 404, {"success": False, "error": f"Unknown method {method} {path}"}

    @staticmethod
    def _v1_page(items: list[dict[str, Any]], args: dict[str, str]) -> dict[str, Any]:
        start, limit = int(args.get("start", 0)), min(500, int(args.get("limit", 100)))
        page = items[start : start + limit]
        more = start + limit < len(items)
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return {"success": True, "data": page, "additional_data": {"pagination": pagination}}

    def _v2_page(self, account: Account, kind: str, args: dict[str, str]) -> dict[str, Any]:
        limit = int(args.get("limit", 100))
        if not 1 <= limit <= 500:
            raise ValueError("limit must be 1 to 500")
        with account.lock:
            items = [r for r in account.collection(kind).values() if not r.get("is_deleted")]
        if args.get("updated_since"):
            since = _parse_time(args["updated_since"])
            items = [r for r in items if _parse_time(r["update_time"]) >= since]
        if args.get("person_id"):
            items = [r for r in items if r.get("person_id") == int(args["person_id"])]
        sort_by = args.get("sort_by", "id")
        if sort_by not in ("id", "update_time", "add_time"):
            raise ValueError("sort_by must be id, update_time or add_time")
        items.sort(key=lambda r: (r[sort_by], r["id"]), reverse=args.get("sort_direction") == "desc")
        offset = _offset(args["cursor"]) if args.get("cursor") else 0
        page = items[offset : offset + limit]
        wanted = set((args.get("include_fields") or "").split(","))
        optional = ("last_activity_date", "last_incoming_mail_time", "last_outgoing_mail_time")
        page = [{k: v for k, v in r.items() if k not in optional or k in wanted} for r in page]
        more = offset + limit < len(items)
        return {"success": True, "data": page, "additional_data": {"next_cursor": _cursor(offset + limit) if more else None}}

    def _create_activity(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        participants = body.get("participants") or []
        person_id = int(participants[0]["person_id"]) if participants else None
        if person_id is None or person_id not in account.persons:
            raise ValueError("participants must name one of your persons")
        aid = self.ids.take()
        now = datetime.fromtimestamp(self.now(), tz=timezone.utc)
        record = activity(aid, account.user_id, person_id, str(body.get("type") or "task"),
                          str(body.get("subject") or ""), str(body.get("note") or ""), now, bool(body.get("done")))
        with account.lock:
            account.activities[aid] = record
            person = account.persons[person_id]
            person["last_activity_date"] = now.date().isoformat()
            person["update_time"] = iso(now)
        self.stats.created[account.token] += 1
        return record
