"""HubSpot objects -> the documents we store.

Every property HubSpot returned is kept, custom ones included, under `properties` (a
free-form map kept out of the indexes); the few the dashboards filter and sort on are
copied to typed top-level fields (times as UTC datetimes, names with a *_lower copy for
prefix search). HubSpot sends every property value as a string or null.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.vendors.hubspot.raw import RawAssociationTarget, RawObject


def ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():  # date properties may come as epoch milliseconds
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _lower(value: Any) -> str | None:
    return str(value).lower() if value not in (None, "") else None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _base(raw: RawObject) -> dict[str, Any]:
    return {
        "id": raw.id,
        "properties": dict(raw.properties),
        "created_at": ts(raw.createdAt),
        "updated_at": ts(raw.updatedAt),
        "owner_id": raw.properties.get("hubspot_owner_id") or None,
    }


def contact(raw: RawObject) -> dict[str, Any]:
    p = raw.properties
    name = " ".join(str(v) for v in (p.get("firstname"), p.get("lastname")) if v) or None
    return {
        **_base(raw),
        "email": _lower(p.get("email")),
        "name": name,
        "name_lower": _lower(name),
        "lifecycle_stage": p.get("lifecyclestage") or None,
    }


def company(raw: RawObject) -> dict[str, Any]:
    p = raw.properties
    return {
        **_base(raw),
        "name": p.get("name") or None,
        "name_lower": _lower(p.get("name")),
        "domain": _lower(p.get("domain")),
        "industry": p.get("industry") or None,
    }


def deal(raw: RawObject) -> dict[str, Any]:
    p = raw.properties
    return {
        **_base(raw),
        "name": p.get("dealname") or None,
        "name_lower": _lower(p.get("dealname")),
        "stage": p.get("dealstage") or None,
        "pipeline": p.get("pipeline") or None,
        "amount": _number(p.get("amount")),
        "close_date": ts(p.get("closedate")),
    }


def association(raw: RawAssociationTarget) -> dict[str, Any]:
    """One associated record (the parent is the stored record's parent_id)."""
    labels = sorted({str(t.get("label")) for t in raw.associationTypes if t.get("label")})
    type_ids = sorted({int(t["typeId"]) for t in raw.associationTypes if isinstance(t.get("typeId"), int)})
    return {"id": str(raw.toObjectId), "to_id": str(raw.toObjectId), "labels": labels, "type_ids": type_ids}
