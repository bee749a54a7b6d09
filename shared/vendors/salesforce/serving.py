"""How the three Salesforce objects are served by the records function. `fields` (every
selected field by API name) and `custom` (the `__c` ones) are free-form maps: kept out of
Firestore's indexes. No live search: the org's daily API allowance belongs to the sync."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.vendors.connector import Combination, Filter, ServedRecord, Serving, Sort


class _Record(ServedRecord):
    name: str | None = None
    owner_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = Field(None, description="SystemModstamp")
    fields: dict[str, Any] = Field(default_factory=dict, description="Every selected field by API name")
    custom: dict[str, Any] = Field(default_factory=dict, description="The custom (__c) fields")


class Account(_Record):
    industry: str | None = None
    type: str | None = None


class Contact(_Record):
    account_id: str | None = None
    email: str | None = None


class Opportunity(_Record):
    account_id: str | None = None
    stage: str | None = None
    amount: float | None = None
    close_date: str | None = None
    is_closed: bool | None = None
    is_won: bool | None = None


_NAME = Filter("name", "name_lower", op="prefix", description="Name starts with (case-insensitive)")
_ACCOUNT = Filter("account_id", "account_id", description="The account's Id")
_SORTS = (Sort("updated_at", "updated_at"), Sort("name", "name_lower"))
_UNINDEXED = ("fields", "custom")

ACCOUNTS = Serving(
    model=Account,
    filters=(_NAME, Filter("industry", "industry")),
    sorts=_SORTS,
    combinations=(Combination(), Combination(("name",), sorts=("name",)), Combination(("industry",), sorts=("updated_at",))),
    default_sort="updated_at",
    unindexed=_UNINDEXED,
)

CONTACTS = Serving(
    model=Contact,
    filters=(_NAME, _ACCOUNT, Filter("email", "email_lower", op="prefix", description="Email starts with")),
    sorts=_SORTS,
    combinations=(Combination(), Combination(("name",), sorts=("name",)), Combination(("email",), sorts=()),
                  Combination(("account_id",), sorts=("updated_at",))),
    default_sort="updated_at",
    unindexed=_UNINDEXED,
)

OPPORTUNITIES = Serving(
    model=Opportunity,
    filters=(_NAME, _ACCOUNT, Filter("stage", "stage"), Filter("is_closed", "is_closed", annotation=bool)),
    sorts=(*_SORTS, Sort("amount", "amount")),
    combinations=(Combination(), Combination(("name",), sorts=("name",)),
                  Combination(("account_id",), sorts=("updated_at",)),
                  Combination(("stage",), sorts=("updated_at", "amount")),
                  Combination(("is_closed",), sorts=("updated_at", "amount"))),
    default_sort="updated_at",
    unindexed=_UNINDEXED,
)


class Limit(ServedRecord):
    max: int | None = None
    remaining: int | None = None


LIMITS = Serving(model=Limit, sorts=(Sort("name", "id"),), default_sort="name", default_order="asc")
