"""Request and response models of the credits functions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EntryKind = Literal["spend", "grant", "purchase", "reset", "plan"]


class Balance(BaseModel):
    org_id: str
    included: int
    purchased: int
    total: int
    included_per_period: int
    billing_day: int
    period_start: date | None
    next_reset: date | None


class LedgerEntry(BaseModel):
    id: str
    kind: EntryKind
    #: the change to each kind of credit (negative for a spend)
    delta_included: int
    delta_purchased: int
    included_after: int
    purchased_after: int
    at: datetime
    by: str | None = None
    reason: str | None = None
    idempotency_key: str | None = None


class CreditsView(BaseModel):
    balance: Balance
    ledger: list[LedgerEntry]
    #: pass as `before` for older entries
    next_before: str | None = None


class CreditsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=500)
    before: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,100}$", description="next_before of the previous page")


class SpendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=1_000_000_000)
    reason: str = Field(min_length=1, max_length=200, description="what the credits paid for (an AI feature)")


class SpendResult(BaseModel):
    entry: LedgerEntry
    balance: Balance
    replayed: bool = False


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["grant", "purchase"] = Field(
        description="purchase: credits that carry over; grant: included credits for the current period only")
    amount: int = Field(gt=0, le=1_000_000_000)
    reason: str | None = Field(None, max_length=200)


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    included_per_period: int = Field(ge=0, le=1_000_000_000, description="included credits each billing period")
    billing_day: int = Field(ge=1, le=31, description="day of the month the period resets (clamped to the month's end)")


class ResetResult(BaseModel):
    reset: list[str]
    checked: int
