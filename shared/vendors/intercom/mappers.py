"""Intercom payloads -> the documents we store. Times become UTC datetimes (Firestore
timestamps); searchable text gets a lower-cased copy because Firestore has no ILIKE."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.vendors.intercom.raw import (
    RawAdmin,
    RawCompany,
    RawContact,
    RawConversation,
    RawConversationPart,
    RawDataAttribute,
    RawSegment,
    RawTag,
    RawTeam,
)


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
    """The fields dashboards filter and chart on (the peers' conversation columns); the
    rest of Intercom's payload is kept whole under `raw` (keep_raw)."""
    stats = raw.statistics
    source = raw.source
    author = source.author if source else None
    rating = raw.conversation_rating
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
        "source_type": source.type if source else None,
        "source_id": source.id if source else None,
        "source_delivered_as": source.delivered_as if source else None,
        "source_url": source.url if source else None,
        "source_author_type": author.type if author else None,
        "source_author_id": author.id if author else None,
        "subject": source.subject if source else None,
        "contact_ids": [c.id for c in raw.contacts.contacts] if raw.contacts else [],
        "teammate_ids": [t.id for t in raw.teammates.teammates] if raw.teammates else [],
        "tags": [t.name or t.id for t in raw.tags.tags] if raw.tags else [],
        "first_admin_reply_at": _ts(stats.first_admin_reply_at) if stats else None,
        "first_contact_reply_at": _ts(stats.first_contact_reply_at) if stats else None,
        "time_to_admin_reply_s": stats.time_to_admin_reply if stats else None,
        "time_to_assignment_s": stats.time_to_assignment if stats else None,
        "time_to_first_close_s": stats.time_to_first_close if stats else None,
        "time_to_last_close_s": stats.time_to_last_close if stats else None,
        "median_time_to_reply_s": stats.median_time_to_reply if stats else None,
        "first_assignment_at": _ts(stats.first_assignment_at) if stats else None,
        "first_close_at": _ts(stats.first_close_at) if stats else None,
        "last_assignment_at": _ts(stats.last_assignment_at) if stats else None,
        "last_contact_reply_at": _ts(stats.last_contact_reply_at) if stats else None,
        "last_admin_reply_at": _ts(stats.last_admin_reply_at) if stats else None,
        "last_close_at": _ts(stats.last_close_at) if stats else None,
        "last_closed_by_id": stats.last_closed_by_id if stats else None,
        "count_reopens": stats.count_reopens if stats else None,
        "count_assignments": stats.count_assignments if stats else None,
        "count_conversation_parts": stats.count_conversation_parts if stats else None,
        "rating": rating.rating if rating else None,
        "rating_remark": rating.remark if rating else None,
        "rating_created_at": _ts(rating.created_at) if rating else None,
        "rating_teammate_id": rating.teammate.id if rating and rating.teammate else None,
        "sla_name": raw.sla_applied.sla_name if raw.sla_applied else None,
        "sla_status": raw.sla_applied.sla_status if raw.sla_applied else None,
        "ai_agent_participated": raw.ai_agent_participated,
        "custom_attributes": raw.custom_attributes,
    }


def conversation_part(raw: RawConversationPart) -> dict[str, Any]:
    """A part of a conversation. No `id` here: the record's id is its store key,
    `{conversation id}:{part id}` (part ids are only unique within a conversation's
    listing), and the engine adds the conversation's id as `parent_id`."""
    author = raw.author
    return {
        "part_id": raw.id,
        "part_type": raw.part_type,
        "body": raw.body,
        "created_at": _ts(raw.created_at),
        "updated_at": _ts(raw.updated_at),
        "notified_at": _ts(raw.notified_at),
        "author_type": author.type if author else None,
        "author_id": author.id if author else None,
        "author_name": author.name if author else None,
        "author_email": author.email if author else None,
        "assigned_to_id": raw.assigned_to.id if raw.assigned_to else None,
        "external_id": raw.external_id,
        "redacted": raw.redacted,
        "state": raw.state,
    }


def tag(raw: RawTag) -> dict[str, Any]:
    return {"id": raw.id, "name": raw.name, "name_lower": _lower(raw.name)}


def team(raw: RawTeam) -> dict[str, Any]:
    return {"id": raw.id, "name": raw.name, "name_lower": _lower(raw.name), "admin_ids": [str(a) for a in raw.admin_ids]}


def segment(raw: RawSegment) -> dict[str, Any]:
    return {
        "id": raw.id,
        "name": raw.name,
        "name_lower": _lower(raw.name),
        "person_type": raw.person_type,
        "count": raw.count,
        "created_at": _ts(raw.created_at),
        "updated_at": _ts(raw.updated_at),
    }


def data_attribute_key(raw: dict[str, Any]) -> str | None:
    """`{model}:{full_name}`: standard attributes have no id, and a name repeats across models."""
    model, name = raw.get("model"), raw.get("full_name") or raw.get("name")
    if not isinstance(model, str) or not isinstance(name, str) or not model or not name:
        return None
    return f"{model}:{name}"


def data_attribute(raw: RawDataAttribute) -> dict[str, Any]:
    full_name = raw.full_name or raw.name
    return {
        "id": f"{raw.model}:{full_name}",
        "attribute_id": str(raw.id) if raw.id is not None else None,
        "model": raw.model,
        "name": raw.name,
        "full_name": full_name,
        "label": raw.label,
        "description": raw.description,
        "data_type": raw.data_type,
        "options": raw.options,
        "custom": raw.custom,
        "archived": raw.archived,
        "api_writable": raw.api_writable,
        "ui_writable": raw.ui_writable,
        "messenger_writable": raw.messenger_writable,
        "admin_id": raw.admin_id,
        "created_at": _ts(raw.created_at),
        "updated_at": _ts(raw.updated_at),
    }
