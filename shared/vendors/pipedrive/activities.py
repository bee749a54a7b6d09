"""Logging a call, email, meeting or note on a contact: stored here first, created in
Pipedrive (POST /api/v2/activities) through the outbox when the contact is warm.

Pipedrive has no idempotency key, so each attempt carries a marker in the activity's note
(Pipedrive stores notes verbatim); before a retry the outbox lists the contact's activities
changed since shortly before the first attempt (GET /api/v2/activities?person_id=&
updated_since=) and adopts the one whose note carries the marker.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.vendors.connector import Create
from shared.vendors.pagination import PageRequest
from shared.vendors.pipedrive import warmness

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient

#: Pipedrive's activity types for these (their `key_string`s)
TYPES = {"call": "call", "email": "email", "meeting": "meeting", "note": "task"}


class LogActivity(BaseModel):
    """A call, email, meeting or note on the contact `key`."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["call", "email", "meeting", "note"]
    subject: str = Field(..., min_length=1, max_length=255)
    note: str = Field("", max_length=10_000)
    done: bool = True
    due_date: date | None = None


def _tag(marker: str) -> str:
    return f"[ref:{marker}]"


_TAGGED = re.compile(r"\[ref:(trib-[0-9a-f]{24})\]")


def activity_key(raw: dict[str, Any]) -> str | None:
    """An activity logged here is keyed by its marker, which Pipedrive keeps in the note: the
    record stored when it was logged, Pipedrive's answer and every later sync or webhook of it
    are one document. Any other activity is keyed by Pipedrive's id."""
    found = _TAGGED.search(str(raw.get("note") or ""))
    if found:
        return found.group(1)
    return str(raw["id"]) if raw.get("id") is not None else None


def _note(change: LogActivity, marker: str) -> str:
    return f"{change.note}\n\n{_tag(marker)}".strip()


def local(key: str, change: LogActivity, marker: str, state: str) -> dict[str, Any]:
    """The logged activity as Pipedrive would list it, before Pipedrive has it (no id, no
    update_time: Pipedrive's record, versioned, always replaces it)."""
    return {
        "id": None, "push_state": state, "subject": change.subject, "type": TYPES[change.kind], "done": change.done,
        "note": _note(change, marker), "person_id": int(key), "participants": [{"person_id": int(key), "primary": True}],
        "due_date": change.due_date.isoformat() if change.due_date else None,
        "add_time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def push(client: VendorClient, key: str, change: LogActivity, marker: str) -> dict[str, Any]:
    body = {
        "subject": change.subject,
        "type": TYPES[change.kind],
        "done": change.done,
        "note": _note(change, marker),
        "participants": [{"person_id": int(key), "primary": True}],
        **({"due_date": change.due_date.isoformat()} if change.due_date else {}),
    }
    answer = client.fetch(PageRequest(method="POST", path="/api/v2/activities", json_body=body))
    data: dict[str, Any] = answer.get("data") or {}
    return data


def find(client: VendorClient, key: str, change: LogActivity, marker: str, since: float) -> dict[str, Any] | None:
    params: dict[str, Any] = {
        "person_id": int(key),
        "updated_since": datetime.fromtimestamp(int(since), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "limit": 500,
    }
    cursor = None
    for _ in range(20):
        page = client.fetch(PageRequest(path="/api/v2/activities", params={**params, **({"cursor": cursor} if cursor else {})}))
        for item in page.get("data") or []:
            if _tag(marker) in str(item.get("note") or ""):
                found: dict[str, Any] = item
                return found
        cursor = (page.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def warm(person: dict[str, Any], config: dict[str, Any]) -> bool:
    settings = warmness.WarmnessConfig.model_validate(config.get("warmness") or {})
    priority = person.get("priority_at")
    return warmness.is_warm(priority if isinstance(priority, datetime) else None, settings)


LOG_ACTIVITY = Create(
    name="log-activity",
    target_stream="persons",
    stream="activities",
    input_model=LogActivity,
    push=push,
    find=find,
    wanted=warm,
    local=local,
    summary="Log a call, email, meeting or note on a contact; warm contacts get it in Pipedrive too",
)
