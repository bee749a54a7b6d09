"""RawLead -> the stored lead. Dates in sheets are text in many formats: ISO dates and
instants, and the US and European numeric forms Sheets displays, are read; anything else
leaves created_at empty (the text is kept in created_text)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.vendors.sheets.raw import RawLead

_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y")


def parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def lead(raw: RawLead) -> dict[str, Any]:
    name = raw.name or " ".join(p for p in (raw.first_name, raw.last_name) if p) or None
    email = raw.email.lower() if raw.email else None
    return {
        "id": raw.key,
        "row": raw.row,
        "lead_id": raw.lead_id,
        "email": email,
        "name": name,
        "name_lower": name.lower() if name else None,
        "company": raw.company,
        "phone": raw.phone,
        "source": raw.source.strip().lower() if raw.source else None,
        "status": raw.status.strip().lower() if raw.status else None,
        "created_at": parse_date(raw.created),
        "created_text": raw.created,
        "columns": {k: v for k, v in (raw.model_extra or {}).items()},
    }
