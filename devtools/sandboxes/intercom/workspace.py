"""Workspace-level objects real clients read besides the records: tags, teams, segments.

Shapes follow components/schemas tag_list, team_list and segment_list (2.14). Teams are
derived from the admins' team_ids so GET /teams and GET /admins agree; segment counts (only
with ?include_count=true, as Intercom does) are computed from the contacts on request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.intercom.records import TAGS, TEAM_IDS, Admin, Contact

TEAM_NAMES = ("Support", "Success", "Billing", "Solutions")
SEGMENT_CREATED_AT = 1_700_000_000
DAY = 86_400


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    person_type: str  # user | contact (leads)
    matches: Callable[[Contact, int], bool]  # (contact, now) -> member?


SEGMENTS: tuple[Segment, ...] = (
    Segment("5f2a1c0e3d7cf900aa000001", "All users", "user", lambda c, now: c.role == "user"),
    Segment("5f2a1c0e3d7cf900aa000002", "All leads", "contact", lambda c, now: c.role == "lead"),
    Segment("5f2a1c0e3d7cf900aa000003", "Active", "user",
            lambda c, now: c.role == "user" and c.last_seen_at is not None and c.last_seen_at >= now - 30 * DAY),
    Segment("5f2a1c0e3d7cf900aa000004", "Slipping away", "user",
            lambda c, now: c.role == "user" and c.last_seen_at is not None and c.last_seen_at < now - 30 * DAY),
    Segment("5f2a1c0e3d7cf900aa000005", "VIP", "user", lambda c, now: TAGS[0][0] in c.tag_ids),
)


def tag_list() -> dict[str, Any]:
    return {"type": "list", "data": [{"type": "tag", "id": tag_id, "name": name} for tag_id, name in TAGS]}


def team_list(admins: Iterable[Admin]) -> dict[str, Any]:
    members: dict[int, list[int]] = {team: [] for team in TEAM_IDS}
    for admin in admins:
        for team in admin.team_ids:
            members.setdefault(team, []).append(int(admin.id))
    teams = [{"type": "team", "id": str(team), "name": TEAM_NAMES[i % len(TEAM_NAMES)], "admin_ids": ids,
              "admin_priority_level": {"primary_admin_ids": ids[:1], "secondary_admin_ids": ids[1:]},
              "assignment_limit": None, "distribution_method": "round_robin"}
             for i, (team, ids) in enumerate(sorted(members.items()))]
    return {"type": "team.list", "teams": teams}


def segment_list(contacts: Iterable[Contact], now: int, include_count: bool) -> dict[str, Any]:
    rows = list(contacts) if include_count else []
    segments = []
    for s in SEGMENTS:
        out: dict[str, Any] = {"type": "segment", "id": s.id, "name": s.name, "created_at": SEGMENT_CREATED_AT,
                               "updated_at": SEGMENT_CREATED_AT, "person_type": s.person_type}
        if include_count:
            out["count"] = sum(1 for c in rows if s.matches(c, now))
        segments.append(out)
    return {"type": "segment.list", "segments": segments, "pages": {}}
