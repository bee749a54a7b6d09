"""The sandbox's records: one account per API token (a salesperson), seeded repeatably.

Each account is one user of a company: its token sees only its own persons,
organizations, deals and activities (as a user whose visibility is "owner only"). Custom
fields are keyed by 40-character hashes that differ per company, as in Pipedrive.

`Store` holds the accounts (the launch token's first, then `users - 1` more with the
fixed tokens of EXTRA_TOKENS), their meters (limits.py), their registered webhooks and the
one-shot faults; `touch`/`delete`/`create_activity` change records as a user would and tell
the account's webhooks (webhooks.py).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Margaret", "Linus", "Radia", "Tim", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Hamilton", "Torvalds", "Perlman")


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def field_key(company: str, name: str) -> str:
    return hashlib.sha1(f"{company}:{name}".encode()).hexdigest()  # 40 hex characters


@dataclass
class Account:
    token: str
    user_id: int
    company: str
    persons: dict[int, dict[str, Any]] = field(default_factory=dict)
    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    activities: dict[int, dict[str, Any]] = field(default_factory=dict)
    person_fields: list[dict[str, Any]] = field(default_factory=list)
    organization_fields: list[dict[str, Any]] = field(default_factory=list)
    deal_fields: list[dict[str, Any]] = field(default_factory=list)
    #: the user's visibility: False sees their own records only; True the whole company's
    #: (Pipedrive's visibility groups / an admin), what makes `owner_id` matter
    sees_company: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def collection(self, name: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = getattr(self, name)
        return found


class Ids:
    """Ids unique across the sandbox (Pipedrive ids are global integers)."""

    def __init__(self, start: int = 1000) -> None:
        self._next = start
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


def _fields(company: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    def standard(n: int, key: str, name: str, kind: str) -> dict[str, Any]:
        return {"id": n, "key": key, "name": name, "field_type": kind, "edit_flag": False, "options": None}

    def custom(n: int, name: str, kind: str, options: list[str] | None = None) -> dict[str, Any]:
        opts = [{"id": 100 + i, "label": label} for i, label in enumerate(options)] if options else None
        return {"id": n, "key": field_key(company, name), "name": name, "field_type": kind, "edit_flag": True,
                "options": opts}

    persons = [standard(1, "name", "Name", "varchar"), standard(2, "email", "Email", "varchar"),
               custom(9001, "Added to campaign", "enum", ["Yes", "No"]), custom(9002, "Lead source", "varchar")]
    orgs = [standard(1, "name", "Name", "varchar"), custom(9101, "Segment", "enum", ["SMB", "Mid", "Enterprise"])]
    deals = [standard(1, "title", "Title", "varchar"), custom(9201, "Competitor", "varchar")]
    return persons, orgs, deals


def seed(account: Account, ids: Ids, persons: int, rng: random.Random, now: datetime) -> None:
    """Records dated back from `now` (recency drives warmness)."""
    T0 = now
    company = account.company
    account.person_fields, account.organization_fields, account.deal_fields = _fields(company)
    campaign, source = field_key(company, "Added to campaign"), field_key(company, "Lead source")
    segment, competitor = field_key(company, "Segment"), field_key(company, "Competitor")
    orgs = max(1, persons // 10)
    for _ in range(orgs):
        oid = ids.take()
        t = T0 - timedelta(days=rng.randint(30, 400))
        account.organizations[oid] = {
            "id": oid, "name": f"{rng.choice(LAST)} {rng.choice(('Labs', 'GmbH', 'Inc', 'Oy'))} {oid}",
            "owner_id": account.user_id, "add_time": iso(t), "update_time": iso(t + timedelta(days=3)),
            "address": {"value": "Tallinn"}, "is_deleted": False, "custom_fields": {segment: rng.choice((100, 101, 102))},
        }
    org_ids = list(account.organizations)
    for n in range(persons):
        pid = ids.take()
        first, last = rng.choice(FIRST), rng.choice(LAST)
        added = T0 - timedelta(days=rng.randint(10, 500))
        mailed = T0 - timedelta(days=rng.uniform(0, 120)) if rng.random() < 0.7 else None
        acted = T0 - timedelta(days=rng.uniform(0, 90)) if rng.random() < 0.6 else None
        account.persons[pid] = {
            "id": pid, "name": f"{first} {last}", "first_name": first, "last_name": last,
            "owner_id": account.user_id, "org_id": rng.choice(org_ids),
            "add_time": iso(added), "update_time": iso(added + timedelta(days=rng.randint(0, 9))),
            "emails": [{"value": f"{first}.{last}.{pid}@example.com".lower(), "primary": True, "label": "work"}],
            "phones": [{"value": f"+372 5{n:07d}", "primary": True, "label": "mobile"}],
            "label_ids": [], "visible_to": 1, "is_deleted": False,
            "custom_fields": {campaign: rng.choice((100, 101, None)), source: rng.choice(("web", "event", None))},
            "last_activity_date": acted.date().isoformat() if acted else None,
            "last_incoming_mail_time": None,
            "last_outgoing_mail_time": iso(mailed) if mailed else None,
        }
    for pid in list(account.persons)[: max(1, persons // 5)]:
        did = ids.take()
        t = T0 - timedelta(days=rng.randint(1, 200))
        account.deals[did] = {
            "id": did, "title": f"Deal {did}", "value": float(rng.randint(1, 90) * 1000), "currency": "EUR",
            "status": rng.choice(("open", "won", "lost")), "owner_id": account.user_id, "person_id": pid,
            "org_id": account.persons[pid]["org_id"], "stage_id": 1, "pipeline_id": 1, "add_time": iso(t),
            "update_time": iso(t + timedelta(hours=5)), "is_deleted": False, "custom_fields": {competitor: None},
        }
    for pid in list(account.persons)[: max(1, persons // 3)]:
        aid = ids.take()
        t = T0 - timedelta(days=rng.randint(1, 90))
        account.activities[aid] = activity(aid, account.user_id, pid, "call", "Intro call", "", t, done=True)


def activity(aid: int, owner: int, person_id: int, kind: str, subject: str, note: str, at: datetime,
             done: bool = False) -> dict[str, Any]:
    return {
        "id": aid, "subject": subject, "type": kind, "owner_id": owner, "person_id": person_id,
        "participants": [{"person_id": person_id, "primary": True}], "org_id": None, "deal_id": None,
        "due_date": at.date().isoformat(), "due_time": None, "done": done, "note": note,
        "add_time": iso(at), "update_time": iso(at), "is_deleted": False,
    }


#: the tokens of the accounts after the first (make dev and the stack tests use them)
EXTRA_TOKENS = ("pd-token-bob", "pd-token-carol", "pd-token-dave", "pd-token-erin")
KINDS = ("persons", "organizations", "deals", "activities")


@dataclass
class Sizes:
    persons: int = 500
    #: accounts (users of one company): the first token, then EXTRA_TOKENS
    users: int = 2
    seed: int = 7
    company: str = "acme"


def tokens_for(first: str, users: int) -> list[str]:
    return list(dict.fromkeys([first, *EXTRA_TOKENS[: max(0, users - 1)]]))


class Store:
    """Every account by token, plus what the routes and controls share (meter, faults, hooks)."""

    def __init__(self, token: str, sizes: Sizes | None = None, now: Callable[[], float] = time.time) -> None:
        from devtools.sandboxes.pipedrive.limits import Faults, Limits, Meter
        from devtools.sandboxes.pipedrive.webhooks import Hooks

        self.token = token
        self._wall = now
        #: seconds the sandbox clock is ahead of the wall clock (POST /_sandbox/clock moves it:
        #: a test crosses midnight UTC, when the daily token budget resets)
        self.skew_s = 0.0
        self.meter = Meter(Limits(), self.now)
        self.faults = Faults()
        self.hooks = Hooks(self)
        self.accounts: dict[str, Account] = {}
        self.ids = Ids()
        self.reset(sizes or Sizes())

    def reset(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.accounts = {}
        self.ids = Ids()
        self.rng = random.Random(sizes.seed)
        for token in tokens_for(self.token, sizes.users):
            self.add_account(token, persons=sizes.persons, company=sizes.company)
        self.meter.reset()
        self.faults.clear()

    def add_account(self, token: str, persons: int = 50, company: str = "acme") -> Account:
        account = Account(token=token, user_id=self.ids.take(), company=company)
        seed(account, self.ids, persons, self.rng, datetime.fromtimestamp(self.now(), tz=timezone.utc))
        self.accounts[token] = account
        return account

    def now(self) -> float:
        return self._wall() + self.skew_s

    def sees(self, viewer: Account, owner: Account) -> bool:
        return viewer is owner or (viewer.sees_company and viewer.company == owner.company)

    def visible(self, viewer: Account, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` the viewer's token is shown (theirs, or the company's)."""
        found: list[dict[str, Any]] = []
        for owner in list(self.accounts.values()):
            if self.sees(viewer, owner):
                with owner.lock:
                    found += list(owner.collection(kind).values())
        return found

    def stamp(self) -> str:
        return iso(datetime.fromtimestamp(self.now(), tz=timezone.utc))

    def touch(self, token: str, kind: str, item_id: int, **changes: Any) -> dict[str, Any]:
        """Change a record as a user would in Pipedrive (its update_time moves to now)."""
        account = self.accounts[token]
        with account.lock:
            record = account.collection(kind)[item_id]
            previous = dict(record)
            record.update(changes, update_time=self.stamp())
        self.hooks.tell(account, "delete" if changes.get("is_deleted") else "change", kind, record, previous)
        return record

    def delete(self, token: str, kind: str, item_id: int) -> None:
        """Delete as Pipedrive does: v2 lists leave the item out from then on."""
        self.touch(token, kind, item_id, is_deleted=True)

    def create_activity(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
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
        self.meter.stats.created[account.token] += 1
        self.hooks.tell(account, "create", "activities", record, None)
        return record


def counts(store: Store) -> dict[str, Any]:
    first = store.accounts.get(store.token)
    per = {kind: sum(1 for r in first.collection(kind).values() if not r.get("is_deleted")) for kind in KINDS} if first else {}
    return {**per, "users": len(store.accounts), "tokens": list(store.accounts)}


def reset(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    from devtools.sandboxes.kit.params import int_fields

    values = int_fields(body, ("persons", "users", "seed"))
    store.reset(Sizes(**{**store.sizes.__dict__, **values}))
    return counts(store)
