"""Intercom's payloads as Intercom sends them (API 2.14). Only the fields we map are
typed; everything else is kept (extra="allow") so nothing is lost on the way."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _id_text(value: Any) -> Any:
    """Intercom sends some reference ids as numbers and others as strings (admin ids)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


#: an id Intercom may send as a number or a string, kept as a string
Id = Annotated[str, BeforeValidator(_id_text)]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow")


class RawRef(_Raw):
    id: Id
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
    time_to_assignment: int | None = None
    time_to_admin_reply: int | None = None
    time_to_first_close: int | None = None
    time_to_last_close: int | None = None
    median_time_to_reply: int | None = None
    first_contact_reply_at: int | None = None
    first_assignment_at: int | None = None
    first_admin_reply_at: int | None = None
    first_close_at: int | None = None
    last_assignment_at: int | None = None
    last_assignment_admin_reply_at: int | None = None
    last_contact_reply_at: int | None = None
    last_admin_reply_at: int | None = None
    last_close_at: int | None = None
    last_closed_by_id: Id | None = None
    count_reopens: int | None = None
    count_assignments: int | None = None
    count_conversation_parts: int | None = None


class RawConversationContacts(_Raw):
    contacts: list[RawRef] = Field(default_factory=list)


class RawConversationTags(_Raw):
    tags: list[RawTag] = Field(default_factory=list)


class RawAuthor(_Raw):
    type: str | None = None
    id: Id | None = None
    name: str | None = None
    email: str | None = None


class RawConversationSource(_Raw):
    type: str | None = None
    id: str | None = None
    delivered_as: str | None = None
    subject: str | None = None
    url: str | None = None
    author: RawAuthor | None = None


class RawTeammates(_Raw):
    teammates: list[RawRef] = Field(default_factory=list)


class RawConversationRating(_Raw):
    rating: int | None = None
    remark: str | None = None
    created_at: int | None = None
    contact: RawRef | None = None
    teammate: RawRef | None = None


class RawSlaApplied(_Raw):
    sla_name: str | None = None
    sla_status: str | None = None


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
    teammates: RawTeammates | None = None
    conversation_rating: RawConversationRating | None = None
    sla_applied: RawSlaApplied | None = None
    ai_agent_participated: bool | None = None
    custom_attributes: dict[str, Any] = Field(default_factory=dict)


class RawConversationPart(_Raw):
    """One message, note or event of a conversation (GET /conversations/{id})."""

    id: str
    type: str = "conversation_part"
    part_type: str | None = None
    body: str | None = None
    created_at: int
    updated_at: int | None = None
    notified_at: int | None = None
    assigned_to: RawRef | None = None
    author: RawAuthor | None = None
    external_id: str | None = None
    redacted: bool | None = None
    state: str | None = None


class RawTeam(_Raw):
    id: str
    type: str = "team"
    name: str | None = None
    admin_ids: list[int] = Field(default_factory=list)


class RawSegment(_Raw):
    id: str
    type: str = "segment"
    name: str | None = None
    person_type: str | None = None
    count: int | None = None
    created_at: int | None = None
    updated_at: int | None = None


class RawDataAttribute(_Raw):
    """A data attribute definition: standard ones have no id, so they are keyed by model
    and full name (`contact:custom_attributes.plan_tier`)."""

    id: int | None = None
    type: str = "data_attribute"
    model: str
    name: str
    full_name: str | None = None
    label: str | None = None
    description: str | None = None
    data_type: str | None = None
    options: list[str] | None = None
    api_writable: bool | None = None
    ui_writable: bool | None = None
    messenger_writable: bool | None = None
    custom: bool | None = None
    archived: bool | None = None
    admin_id: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
