"""How leads are served (the marketing leads tab): by source, status and date."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.vendors.connector import Combination, Filter, ServedRecord, Serving, Sort


class Lead(ServedRecord):
    row: int | None = Field(None, description="The sheet row it was read from (moves when rows move)")
    lead_id: str | None = None
    email: str | None = None
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    source: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    created_text: str | None = None
    columns: dict[str, Any] = Field(default_factory=dict, description="Other columns, by normalized header")
    contact_id: str | None = Field(None, description="The contact this lead was converted to")


LEADS = Serving(
    model=Lead,
    filters=(
        Filter("source", "source", lower=True, description="Lead source (lower-cased)"),
        Filter("status", "status", lower=True, description="Lead status (lower-cased)"),
        Filter("created", "created_at", op="range", description="Created date (created_from / created_to)"),
        Filter("name", "name_lower", op="prefix"),
    ),
    sorts=(Sort("created_at", "created_at"), Sort("name", "name_lower")),
    # each filter costs composite indexes of the database's 200: the leads tab filters by
    # one of source, status or a date range at a time, newest first (2 indexes in all)
    combinations=(
        Combination(),
        Combination(("source",), sorts=("created_at",), directions=("desc",)),
        Combination(("status",), sorts=("created_at",), directions=("desc",)),
        Combination(("created",), sorts=("created_at",)),
        Combination(("name",), sorts=("name",)),
    ),
    default_sort="created_at",
    unindexed=("columns",),
)
