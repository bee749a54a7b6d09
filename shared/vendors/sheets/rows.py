"""Rows of a ValueRange -> records keyed by header names.

The first row of the range is the header. Each header is normalized (case, spaces and
punctuation folded to '_') and looked up in ALIASES, so "E-mail", "Email address" and
"email" are one field, wherever the column is. A row's key is its lead id column when the
sheet has one, else its email lower-cased: both survive sorting and inserting rows, which
a row number does not. Rows without either are skipped (nothing stable to upsert by), as
are blank rows; the last of two rows with the same key wins.
"""

from __future__ import annotations

import re
from typing import Any

ALIASES = {
    "lead_id": "lead_id", "id": "lead_id", "lead": "lead_id", "lead_number": "lead_id",
    "email": "email", "e_mail": "email", "email_address": "email", "mail": "email",
    "name": "name", "full_name": "name", "contact_name": "name", "lead_name": "name",
    "first_name": "first_name", "given_name": "first_name", "last_name": "last_name", "surname": "last_name",
    "company": "company", "company_name": "company", "organization": "company", "organisation": "company",
    "account": "company",
    "phone": "phone", "phone_number": "phone", "telephone": "phone", "mobile": "phone",
    "source": "source", "lead_source": "source", "channel": "source", "utm_source": "source",
    "status": "status", "lead_status": "status", "stage": "status",
    "created": "created", "created_at": "created", "date": "created", "timestamp": "created",
    "submitted": "created", "submitted_at": "created", "date_added": "created",
}
RESERVED = {"key", "row"}
#: aliases by their letters and digits only: "E-mail address", "Email Address", "email_address"
_COMPACT = {name.replace("_", ""): field for name, field in ALIASES.items()}


def normalize(header: Any) -> str:
    text = re.sub(r"[^0-9a-z]+", "_", str(header).strip().lower()).strip("_")
    return _COMPACT.get(text.replace("_", ""), text)


def to_records(values: list[list[Any]], first_row: int = 1) -> list[dict[str, Any]]:
    """`values` (header first) as records; `first_row` is the header's sheet row number."""
    if not values:
        return []
    fields = [normalize(h) for h in values[0]]
    found: dict[str, dict[str, Any]] = {}
    for offset, cells in enumerate(values[1:], start=1):
        record: dict[str, Any] = {}
        for name, cell in zip(fields, cells, strict=False):
            if name and name not in RESERVED and cell not in ("", None) and name not in record:
                record[name] = cell.strip() if isinstance(cell, str) else cell
        if not record:
            continue
        lead_id, email = record.get("lead_id"), record.get("email")
        key = str(lead_id) if lead_id not in (None, "") else (str(email).lower() if email else None)
        if not key:
            continue
        found[key] = {**record, "key": key, "row": first_row + offset}
    return list(found.values())


def first_row_of(a1: str) -> int:
    """The row number a ValueRange's range starts at ('Leads!A3:G9' -> 3)."""
    match = re.search(r"![A-Z]*([0-9]+)", a1) or re.match(r"[A-Z]*([0-9]+)", a1)
    return int(match.group(1)) if match else 1
