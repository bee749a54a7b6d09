"""The Firestore indexes the declarations need, derived from the same code that builds the
queries (so a served query never lacks its index; the emulator does not enforce them).

Index rule (Firestore): equality fields first (any order; written sorted), then the order
fields in query order with the query's direction; the document id follows implicitly. A
query with no equality filter and a single order field uses the automatic single-field
index and needs no composite one.

Field overrides: every stream's `_expires_at` is a TTL field (tombstones expire) kept out
of the automatic indexes (a timestamp index on a TTL field is a write hotspot and nobody
queries it); free-form maps (custom attributes, `raw`) are exempt from indexing, since
each key of a map would otherwise get two index entries per document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.serving.queries import criteria_for_shape, page_query, sorts_of
from shared.store.queries import PageQuery
from shared.vendors.connector import Connector, Stream

#: Firestore's limit of composite indexes per database
COMPOSITE_INDEX_LIMIT = 200
#: Firestore's limit of single-field index exemptions (field overrides) per database
FIELD_OVERRIDE_LIMIT = 200
TTL_FIELD = "_expires_at"

Index = dict[str, Any]


def index_for(collection: str, spec: PageQuery) -> Index | None:
    """The composite index a page query needs, or None when single-field indexes serve it."""
    order = spec.order_fields
    equals = [name for name, _ in spec.equals]
    if not equals and len(order) == 1:
        return None
    direction = "DESCENDING" if spec.direction == "desc" else "ASCENDING"
    fields = [{"fieldPath": name, "order": "ASCENDING"} for name in sorted(equals)]
    fields += [{"fieldPath": name, "order": direction} for name in order]
    return {"collectionGroup": collection, "queryScope": "COLLECTION", "fields": fields}


def index_key(index: Index) -> tuple[Any, ...]:
    return (
        index["collectionGroup"],
        index["queryScope"],
        tuple((f["fieldPath"], f["order"]) for f in index["fields"]),
    )


def dedupe(indexes: Iterable[Index]) -> list[Index]:
    seen: dict[tuple[Any, ...], Index] = {}
    for index in indexes:
        seen.setdefault(index_key(index), index)
    return list(seen.values())


def stream_indexes(stream: Stream[Any]) -> list[Index]:
    """Every composite index the stream's declared combinations need."""
    serving = stream.serving
    if serving is None:
        return []
    found: list[Index] = []
    for combination in serving.combinations:
        for sort in sorts_of(serving, combination):
            for direction in combination.directions:
                shape = criteria_for_shape(serving, combination.filters, sort, direction)
                index = index_for(stream.name, page_query(serving, shape))
                if index is not None:
                    found.append(index)
    return dedupe(found)


def view_indexes(connector: Connector) -> list[Index]:
    return [
        {
            "collectionGroup": spec.collection,
            "queryScope": "COLLECTION",
            "fields": [{"fieldPath": name, "order": order} for name, order in spec.fields],
        }
        for view in connector.views
        for spec in view.indexes
    ]


def field_overrides(stream: Stream[Any]) -> list[dict[str, Any]]:
    overrides: list[dict[str, Any]] = [
        {"collectionGroup": stream.name, "fieldPath": TTL_FIELD, "ttl": True, "indexes": []}
    ]
    unindexed = list(stream.serving.unindexed) if stream.serving else []
    if stream.keep_raw:
        unindexed.append("raw")
    for name in sorted(set(unindexed)):
        overrides.append({"collectionGroup": stream.name, "fieldPath": name, "indexes": []})
    return overrides
