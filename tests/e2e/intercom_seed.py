"""A small, hand-checkable Intercom data set, written to the Firestore emulator the way a
sync writes it: raw payloads through the ingest path (raw models, mappers, newer-wins)."""

from __future__ import annotations

from typing import Any

from shared.vendors.intercom import mappers
from shared.vendors.intercom.raw import RawAdmin, RawCompany, RawContact, RawConversation

DAY = 86_400
T0 = 1_764_547_200  # 2025-12-01T00:00:00Z


def at(day: int, hour: int = 0) -> int:
    return T0 + day * DAY + hour * 3600


def contact(cid: str, name: str | None, email: str | None, role: str, *, created: int, updated: int,
            seen: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "contact", "id": cid, "role": role, "name": name, "email": email,
        "created_at": created, "updated_at": updated, "last_seen_at": seen,
        "custom_attributes": {"plan": "free"}, **extra,
    }


CONTACTS: list[dict[str, Any]] = [
    contact("c01", "Ada Lovelace", "Ada.Lovelace@Example.com", "user", created=at(0), updated=at(10), seen=at(11)),
    contact("c02", "adam smith", "adam@example.com", "lead", created=at(1), updated=at(12), seen=at(12)),
    contact("c03", "Bob Brown", "bob@example.com", "user", created=at(2), updated=at(10), seen=None),
    contact("c04", "Béa Martin", "bea@example.com", "user", created=at(3), updated=at(9), seen=at(9)),
    contact("c05", None, "anon@example.com", "lead", created=at(4), updated=at(8), seen=None),
    contact("c06", "ADA King", "ada.king@example.com", "lead", created=at(5), updated=at(10), seen=at(6)),
]
# Filler for pagination: same updated_at for many (ties broken by id), names z-prefixed.
CONTACTS += [
    contact(f"c{n:02d}", f"Zed {n:02d}", f"zed{n:02d}@example.com", "user" if n % 2 else "lead",
            created=at(n), updated=at(20 + n % 3), seen=at(21) if n % 4 else None)
    for n in range(7, 26)
]

COMPANIES: list[dict[str, Any]] = [
    {"type": "company", "id": f"co{n}", "company_id": f"ext-{n}", "name": name, "created_at": at(n), "updated_at": at(n + 1)}
    for n, name in enumerate(["Acme", "acme labs", "Acorn", "Beta Corp", "Gamma", "ACME Europe", "Delta"])
]

ADMINS: list[dict[str, Any]] = [
    {"type": "admin", "id": "101", "name": "Grace", "email": "grace@example.com", "team_ids": [7]},
    {"type": "admin", "id": "102", "name": "Alan", "email": "alan@example.com", "team_ids": []},
    {"type": "admin", "id": "103", "name": "Edsger", "email": "edsger@example.com", "team_ids": [7, 8]},
]


def conversation(vid: str, created: int, state: str, admin: int | None, reply_s: int | None,
                 updated: int | None = None) -> dict[str, Any]:
    stats = {"time_to_admin_reply": reply_s, "first_admin_reply_at": created + reply_s if reply_s else None}
    return {
        "type": "conversation", "id": vid, "created_at": created, "updated_at": updated or created + 7200,
        "state": state, "open": state != "closed", "admin_assignee_id": admin, "statistics": stats,
    }


# Stats, hand-computed (days 2025-12-10 .. 2025-12-12):
#   12-10: v1 open 101 60s, v2 closed 101 120s, v3 closed 102 -
#   12-11: v4 snoozed 102 30s, v5 closed None -
#   12-12: v6 open 101 600s, v7 closed 103 90s, v8 closed 101 240s
#   outside: v0 on 12-09 (closed 101 5s), v9 on 12-13 (open 102 1s)
# All in 12-10..12-12: total 8; states open 2 closed 5 snoozed 1; admins 101:4 102:2 103:1 None:1
#   reply times sorted [30, 60, 90, 120, 240, 600] -> median (90+120)/2 = 105, p90 rank ceil(5.4)=6 -> 600
# admin 101 only: total 4; days 2,0,2; replies [60,120,240,600] -> median 180, p90 rank 4 -> 600
CONVERSATIONS: list[dict[str, Any]] = [
    conversation("v0", at(8, 23), "closed", 101, 5),
    conversation("v1", at(9, 1), "open", 101, 60),
    conversation("v2", at(9, 5), "closed", 101, 120),
    conversation("v3", at(9, 23), "closed", 102, None),
    conversation("v4", at(10, 0), "snoozed", 102, 30),
    conversation("v5", at(10, 12), "closed", None, None),
    conversation("v6", at(11, 3), "open", 101, 600, updated=at(30)),
    conversation("v7", at(11, 4), "closed", 103, 90),
    conversation("v8", at(11, 23), "closed", 101, 240),
    conversation("v9", at(12, 0), "open", 102, 1),
]

STREAMS = {
    "contacts": (RawContact, mappers.contact),
    "companies": (RawCompany, mappers.company),
    "admins": (RawAdmin, mappers.admin),
    "conversations": (RawConversation, mappers.conversation),
}


def mapped(stream: str, raw: dict[str, Any]) -> dict[str, Any]:
    model, mapper = STREAMS[stream]
    return mapper(model.model_validate(raw))  # type: ignore[operator]


def seed(db: Any, connection_id: str, stream: str, raws: list[dict[str, Any]], run_id: str = "seed") -> None:
    from tests.e2e.serving_world import seed as ingest_records

    ingest_records(db, connection_id, "intercom", stream, raws, run_id)


def seed_all(db: Any, connection_id: str) -> None:
    seed(db, connection_id, "contacts", CONTACTS)
    seed(db, connection_id, "companies", COMPANIES)
    seed(db, connection_id, "admins", ADMINS)
    seed(db, connection_id, "conversations", CONVERSATIONS)
