"""A sheet row as a record: the header row names the cells (rows.py turns a ValueRange into
these), so a renamed or reordered column still lands in the same field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class RawLead(BaseModel):
    """One data row by canonical header name; unknown columns are kept (extra="allow")."""

    model_config = ConfigDict(extra="allow")

    #: the stable key: the sheet's lead id column when it has one, else the email (lower-cased)
    key: str
    row: int
    lead_id: str | None = None
    email: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone: str | None = None
    source: str | None = None
    status: str | None = None
    created: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        """Cells may be numbers or booleans (UNFORMATTED_VALUE): known fields are text."""
        if isinstance(data, dict):
            return {k: (str(v) if isinstance(v, (int, float)) and k not in ("row",) and not isinstance(v, bool)
                        else v) for k, v in data.items()}
        return data
