"""Customers and contacts, declared: where they live, their models, filters and sorts.

A filter is (query parameter -> stored field, "eq" | "prefix"); prefix filters search a
lower-cased copy the store keeps beside the field (Firestore has no case-insensitive
match). Every list is ordered by one sort and the document id, so pages are keyset pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from shared.crm import models


@dataclass(frozen=True)
class Kind:
    name: str
    singular: str
    fields_model: type[BaseModel]
    patch_model: type[BaseModel]
    response_model: type[models.Meta]
    #: query parameter -> (stored field, how it matches)
    filters: dict[str, tuple[str, Literal["eq", "prefix"]]]
    #: sort name -> stored field
    sorts: dict[str, str]
    default_sort: str = "updated_at"
    #: filters served together (besides each alone and none), sorts allowed with a prefix
    prefix_sorts: tuple[str, ...] = ("name",)
    #: an equality filter is served with this sort and order only (each would cost a
    #: composite index per filter, of the database's 200)
    filtered_sort: tuple[str, Literal["asc", "desc"]] = ("updated_at", "desc")
    lowered: dict[str, Any] = field(default_factory=dict)

    @property
    def collection(self) -> str:
        """Its collection id, distinct from every vendor's stream names (indexes and TTL
        policies are per collection id: an Intercom `contacts` must not share them)."""
        return f"crm_{self.name}"

    def lower_copies(self, doc: dict[str, Any]) -> dict[str, str | None]:
        """The lower-cased search copies of a document's fields."""
        return {name: make(doc) for name, make in self.lowered.items()}


def _contact_name(doc: dict[str, Any]) -> str | None:
    full = " ".join(part for part in (doc.get("first_name"), doc.get("last_name")) if part)
    return (full or doc.get("email") or "").lower() or None


CUSTOMERS = Kind(
    name="customers",
    singular="customer",
    fields_model=models.CustomerFields,
    patch_model=models.CustomerPatch,
    response_model=models.Customer,
    filters={
        "name": ("name_lower", "prefix"),
        "status": ("status", "eq"),
        "owner_email": ("owner_email", "eq"),
    },
    sorts={"updated_at": "updated_at", "created_at": "created_at", "name": "name_lower"},
    lowered={"name_lower": lambda d: (d.get("name") or "").lower() or None},
)

CONTACTS = Kind(
    name="contacts",
    singular="contact",
    fields_model=models.ContactFields,
    patch_model=models.ContactPatch,
    response_model=models.Contact,
    filters={
        "name": ("name_lower", "prefix"),
        "customer_id": ("customer_id", "eq"),
    },
    sorts={"updated_at": "updated_at", "created_at": "created_at", "name": "name_lower"},
    lowered={"name_lower": _contact_name},
)

KINDS = {kind.name: kind for kind in (CUSTOMERS, CONTACTS)}


def indexes() -> list[dict[str, Any]]:
    """The composite indexes the lists need: each equality filter with the filtered sort
    (one filter at a time is served; a name prefix sorts by name, which needs no composite
    index). For devtools/firestore_config.py."""
    found = []
    for kind in KINDS.values():
        sort, order = kind.filtered_sort
        for stored, how in kind.filters.values():
            if how != "eq":
                continue
            found.append({
                "collectionGroup": kind.collection,
                "queryScope": "COLLECTION",
                "fields": [
                    {"fieldPath": stored, "order": "ASCENDING"},
                    {"fieldPath": kind.sorts[sort], "order": "DESCENDING" if order == "desc" else "ASCENDING"},
                ],
            })
    return found


def overrides() -> list[dict[str, Any]]:
    """TTL policies: a deleted record is purged when its undo window ends."""
    return [{"collectionGroup": kind.collection, "fieldPath": "_expires_at", "ttl": True, "indexes": []}
            for kind in KINDS.values()]
