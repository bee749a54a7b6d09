"""Salesforce records -> the documents we store. Standard fields the dashboards filter on are
top-level (times as UTC datetimes, names with a lower-cased copy for prefix search); every
selected field is kept under `fields` by its API name, and custom fields (`__c`) also under
`custom`, a free-form map kept out of the indexes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.vendors.salesforce.raw import RawAccount, RawContact, RawOpportunity, RawRecord


def ts(value: str | None) -> datetime | None:
    """Salesforce's `2024-05-01T10:00:00.000+0000` (and ISO 8601 with Z) as a UTC datetime."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _common(raw: RawRecord) -> dict[str, Any]:
    fields = {k: v for k, v in raw.model_dump(exclude={"attributes"}).items() if not isinstance(v, dict)}
    return {
        "id": raw.Id,
        "name": raw.Name,
        "name_lower": _lower(raw.Name),
        "owner_id": raw.OwnerId,
        "created_at": ts(raw.CreatedDate),
        "updated_at": ts(raw.SystemModstamp),
        "fields": fields,
        "custom": {k: v for k, v in fields.items() if k.endswith("__c")},
    }


def account(raw: RawAccount) -> dict[str, Any]:
    return {**_common(raw), "industry": raw.Industry, "type": raw.Type}


def contact(raw: RawContact) -> dict[str, Any]:
    return {**_common(raw), "account_id": raw.AccountId, "email": raw.Email, "email_lower": _lower(raw.Email)}


def opportunity(raw: RawOpportunity) -> dict[str, Any]:
    return {
        **_common(raw),
        "account_id": raw.AccountId,
        "stage": raw.StageName,
        "amount": raw.Amount,
        "close_date": raw.CloseDate,
        "is_closed": raw.IsClosed,
        "is_won": raw.IsWon,
    }
