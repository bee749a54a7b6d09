"""How HubSpot's streams are served by the records function: response models, filters,
sorts and the combinations a CRM dashboard uses (each costs composite indexes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.vendors.connector import Combination, Filter, ServedRecord, Serving, Sort


class _CrmObject(ServedRecord):
    properties: dict[str, Any] = Field(default_factory=dict, description="Every property asked for, custom ones included")
    owner_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Contact(_CrmObject):
    email: str | None = None
    name: str | None = None
    lifecycle_stage: str | None = None


class Company(_CrmObject):
    name: str | None = None
    domain: str | None = None
    industry: str | None = None


class Deal(_CrmObject):
    name: str | None = None
    stage: str | None = None
    pipeline: str | None = None
    amount: float | None = None
    close_date: datetime | None = None


class Association(ServedRecord):
    parent_id: str | None = Field(None, description="The record the association starts from")
    to_id: str
    labels: list[str] = Field(default_factory=list)
    type_ids: list[int] = Field(default_factory=list)


_UPDATED = Sort("updated_at", "updated_at")
_NAME = Sort("name", "name_lower")
_OWNER = Filter("owner", "owner_id", description="HubSpot owner id")
_NAME_PREFIX = Filter("name", "name_lower", op="prefix")

CONTACTS = Serving(
    model=Contact,
    filters=(Filter("email", "email", lower=True), _NAME_PREFIX, Filter("lifecycle_stage", "lifecycle_stage"), _OWNER,
             Filter("updated", "updated_at", op="range")),
    sorts=(_UPDATED, _NAME),
    combinations=(Combination(), Combination(("email",), sorts=("updated_at",)), Combination(("name",), sorts=("name",)),
                  Combination(("lifecycle_stage",), sorts=("updated_at",)), Combination(("owner",), sorts=("updated_at",)),
                  Combination(("updated",), sorts=("updated_at",))),
    default_sort="updated_at",
    unindexed=("properties",),
)

COMPANIES = Serving(
    model=Company,
    filters=(_NAME_PREFIX, Filter("domain", "domain", lower=True), _OWNER),
    sorts=(_UPDATED, _NAME),
    combinations=(Combination(), Combination(("name",), sorts=("name",)), Combination(("domain",), sorts=("updated_at",)),
                  Combination(("owner",), sorts=("updated_at",))),
    default_sort="updated_at",
    unindexed=("properties",),
)

DEALS = Serving(
    model=Deal,
    filters=(_NAME_PREFIX, Filter("stage", "stage"), Filter("pipeline", "pipeline"), _OWNER,
             Filter("close", "close_date", op="range")),
    sorts=(_UPDATED, _NAME, Sort("amount", "amount"), Sort("close_date", "close_date")),
    combinations=(Combination(), Combination(("name",), sorts=("name",)),
                  Combination(("stage",), sorts=("updated_at", "amount")), Combination(("pipeline", "stage"), sorts=("updated_at",)),
                  Combination(("owner",), sorts=("updated_at",)), Combination(("close",), sorts=("close_date",))),
    default_sort="updated_at",
    unindexed=("properties",),
)

ASSOCIATIONS = Serving(
    model=Association,
    filters=(Filter("parent_id", "parent_id"), Filter("to_id", "to_id")),
    sorts=(Sort("to_id", "to_id"),),
    combinations=(Combination(directions=("asc",)), Combination(("parent_id",), directions=("asc",)),
                  Combination(("to_id",), directions=("asc",))),
    default_order="asc",
)
