"""Request and response models of the intercom-* functions.

Responses carry the stored document shape (shared.vendors.intercom.mappers) minus what is
internal: the `_sync` bookkeeping and the lower-cased search copies. A live answer goes
through the same models, so a client cannot tell the two apart by shape.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_STATS_DAYS = 366

Order = Literal["asc", "desc"]
Scalar = str | int | float | bool | None


class _Query(BaseModel):
    """Query strings: unknown parameters are a 400, not silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Out(BaseModel):
    """Response records: built from stored or live documents, internal fields dropped."""

    model_config = ConfigDict(extra="ignore")


def _when(value: object) -> object:
    """'2026-01-05' is a day, '2026-01-05T10:00:00Z' an instant; both are accepted. An instant
    is kept in UTC, where the store compares it: one that does not exist there (year 10000
    once its offset is applied) is a validation error, not an OverflowError later."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=timezone.utc)
        try:
            return parsed.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("out of range in UTC") from None
    return value


def day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


# -- contacts -----------------------------------------------------------------------------------


class ContactQuery(_Query):
    email: str | None = Field(None, min_length=1, max_length=320, description="Exact email, case-insensitive")
    name: str | None = Field(None, min_length=1, max_length=200, description="Name prefix, case-insensitive")
    role: Literal["user", "lead"] | None = Field(None, description="Contact role")
    sort: Literal["updated_at", "created_at", "last_seen_at", "name"] = "updated_at"
    order: Order = "desc"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=2048, description="next_cursor of the previous page")
    live: bool = Field(False, description="Ask Intercom directly instead of the synced store")


class Contact(_Out):
    id: str
    role: str | None = None
    external_id: str | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    owner_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_seen_at: datetime | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    company_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    country: str | None = None
    city: str | None = None


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = None


class CustomAttributesUpdate(BaseModel):
    """Send the contact's ETag in If-Match, or its updated_at here."""

    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Scalar] = Field(..., min_length=1, max_length=100)
    expected_updated_at: datetime | None = Field(
        None, description="The updated_at the change is based on (instead of If-Match)"
    )

    @field_validator("attributes")
    @classmethod
    def _names(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for name in value:
            if not name or len(name) > 190 or name.strip() != name:
                raise ValueError(f"invalid attribute name {name!r}")
        return value


# -- companies ----------------------------------------------------------------------------------


class CompanyQuery(_Query):
    name: str | None = Field(None, min_length=1, max_length=200, description="Name prefix, case-insensitive")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=2048)
    live: bool = Field(False, description="Ask Intercom directly (name: exact match there)")


class Company(_Out):
    id: str
    company_id: str | None = None
    name: str | None = None
    website: str | None = None
    industry: str | None = None
    size: int | None = None
    monthly_spend: float | None = None
    user_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)


class CompanyPage(BaseModel):
    items: list[Company]
    next_cursor: str | None = None


# -- admins -------------------------------------------------------------------------------------


class Admin(_Out):
    id: str
    name: str | None = None
    email: str | None = None
    job_title: str | None = None
    away_mode_enabled: bool | None = None
    team_ids: list[str] = Field(default_factory=list)


class AdminList(BaseModel):
    items: list[Admin]


# -- conversations ------------------------------------------------------------------------------


class ConversationQuery(_Query):
    state: Literal["open", "closed", "snoozed"] | None = None
    admin_id: str | None = Field(None, min_length=1, max_length=64, description="Assigned admin")
    created_from: datetime | date | None = Field(None, description="ISO date or datetime, inclusive")
    created_to: datetime | date | None = Field(None, description="ISO date (whole day) or datetime, inclusive")
    sort: Literal["created_at", "updated_at"] = "created_at"
    order: Order = "desc"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=2048)
    live: bool = Field(False, description="Ask Intercom directly instead of the synced store")

    @field_validator("created_from", "created_to", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return _when(value)

    @model_validator(mode="after")
    def _range(self) -> ConversationQuery:
        try:
            lower, upper = self.created_bounds()
        except OverflowError:  # created_to on the last representable day: its end is not
            raise ValueError("created_to is out of range (its end is past 9999-12-31)") from None
        if lower is not None and upper is not None and lower >= upper:
            raise ValueError("created_from must not be after created_to")
        return self

    def created_bounds(self) -> tuple[datetime | None, datetime | None]:
        """[lower, upper): a day given as `created_to` counts in full."""
        lower = day_start(self.created_from) if self.created_from is not None else None
        upper = None
        if isinstance(self.created_to, datetime):
            upper = self.created_to + timedelta(microseconds=1)
        elif self.created_to is not None:
            upper = day_start(self.created_to) + timedelta(days=1)
        return lower, upper


class Conversation(_Out):
    id: str
    title: str | None = None
    state: str | None = None
    open: bool | None = None
    read: bool | None = None
    priority: str | None = None
    admin_assignee_id: str | None = None
    team_assignee_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_day: str | None = None
    waiting_since: datetime | None = None
    snoozed_until: datetime | None = None
    source_type: str | None = None
    subject: str | None = None
    contact_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    first_admin_reply_at: datetime | None = None
    first_contact_reply_at: datetime | None = None
    time_to_admin_reply_s: int | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)


class ConversationPage(BaseModel):
    items: list[Conversation]
    next_cursor: str | None = None


# -- statistics ---------------------------------------------------------------------------------


class StatsQuery(_Query):
    from_: date = Field(..., alias="from", description="First day (UTC), inclusive")
    to: date = Field(..., description="Last day (UTC), inclusive")
    admin_id: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _span(self) -> StatsQuery:
        if self.to < self.from_:
            raise ValueError("'to' must not be before 'from'")
        if (self.to - self.from_).days + 1 > MAX_STATS_DAYS:
            raise ValueError(f"the range may span at most {MAX_STATS_DAYS} days")
        return self


class DayCount(BaseModel):
    day: date
    count: int


class AdminCount(BaseModel):
    admin_id: str | None = Field(description="None: unassigned")
    count: int


class ResponseTimes(BaseModel):
    replied: int = Field(description="Conversations with a first admin reply")
    median_s: float | None = None
    p90_s: float | None = Field(None, description="Nearest-rank 90th percentile")


class ConversationStats(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    admin_id: str | None = None
    total: int
    by_day: list[DayCount] = Field(description="Every day of the range, zero-filled")
    by_state: dict[str, int]
    by_admin: list[AdminCount]
    first_response: ResponseTimes
