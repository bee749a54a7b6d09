"""Intercom payloads -> the documents we store. Times become UTC datetimes (Firestore
timestamps); searchable text gets a lower-cased copy because Firestore has no ILIKE."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.vendors.intercom.raw import RawAdmin, RawCompany, RawContact, RawConversation


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value else None


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def contact(raw: RawContact) -> dict[str, Any]:
    return {
        "id": raw.id,
        "role": raw.role,
        "external_id": raw.external_id,
        "email": raw.email,
        "email_lower": _lower(raw.email),
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "phone": raw.phone,
        "owner_id": str(raw.owner_id) if raw.owner_id is not None else None,
        "created_at": _ts(raw.created_at),
        "updated_at": _ts(raw.updated_at),
        "last_seen_at": _ts(raw.last_seen_at),
        "custom_attributes": raw.custom_attributes,
        "company_ids": [ref.id for ref in raw.companies.data] if raw.companies else [],
        "tags": [tag.name or tag.id for tag in raw.tags.data] if raw.tags else [],
        "country": raw.location.country if raw.location else None,
        "city": raw.location.city if raw.location else None,
    }


def company(raw: RawCompany) -> dict[str, Any]:
    return {
        "id": raw.id,
        "company_id": raw.company_id,
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "website": raw.website,
        "industry": raw.industry,
        "size": raw.size,
        "monthly_spend": raw.monthly_spend,
        "user_count": raw.user_count,
        "created_at": _ts(raw.created_at),
        "updated_at": _ts(raw.updated_at),
        "custom_attributes": raw.custom_attributes,
    }


def admin(raw: RawAdmin) -> dict[str, Any]:
    return {
        "id": raw.id,
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "email": raw.email,
        "job_title": raw.job_title,
        "away_mode_enabled": raw.away_mode_enabled,
        "team_ids": [str(t) for t in raw.team_ids],
    }


def conversation(raw: RawConversation) -> dict[str, Any]:
    stats = raw.statistics
    return {
        "id": raw.id,
        "title": raw.title,
        "state": raw.state,
        "open": raw.open,
        "read": raw.read,
        "priority": raw.priority,
        "admin_assignee_id": str(raw.admin_assignee_id) if raw.admin_assignee_id else None,
        "team_assignee_id": str(raw.team_assignee_id) if raw.team_assignee_id else None,
        "created_at": _ts(raw.created_at),
        "updated_at": _ts(raw.updated_at),
        "created_day": _ts(raw.created_at).date().isoformat() if raw.created_at else None,  # type: ignore[union-attr]
        "waiting_since": _ts(raw.waiting_since),
        "snoozed_until": _ts(raw.snoozed_until),
        "source_type": raw.source.type if raw.source else None,
        "subject": raw.source.subject if raw.source else None,
        "contact_ids": [c.id for c in raw.contacts.contacts] if raw.contacts else [],
        "tags": [t.name or t.id for t in raw.tags.tags] if raw.tags else [],
        "first_admin_reply_at": _ts(stats.first_admin_reply_at) if stats else None,
        "first_contact_reply_at": _ts(stats.first_contact_reply_at) if stats else None,
        "time_to_admin_reply_s": stats.time_to_admin_reply if stats else None,
        "custom_attributes": raw.custom_attributes,
    }
