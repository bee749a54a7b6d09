"""How Pipedrive's streams are served by the records function: response models, filters,
sorts and the combinations indexed. A person's `warmness` is computed when it is read,
from its stored `priority_at` (warmness.py), so it is current whatever day it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from shared.vendors.connector import Combination, Filter, ServedRecord, Serving, Sort
from shared.vendors.pipedrive import warmness


class Person(ServedRecord):
    pipedrive_id: int | None = None
    name: str | None = None
    email: str | None = None
    emails: list[str] = Field(default_factory=list)
    phone: str | None = None
    owner_id: int | None = None
    org_id: int | None = None
    label_ids: list[int] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_contacted_at: datetime | None = None
    last_activity_at: datetime | None = None
    added_to_campaign: bool = False
    priority_at: datetime | None = Field(None, description="Warmest first: the instant whose recency the score is")
    warmness: float = Field(0.0, description="0-100, from recency of contact and activity, as of now")
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="By field name")

    @model_validator(mode="before")
    @classmethod
    def _score(cls, data: Any) -> Any:
        if isinstance(data, dict) and "priority_at" in data:
            half_life = float(data.get("warmness_half_life_days") or 14.0)
            return {**data, "warmness": warmness.score(data.get("priority_at"), half_life)}
        return data


class Organization(ServedRecord):
    pipedrive_id: int | None = None
    name: str | None = None
    owner_id: int | None = None
    address: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Deal(ServedRecord):
    pipedrive_id: int | None = None
    title: str | None = None
    value: float | None = None
    currency: str | None = None
    status: str | None = None
    owner_id: int | None = None
    person_id: int | None = None
    org_id: int | None = None
    stage_id: int | None = None
    pipeline_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class Activity(ServedRecord):
    pipedrive_id: int | None = Field(None, description="Pipedrive's id; none while a logged activity awaits its push")
    push_state: Literal["pending", "skipped", "in_pipedrive"] | None = Field(
        None, description="pending: logged here, being created in Pipedrive; skipped: kept here only (a cold contact)")
    subject: str | None = None
    type: str | None = None
    owner_id: int | None = None
    person_id: str | None = None
    org_id: int | None = None
    deal_id: int | None = None
    due_date: str | None = None
    done: bool = False
    note: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


PERSONS = Serving(
    model=Person,
    filters=(
        Filter("name", "name_lower", op="prefix", description="Name starts with (any case)"),
        Filter("email", "email_lower", op="prefix", description="Email starts with (any case)"),
        Filter("added_to_campaign", "added_to_campaign", annotation=bool),
        Filter("contacted", "last_contacted_at", op="range"),
    ),
    sorts=(Sort("priority", "priority_at"), Sort("updated_at", "updated_at"), Sort("name", "name_lower")),
    combinations=(
        Combination(),
        Combination(("name",), sorts=("name",)),
        Combination(("email",), sorts=()),
        Combination(("added_to_campaign",), sorts=("priority",), directions=("desc",)),
        Combination(("contacted",), sorts=()),
    ),
    default_sort="priority",
    unindexed=("custom_fields",),
)

ORGANIZATIONS = Serving(
    model=Organization,
    filters=(Filter("name", "name_lower", op="prefix"),),
    sorts=(Sort("updated_at", "updated_at"), Sort("name", "name_lower")),
    combinations=(Combination(), Combination(("name",), sorts=("name",))),
    unindexed=("custom_fields",),
)

DEALS = Serving(
    model=Deal,
    filters=(Filter("status", "status", annotation=Literal["open", "won", "lost", "deleted"]),),
    sorts=(Sort("updated_at", "updated_at"), Sort("value", "value")),
    combinations=(Combination(), Combination(("status",), sorts=("updated_at",))),
    unindexed=("custom_fields",),
)

ACTIVITIES = Serving(
    model=Activity,
    filters=(
        Filter("person_id", "person_id", description="The contact's Pipedrive id"),
        Filter("type", "type"),
    ),
    sorts=(Sort("updated_at", "updated_at"),),
    combinations=(Combination(), Combination(("person_id",), directions=("desc",)), Combination(("type",), directions=("desc",))),
)
