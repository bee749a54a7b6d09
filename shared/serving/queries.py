"""A list query in the declaration's terms (Criteria), and as a store page query.

Only the declared combinations are served from the store: each (filters, sort, direction)
the store cannot answer with single-field indexes costs one of the database's 200
composite indexes, so a combination nobody declared is a 400 unsupported_query (naming
the ones served), never a query that fails for want of an index. Live queries are not
restricted: the vendor answers them.

Ranges are [lower, upper): a day given as `*_to` counts in full, an instant is inclusive.
Prefixes use the *_lower copy the mapper stores: [prefix, prefix + U+F8FF).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from shared.errors import BadRequest
from shared.store.queries import PageQuery
from shared.vendors.connector import Combination, Criteria, Direction, Serving

#: just below the end of the Unicode BMP: every string with the prefix sorts before prefix + this
PREFIX_END = "\uf8ff"


class UnsupportedQuery(BadRequest):
    default_code = "unsupported_query"
    default_message = "This combination of filters and sort is not served from the store."


def day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


def bounds(lower: date | datetime | None, upper: date | datetime | None) -> tuple[datetime | None, datetime | None]:
    """[lower, upper) for a `*_from` / `*_to` pair."""
    low = day_start(lower) if lower is not None else None
    high = None
    if isinstance(upper, datetime):
        high = upper + timedelta(microseconds=1)
    elif upper is not None:
        high = day_start(upper) + timedelta(days=1)
    return low, high


def criteria(serving: Serving, query: Any) -> Criteria:
    """The parsed query (a catalog.query_model) in the declaration's terms, values normalized."""
    equals: dict[str, Any] = {}
    prefixes: dict[str, str] = {}
    ranges: dict[str, tuple[datetime | None, datetime | None]] = {}
    for item in serving.filters:
        if item.op == "range":
            low, high = bounds(getattr(query, f"{item.name}_from"), getattr(query, f"{item.name}_to"))
            if low is not None or high is not None:
                ranges[item.name] = (low, high)
            continue
        value = getattr(query, item.name)
        if value is None:
            continue
        if item.op == "prefix":
            prefixes[item.name] = str(value).lower()
            continue
        if isinstance(value, str) and item.strip:
            value = value.strip()
        if isinstance(value, str) and item.lower:
            value = value.lower()
        equals[item.name] = value
    return Criteria(
        sort=serving.sort(query.sort),
        direction=query.order,
        limit=query.limit,
        equals=equals,
        prefixes=prefixes,
        ranges=ranges,
    )


def used_filters(c: Criteria) -> frozenset[str]:
    return frozenset([*c.equals, *c.prefixes, *c.ranges])


def sorts_of(serving: Serving, combination: Combination) -> tuple[str, ...]:
    return combination.sorts if combination.sorts is not None else tuple(s.name for s in serving.sorts)


def served_combination(serving: Serving, c: Criteria) -> Combination:
    """The declared combination serving `c`, or 400 unsupported_query listing them."""
    used = used_filters(c)
    for combination in serving.combinations:
        if frozenset(combination.filters) != used:
            continue
        if c.sort.name in sorts_of(serving, combination) and c.direction in combination.directions:
            return combination
    served = [
        {"filters": list(k.filters), "sorts": list(sorts_of(serving, k)), "orders": list(k.directions)}
        for k in serving.combinations
    ]
    raise UnsupportedQuery(
        details={"filters": sorted(used), "sort": c.sort.name, "order": c.direction, "served": served}
    )


def page_query(serving: Serving, c: Criteria) -> PageQuery:
    """The store query of `c` (equality fields in declaration order, so the signature of a
    cursor does not depend on the order of the request's parameters)."""
    equals: list[tuple[str, Any]] = []
    ranges: list[tuple[str, Any, Any]] = []
    for item in serving.filters:
        if item.name in c.equals:
            equals.append((item.field, c.equals[item.name]))
        elif item.name in c.prefixes:
            prefix = c.prefixes[item.name]
            ranges += [(item.field, ">=", prefix), (item.field, "<", prefix + PREFIX_END)]
        elif item.name in c.ranges:
            low, high = c.ranges[item.name]
            if low is not None:
                ranges.append((item.field, ">=", low))
            if high is not None:
                ranges.append((item.field, "<", high))
    return PageQuery(
        sort=c.sort.field, direction=c.direction, equals=tuple(equals), ranges=tuple(ranges), limit=c.limit
    )


def matches(serving: Serving, c: Criteria, doc: dict[str, Any]) -> bool:
    """Whether a mapped document satisfies `c` with the store's semantics (live answers are
    filtered again with this: vendors match some operators loosely)."""
    for name, value in c.equals.items():
        if doc.get(serving.filter(name).field) != value:
            return False
    for name, prefix in c.prefixes.items():
        if not str(doc.get(serving.filter(name).field) or "").startswith(prefix):
            return False
    for name, (low, high) in c.ranges.items():
        value = doc.get(serving.filter(name).field)
        if not isinstance(value, datetime):
            return False
        if (low is not None and value < low) or (high is not None and value >= high):
            return False
    return True


def criteria_for_shape(serving: Serving, filters: tuple[str, ...], sort: str, direction: Direction) -> Criteria:
    """A Criteria with placeholder values for these filters: the query's shape, for deriving
    the index it needs (values never matter to an index)."""
    sample = datetime(2000, 1, 1, tzinfo=timezone.utc)
    equals: dict[str, Any] = {}
    prefixes: dict[str, str] = {}
    ranges: dict[str, tuple[datetime | None, datetime | None]] = {}
    for name in filters:
        op = serving.filter(name).op
        if op == "eq":
            equals[name] = "x"
        elif op == "prefix":
            prefixes[name] = "x"
        else:
            ranges[name] = (sample, sample + timedelta(days=1))
    return Criteria(
        sort=serving.sort(sort),
        direction=direction,
        limit=1,
        equals=equals,
        prefixes=prefixes,
        ranges=ranges,
    )
