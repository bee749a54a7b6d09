"""The OpenAPI operations of the generic functions: one per vendor stream, action and view.

Paths are what clients call: /records/{connection_id}/contacts. When two vendors serve a
stream (or an action, or a view) of the same name, the path is shared and its schemas are
the vendors' alternatives: list pages are discriminated by their `vendor` field, records
and bodies are anyOf; query parameters are merged by name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, RootModel

from shared.api.openapi import Variant
from shared.serving import catalog
from shared.serving.queries import sorts_of
from shared.vendors.connector import Connector, Stream

IF_NONE_MATCH = "The ETag of the answer you have: 304 when it is still current"
NOT_MODIFIED = {304: "Not modified: If-None-Match names the current ETag (no body)"}


def _union(name: str, models: Sequence[type[BaseModel]], discriminator: str | None = None) -> type[BaseModel]:
    if len(models) == 1:
        return models[0]
    union: Any = Union[tuple(models)]  # noqa: UP007 - a runtime Union of the vendors' models
    if discriminator:
        union = Annotated[union, Field(discriminator=discriminator)]
    return type(name, (RootModel[union],), {"__doc__": f"One of: {', '.join(m.__name__ for m in models)}"})


def _by_name(items: list[tuple[Connector, Any]]) -> dict[str, list[tuple[Connector, Any]]]:
    grouped: dict[str, list[tuple[Connector, Any]]] = defaultdict(list)
    for connector, item in items:
        grouped[item.name].append((connector, item))
    return dict(sorted(grouped.items()))


def _titles(members: list[tuple[Connector, Any]]) -> str:
    return ", ".join(c.title for c, _ in members)


def describe(stream: Stream[Any]) -> str:
    serving = stream.serving
    assert serving is not None
    lines = [
        f"Sorts: {', '.join(s.name for s in serving.sorts)} (default {serving.default.name} {serving.default_order})."
    ]
    lines.append("Filter combinations served from the store (others are 400 unsupported_query; live=true takes any):")
    for combination in serving.combinations:
        filters = " + ".join(combination.filters) or "no filter"
        lines.append(
            f"- {filters}: sort {', '.join(sorts_of(serving, combination))}; order {', '.join(combination.directions)}"
        )
    if serving.searchable:
        lines.append(f"Prefix search (case-insensitive) on: {', '.join(serving.searchable)}.")
    lines.append(
        "Deleted records are hidden unless include_deleted=true. The answer's ETag changes when anything in "
        "the stream changes: poll with If-None-Match for a 304 that costs one read."
    )
    if serving.live is None:
        lines.append("live=true is not supported (400 live_not_supported).")
    return "\n".join(lines)


def _streams() -> dict[str, list[tuple[Connector, Stream[Any]]]]:
    return _by_name([(c, s) for c in catalog.all_connectors() for s in c.served()])


def list_variants() -> list[Variant]:
    variants = []
    for name, members in _streams().items():
        pages = [catalog.page_model(c.vendor, s.name) for c, s in members]
        variants.append(
            Variant(
                path=f"/{{connection_id}}/{name}",
                name=f"list_{name.replace('-', '_')}",
                summary=f"List {name} ({_titles(members)})",
                description="\n\n".join(f"{c.title}: {describe(s)}" for c, s in members),
                query=tuple(catalog.query_model(c.vendor, s.name) for c, s in members),
                response=_union(f"{catalog.camel(name)}Page", pages, "vendor"),
                headers={"If-None-Match": IF_NONE_MATCH},
                bare=NOT_MODIFIED,
                errors=(429, 502, 503),
            )
        )
    return variants


class RecordQuery(BaseModel):
    include_deleted: bool = Field(False, description="Answer a record the vendor deleted too (deleted=true)")
    include_raw: bool = Field(False, description=f"{catalog.INCLUDE_RAW} (streams that keep it)")


def record_variants() -> list[Variant]:
    variants = []
    for name, members in _streams().items():
        records = [catalog.record_model(c.vendor, s.name) for c, s in members]
        variants.append(
            Variant(
                path=f"/{{connection_id}}/{name}/{{key}}",
                name=f"get_{name.replace('-', '_')}",
                summary=f"One of {name} ({_titles(members)}), with its ETag",
                description="The ETag is the record's version: send it in If-Match to change the record through "
                "an action, or in If-None-Match to get 304 while it is unchanged.",
                query=(RecordQuery,),
                response=_union(f"{catalog.camel(name)}Record", records),
                headers={"If-None-Match": IF_NONE_MATCH},
                bare=NOT_MODIFIED,
            )
        )
    return variants


def action_variants() -> list[Variant]:
    variants = []
    actions = _by_name([(c, a) for c in catalog.all_connectors() for a in c.actions])
    for name, members in actions.items():
        bodies = [catalog.action_model(c.vendor, a.name) for c, a in members]
        records = [catalog.record_model(c.vendor, a.stream) for c, a in members]
        variants.append(
            Variant(
                path=f"/{{connection_id}}/{name}",
                name=name.replace("-", "_"),
                summary=" / ".join(f"{c.title}: {a.summary or a.name}" for c, a in members),
                description="The vendor first, then the store. If-Match names the record's ETag (428 without it, "
                "409 version_conflict when it is not current, with details.current_etag). An "
                "Idempotency-Key makes a retry answer what the first request got without acting "
                "again (409 in_progress while it runs, 422 when reused for another request). A change the "
                "vendor refuses (an attribute it does not define, a value of the wrong type) is 422 "
                "vendor_refused_change with the vendor's reason; nothing is stored.",
                body=_union(f"{catalog.camel(name)}Request", bodies),
                response=_union(f"{catalog.camel(name)}Result", records),
                headers={
                    "If-Match": "The record's ETag (its version)",
                    "Idempotency-Key": "A key unique to this change (1-255 visible ASCII characters)",
                },
                errors=(409, 422, 428, 429, 502, 503),
            )
        )
    return variants


def view_variants() -> list[Variant]:
    variants = []
    views = _by_name([(c, v) for c in catalog.all_connectors() for v in c.views])
    for name, members in views.items():
        variants.append(
            Variant(
                path=f"/{{connection_id}}/{name}",
                name=name.replace("-", "_"),
                summary=" / ".join(f"{c.title}: {v.summary or v.name}" for c, v in members),
                query=tuple(v.query_model for _, v in members),
                response=_union(f"{catalog.camel(name)}View", [v.response_model for _, v in members]),
                headers={"If-None-Match": IF_NONE_MATCH},
                bare=NOT_MODIFIED,
            )
        )
    return variants


def proxy_description() -> str:
    lines = ["GET only, through the connection's credentials (stripped from the answer). Allowed paths:"]
    for connector in catalog.all_connectors():
        if connector.proxy is not None:
            lines.append(f"- {connector.title}: {', '.join(connector.proxy.paths)}")
    lines.append("Anything else is 403 path_not_allowed.")
    return "\n".join(lines)


def proxy_variants() -> list[Variant]:
    return [
        Variant(
            path="/{connection_id}/{path}",
            name="get",
            summary="Read-only pass-through to the connection's vendor (allow-listed paths)",
            description=proxy_description(),
            errors=(429, 502, 503),
        )
    ]
