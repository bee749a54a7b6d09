"""Pylon's payloads as Pylon sends them (https://docs.usepylon.com/pylon-docs/developer/api/api-reference).
Only the fields we map are typed; everything else is kept (extra="allow"), custom fields and
tags included."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Raw(BaseModel):
    model_config = ConfigDict(extra="allow")


class RawRef(_Raw):
    id: str | None = None
    email: str | None = None


class RawCustomField(_Raw):
    slug: str | None = None
    value: str | None = None
    values: list[str] | None = None


class RawIssue(_Raw):
    id: str
    number: int | None = None
    title: str | None = None
    state: str | None = None
    priority: str | None = None
    source: str | None = None
    type: str | None = None
    link: str | None = None
    created_at: str
    updated_at: str | None = None
    latest_message_time: str | None = None
    first_response_time: str | None = None
    first_response_seconds: int | None = None
    resolution_time: str | None = None
    resolution_seconds: int | None = None
    account: RawRef | None = None
    assignee: RawRef | None = None
    requester: RawRef | None = None
    team: RawRef | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, RawCustomField] | None = None


class RawAuthor(_Raw):
    name: str | None = None
    contact: RawRef | None = None
    user: RawRef | None = None


class RawMessage(_Raw):
    id: str
    timestamp: str
    is_private: bool = False
    source: str | None = None
    thread_id: str | None = None
    message_html: str | None = None
    author: RawAuthor | None = None


class RawAccount(_Raw):
    id: str
    name: str | None = None
    domain: str | None = None
    domains: list[str] = Field(default_factory=list)
    primary_domain: str | None = None
    type: str | None = None
    created_at: str | None = None
    latest_customer_activity_time: str | None = None
    owner: RawRef | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, RawCustomField] | None = None


class RawUser(_Raw):
    id: str
    name: str | None = None
    email: str | None = None
    role_id: str | None = None
    status: str | None = None


class RawTeam(_Raw):
    id: str
    name: str | None = None
    users: list[dict[str, Any]] | None = None
