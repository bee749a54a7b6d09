"""The sandbox's records: one account per API token (a salesperson), seeded repeatably.

Each account is one user of a company: its token sees only its own persons,
organizations, deals and activities (as a user whose visibility is "owner only"). Custom
fields are keyed by 40-character hashes that differ per company, as in Pipedrive.
"""

from __future__ import annotations

import hashlib
import random
import threading
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
