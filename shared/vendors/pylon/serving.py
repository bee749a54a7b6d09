"""How Pylon's streams are served by the records function: response models, filters, sorts
and the combinations the dashboards use (each costs composite indexes: declared, not every
subset). No live search: Pylon's per-endpoint budgets (10 a minute on GET /issues) belong
to the sync."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.vendors.connector import Combination, Filter, ServedRecord, Serving, Sort


class Issue(ServedRecord):
    number: int | None = None
    title: str | None = None
    state: str | None = None
    open: bool | None = None
    priority: str | None = None
    source: str | None = None
    type: str | None = None
    link: str | None = None
    account_id: str | None = None
    assignee_id: str | None = None
    requester_id: str | None = None
    team_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    latest_message_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None


class Message(ServedRecord):
    parent_id: str | None = Field(None, description="The issue's id")
    timestamp: datetime | None = None
    is_private: bool | None = None
    source: str | None = None
    thread_id: str | None = None
    author_kind: Literal["agent", "customer", "other"] | None = None
    author_name: str | None = None
    user_id: str | None = None
    contact_id: str | None = None
    message_html: str | None = None


class Account(ServedRecord):
    name: str | None = None
    domain: str | None = None
    domains: list[str] = Field(default_factory=list)
    type: str | None = None
    owner_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    latest_customer_activity_at: datetime | None = None


class User(ServedRecord):
    name: str | None = None
    email: str | None = None
    status: str | None = None


class Team(ServedRecord):
    name: str | None = None
    user_ids: list[str] = Field(default_factory=list)


_CREATED = Filter("created", "created_at", op="range", description="Creation time (a date or an instant)")

ISSUES = Serving(
    model=Issue,
    filters=(
        Filter("state", "state", description="Pylon's state (new, waiting_on_you, on_hold, closed...)"),
        Filter("open", "open", annotation=bool, description="Not closed"),
        Filter("priority", "priority", annotation=Literal["urgent", "high", "medium", "low"]),
        Filter("account_id", "account_id"),
        Filter("assignee_id", "assignee_id"),
        _CREATED,
    ),
    sorts=(Sort("created_at", "created_at"), Sort("updated_at", "updated_at")),
    combinations=(
        Combination(),
        Combination(("created",), sorts=("created_at",)),
        Combination(("open",), sorts=("created_at",)),
        Combination(("account_id",), sorts=("created_at",)),
        Combination(("assignee_id", "open"), sorts=("created_at",)),
    ),
    default_sort="updated_at",
    unindexed=("custom_fields",),
)

MESSAGES = Serving(
    model=Message,
    filters=(Filter("issue_id", "parent_id", description="The issue's messages"),),
    sorts=(Sort("timestamp", "timestamp"),),
    combinations=(Combination(), Combination(("issue_id",), sorts=("timestamp",))),
    default_sort="timestamp",
    default_order="asc",
    unindexed=("message_html",),
)

ACCOUNTS = Serving(
    model=Account,
    filters=(Filter("name", "name_lower", op="prefix", lower=True),),
    sorts=(Sort("name", "name_lower"), Sort("created_at", "created_at")),
    combinations=(Combination(), Combination(("name",), sorts=("name",), directions=("asc",))),
    default_sort="name",
    default_order="asc",
    unindexed=("custom_fields",),
)

USERS = Serving(model=User, sorts=(Sort("name", "name_lower"),), default_order="asc")
TEAMS = Serving(model=Team, sorts=(Sort("name", "name"),), default_order="asc")
