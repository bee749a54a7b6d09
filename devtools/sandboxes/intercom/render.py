"""Records -> Intercom 2.14 JSON shapes (components/schemas in the OpenAPI description).

Rendered per response rather than stored, so memory stays proportional to the records.
Keys Intercom sends as null are sent as null, not left out: every conversation statistic
(the description types them as non-nullable integers, but Intercom answers null for the
ones not reached yet, e.g. first_admin_reply_at before any reply), sla_applied, ticket and
ai_agent. Clients must cope with both.
"""

from __future__ import annotations

from typing import Any

from devtools.sandboxes.intercom import timeline
from devtools.sandboxes.intercom.records import TAG_NAMES, Admin, Company, Contact, Conversation, Part
from devtools.sandboxes.kit.paging import KeysetPage, NumberPage

Authors = dict[str, tuple[str | None, str]]

WORKSPACE_ID = "sandboxworkspace0000000000000000000000000"
AVATAR = "https://static.intercomassets.com/assets/default-avatars/admins/128.png"


def admin(a: Admin) -> dict[str, Any]:
    return {
        "type": "admin", "id": a.id, "name": a.name, "email": a.email, "job_title": a.job_title,
        "away_mode_enabled": a.away_mode_enabled, "away_mode_reassign": False, "away_status_reason_id": None,
        "has_inbox_seat": a.has_inbox_seat, "team_ids": list(a.team_ids),
    }


def me(a: Admin, created_at: int) -> dict[str, Any]:
    out = admin(a)
    del out["away_status_reason_id"]
    out.update(
        email_verified=True, avatar={"type": "avatar", "image_url": AVATAR},
        app={"type": "app", "id_code": WORKSPACE_ID, "name": "Tributary Sandbox", "created_at": created_at,
             "secure": False, "identity_verification": False, "timezone": "Etc/UTC", "region": "US"},
    )
    return out


def company(c: Company) -> dict[str, Any]:
    return {
        "type": "company", "id": c.id, "company_id": c.company_id, "app_id": WORKSPACE_ID, "name": c.name,
        "remote_created_at": c.remote_created_at, "created_at": c.created_at, "updated_at": c.updated_at,
        "last_request_at": c.last_request_at, "monthly_spend": c.monthly_spend, "session_count": c.session_count,
        "user_count": c.user_count, "size": c.size, "website": c.website, "industry": c.industry,
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": t, "name": TAG_NAMES[t]} for t in c.tag_ids]},
        "segments": {"type": "segment.list", "segments": []},
        "plan": {"type": "plan", "id": f"plan-{c.plan}", "name": c.plan},
        "custom_attributes": dict(c.custom_attributes),
    }


def _addressable(kind: str, ids: tuple[str, ...], url: str, item_url: str) -> dict[str, Any]:
    return {
        "type": "list", "data": [{"type": kind, "id": i, "url": f"{item_url}/{i}"} for i in ids],
        "url": url, "total_count": len(ids), "has_more": False,
    }


def contact(c: Contact) -> dict[str, Any]:
    country, region, city, country_code, continent_code = c.location
    base = f"/contacts/{c.id}"
    return {
        "type": "contact", "id": c.id, "workspace_id": WORKSPACE_ID, "external_id": c.external_id, "role": c.role,
        "email": c.email, "email_domain": c.email.rsplit("@", 1)[-1], "phone": c.phone, "name": c.name,
        "avatar": None, "owner_id": c.owner_id, "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": False, "marked_email_as_spam": False,
        "unsubscribed_from_emails": c.unsubscribed_from_emails,
        "created_at": c.created_at, "updated_at": c.updated_at, "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at, "last_replied_at": c.last_replied_at, "last_contacted_at": None,
        "last_email_opened_at": None, "last_email_clicked_at": None, "language_override": None,
        "browser": c.browser, "browser_version": None, "browser_language": "en", "os": c.os,
        "location": {"type": "location", "country": country, "region": region, "city": city,
                     "country_code": country_code, "continent_code": continent_code},
        "android_app_name": None, "android_app_version": None, "android_device": None, "android_os_version": None,
        "android_sdk_version": None, "android_last_seen_at": None, "ios_app_name": None, "ios_app_version": None,
        "ios_device": None, "ios_os_version": None, "ios_sdk_version": None, "ios_last_seen_at": None,
        "custom_attributes": dict(c.custom_attributes),
        "tags": _addressable("tag", c.tag_ids, f"{base}/tags", "/tags"),
        "notes": _addressable("note", (), f"{base}/notes", "/notes"),
        "companies": _addressable("company", c.company_ids, f"{base}/companies", "/companies"),
        "opted_out_subscription_types": _addressable("subscription", (), f"{base}/subscriptions", "/subscriptions"),
        "opted_in_subscription_types": _addressable("subscription", (), f"{base}/subscriptions", "/subscriptions"),
        "utm_campaign": None, "utm_content": None, "utm_medium": None, "utm_source": None, "utm_term": None,
        "referrer": None,
    }


