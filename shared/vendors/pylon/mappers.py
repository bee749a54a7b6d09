"""Pylon payloads -> the documents we store. Times become UTC datetimes (Firestore
timestamps); names get a lower-cased copy for prefix search (Firestore has no ILIKE)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.vendors.pylon.raw import RawAccount, RawCustomField, RawIssue, RawMessage, RawTeam, RawUser

#: Pylon's states that end an issue; every other state (new, waiting_on_you,
#: waiting_on_customer, on_hold, custom ones) is open
CLOSED_STATES = frozenset({"closed"})


def ts(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _fields(raw: dict[str, RawCustomField] | None) -> dict[str, Any]:
    """Custom fields kept whole: slug -> value, or its values for multi-selects."""
    return {k: (f.values if f.values else f.value) for k, f in (raw or {}).items()}


def issue(raw: RawIssue) -> dict[str, Any]:
    return {
        "id": raw.id,
        "number": raw.number,
        "title": raw.title,
        "title_lower": _lower(raw.title),
        "state": raw.state,
        "open": (raw.state or "") not in CLOSED_STATES,
        "priority": raw.priority,
        "source": raw.source,
        "type": raw.type,
        "link": raw.link,
        "account_id": raw.account.id if raw.account else None,
        "assignee_id": raw.assignee.id if raw.assignee else None,
        "requester_id": raw.requester.id if raw.requester else None,
        "team_id": raw.team.id if raw.team else None,
        "tags": list(raw.tags or []),
        "custom_fields": _fields(raw.custom_fields),
        "created_at": ts(raw.created_at),
        "updated_at": ts(raw.updated_at),
        "latest_message_at": ts(raw.latest_message_time),
        "first_response_at": ts(raw.first_response_time),
        "resolved_at": ts(raw.resolution_time),
    }


def author_kind(raw: RawMessage) -> str:
    """"agent" (a Pylon user), "customer" (a contact) or "other" (bots, forms)."""
    if raw.author is None:
        return "other"
    if raw.author.user is not None and raw.author.user.id:
        return "agent"
    if raw.author.contact is not None and raw.author.contact.id:
        return "customer"
    return "other"


def message(raw: RawMessage) -> dict[str, Any]:
    author = raw.author
    return {
        "id": raw.id,
        "timestamp": ts(raw.timestamp),
        "is_private": raw.is_private,
        "source": raw.source,
        "thread_id": raw.thread_id,
        "author_kind": author_kind(raw),
        "author_name": author.name if author else None,
        "user_id": author.user.id if author and author.user else None,
        "contact_id": author.contact.id if author and author.contact else None,
        "message_html": raw.message_html,
    }


def account(raw: RawAccount) -> dict[str, Any]:
    return {
        "id": raw.id,
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "domain": raw.primary_domain or raw.domain,
        "domains": raw.domains,
        "type": raw.type,
        "owner_id": raw.owner.id if raw.owner else None,
        "tags": list(raw.tags or []),
        "custom_fields": _fields(raw.custom_fields),
        "created_at": ts(raw.created_at),
        "latest_customer_activity_at": ts(raw.latest_customer_activity_time),
    }


def user(raw: RawUser) -> dict[str, Any]:
    return {"id": raw.id, "name": raw.name, "name_lower": _lower(raw.name), "email": raw.email, "status": raw.status}


def team(raw: RawTeam) -> dict[str, Any]:
    members = [str(u.get("id")) for u in raw.users or [] if isinstance(u, dict) and u.get("id")]
    return {"id": raw.id, "name": raw.name, "user_ids": members}
