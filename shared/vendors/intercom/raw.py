"""Intercom's payloads as Intercom sends them (API 2.14). Only the fields we map are
typed; everything else is kept (extra="allow") so nothing is lost on the way."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow")


class RawRef(_Raw):
    id: str
    type: str | None = None


class RawRefList(_Raw):
    data: list[RawRef] = Field(default_factory=list)


class RawTag(_Raw):
    id: str
    name: str | None = None


class RawTagList(_Raw):
    data: list[RawTag] = Field(default_factory=list)


class RawLocation(_Raw):
    country: str | None = None
    region: str | None = None
    city: str | None = None


class RawContact(_Raw):
    id: str
    type: str = "contact"
    role: str
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    owner_id: int | None = None
    created_at: int
    updated_at: int
    last_seen_at: int | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    companies: RawRefList | None = None
    tags: RawTagList | None = None
    location: RawLocation | None = None


class RawCompany(_Raw):
    id: str
    type: str = "company"
    company_id: str | None = None
    name: str | None = None
    website: str | None = None
    industry: str | None = None
    size: int | None = None
    monthly_spend: float | None = None
    user_count: int | None = None
    created_at: int
    updated_at: int
    custom_attributes: dict[str, Any] = Field(default_factory=dict)


class RawAdmin(_Raw):
    id: str
    type: str = "admin"
    name: str | None = None
    email: str | None = None
    job_title: str | None = None
    away_mode_enabled: bool | None = None
    team_ids: list[int] = Field(default_factory=list)


class RawConversationStatistics(_Raw):
    first_contact_reply_at: int | None = None
    first_admin_reply_at: int | None = None
    time_to_admin_reply: int | None = None
    time_to_first_close: int | None = None
    last_close_at: int | None = None
    count_reopens: int | None = None


class RawConversationContacts(_Raw):
    contacts: list[RawRef] = Field(default_factory=list)


class RawConversationTags(_Raw):
    tags: list[RawTag] = Field(default_factory=list)


class RawConversationSource(_Raw):
    type: str | None = None
    delivered_as: str | None = None
    subject: str | None = None


class RawConversation(_Raw):
    id: str
    type: str = "conversation"
    title: str | None = None
    created_at: int
    updated_at: int
    waiting_since: int | None = None
    snoozed_until: int | None = None
    open: bool | None = None
    state: str
    read: bool | None = None
    priority: str | None = None
    admin_assignee_id: int | None = None
    team_assignee_id: int | str | None = None
    source: RawConversationSource | None = None
    contacts: RawConversationContacts | None = None
    tags: RawConversationTags | None = None
    statistics: RawConversationStatistics | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
