"""Pipedrive payloads (API v2 lists, v1 field definitions), as pydantic models.

extra="allow": nothing Pipedrive sends is lost. Times in v2 are RFC 3339 strings; v1
field definitions carry their 40-character `key`, the name custom-field values use.
Docs: https://developers.pipedrive.com/docs/api/v2
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow")


class RawLabeledValue(_Raw):
    value: str | None = None
    primary: bool = False
    label: str | None = None


class RawPerson(_Raw):
    id: int
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    owner_id: int | None = None
    org_id: int | None = None
    add_time: str | None = None
    update_time: str | None = None
    emails: list[RawLabeledValue] = Field(default_factory=list)
    phones: list[RawLabeledValue] = Field(default_factory=list)
    label_ids: list[int] = Field(default_factory=list)
    is_deleted: bool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    # include_fields=last_activity_date,last_incoming_mail_time,last_outgoing_mail_time
    last_activity_date: str | None = None
    last_incoming_mail_time: str | None = None
    last_outgoing_mail_time: str | None = None


class RawOrganization(_Raw):
    id: int
    name: str | None = None
    owner_id: int | None = None
    add_time: str | None = None
    update_time: str | None = None
    address: dict[str, Any] | None = None
    is_deleted: bool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class RawDeal(_Raw):
    id: int
    title: str | None = None
    value: float | None = None
    currency: str | None = None
    status: str | None = None
    owner_id: int | None = None
    person_id: int | None = None
    org_id: int | None = None
    stage_id: int | None = None
    pipeline_id: int | None = None
    add_time: str | None = None
    update_time: str | None = None
    is_deleted: bool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class RawParticipant(_Raw):
    person_id: int
    primary: bool = False


class RawActivity(_Raw):
    #: None: logged here and not (yet) in Pipedrive (activities.local)
    id: int | None = None
    subject: str | None = None
    type: str | None = None
    owner_id: int | None = None
    person_id: int | None = None
    org_id: int | None = None
    deal_id: int | None = None
    due_date: str | None = None
    due_time: str | None = None
    done: bool = False
    note: str | None = None
    add_time: str | None = None
    update_time: str | None = None
    participants: list[RawParticipant] = Field(default_factory=list)
    is_deleted: bool = False


class RawFieldOption(_Raw):
    id: int | str
    label: str | None = None


class RawField(_Raw):
    """One field definition (v1 personFields etc.): custom ones have a 40-char hash key."""

    id: int
    key: str
    name: str
    field_type: str | None = None
    options: list[RawFieldOption] | None = None
    edit_flag: bool = False