def _author(kind: str, author_id: str, authors: Authors) -> dict[str, Any]:
    name, email = authors.get(author_id, (None, "unknown@sandbox.test"))
    return {"type": kind, "id": author_id, "name": name, "email": email}


def conversation(v: Conversation, authors: Authors) -> dict[str, Any]:
    """`authors` maps admin/contact ids to (name, email) for source.author."""
    stats = v.statistics
    first_contact = stats.get("first_contact_reply_at")
    return {
        "type": "conversation", "id": v.id, "title": v.title, "created_at": v.created_at, "updated_at": v.updated_at,
        "waiting_since": v.waiting_since, "snoozed_until": v.snoozed_until, "open": v.state != "closed",
        "state": v.state, "read": v.read, "priority": v.priority, "admin_assignee_id": v.admin_assignee_id,
        "team_assignee_id": v.team_assignee_id,
        "source": {"type": v.source_type, "id": str(400_000_000 + int(v.id) % 100_000_000),
                   "delivered_as": v.delivered_as, "subject": v.subject, "body": v.body,
                   "author": _author(v.author_type, v.author_id, authors),
                   "attachments": [], "url": None, "redacted": False},
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": i} for i in v.contact_ids]},
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": i} for i in v.teammate_ids]},
        "first_contact_reply": ({"type": v.source_type, "url": None, "created_at": first_contact}
                                if first_contact is not None else None),
        "tags": {"type": "tag.list", "tags": [
            {"type": "tag", "id": t, "name": TAG_NAMES[t], "applied_at": v.created_at,
             "applied_by": {"type": "admin", "id": str(v.admin_assignee_id) if v.admin_assignee_id else None}}
            for t in v.tag_ids]},
        "sla_applied": None, "statistics": dict(stats), "conversation_rating": None,
        "custom_attributes": dict(v.custom_attributes), "topics": {}, "ticket": None,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent_participated": False, "ai_agent": None,
    }


def part(v: Conversation, p: Part, authors: Authors) -> dict[str, Any]:
    """A conversation_part; ids are unique per conversation and stable across requests."""
    return {
        "type": "conversation_part", "id": str(int(v.id) * 1000 + p.index), "part_type": p.part_type,
        "body": p.body, "created_at": p.created_at, "updated_at": p.created_at, "notified_at": p.created_at,
        "assigned_to": {"type": "admin", "id": p.assigned_to} if p.assigned_to else None,
        "author": _author(p.author_type, p.author_id, authors), "attachments": [], "external_id": None,
        "redacted": False, "state": p.state, "tags": [], "event_details": None, "app_package_code": None,
    }


def conversation_detail(v: Conversation, authors: Authors) -> dict[str, Any]:
    """GET /conversations/{id}: the conversation with its parts (at most the 500 most recent)."""
    out = conversation(v, authors)
    parts = timeline.all_parts(v)[-timeline.MAX_PARTS:]
    out["conversation_parts"] = {"type": "conversation_part.list",
                                 "conversation_parts": [part(v, p, authors) for p in parts],
                                 "total_count": len(parts)}
    return out


def cursor_pages(page: KeysetPage[Any]) -> dict[str, Any]:
    """Intercom's cursor `pages`: `next` (the next page number and its starting_after) only
    while there is one."""
    pages: dict[str, Any] = {"type": "pages", "page": page.page, "per_page": page.per_page,
                             "total_pages": page.total_pages}
    if page.next_cursor is not None:
        pages["next"] = {"page": page.page + 1, "starting_after": page.next_cursor}
    return pages


def number_pages(page: NumberPage[Any]) -> dict[str, Any]:
    """Intercom's page-number `pages` (companies): `next` is null on and after the last page
    and absent before it."""
    pages: dict[str, Any] = {"type": "pages", "page": page.page, "per_page": page.per_page,
                             "total_pages": page.total_pages}
    if page.is_last:
        pages["next"] = None
    return pages
