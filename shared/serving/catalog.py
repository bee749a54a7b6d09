"""What is served, found from the registry, and the models generated from the declarations.

A stream's list query model is built from its Serving (its filters' parameters, `sort`
among its sorts, `order`, `limit` capped at max_limit, `cursor`, `live`,
`include_deleted`), so the parameters a function accepts and the ones the OpenAPI
document lists cannot drift apart. Models are named after the vendor and stream
(IntercomContactsQuery, IntercomContactsPage, IntercomContact) so two vendors' models never
share a name in the document.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from shared.api.types import DocId
from shared.errors import NotFound
from shared.vendors.connector import Action, Connector, ServedRecord, Stream, View

MAX_CURSOR_CHARS = 2048
INCLUDE_RAW = "Also answer the vendor's whole payload (`raw`): every field it sent, mapped or not"
#: names the engine and the serving functions use beside the streams under connections/{id}
RESERVED_COLLECTIONS = ("runs", "chains", "dead_letters", "private", "cursors", "leases", "webhook_deliveries")


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_") if part)


def connector_for(vendor: str) -> Connector:
    from shared.sync.registry import connector

    return connector(vendor)


def served_stream(connector: Connector, name: str) -> Stream[Any]:
    """The stream the records function serves, or 404 unknown_stream naming the served ones."""
    for stream in connector.served():
        if stream.name == name:
            return stream
    raise NotFound(
        f"{connector.title} connections have no stream {name!r}.",
        code="unknown_stream",
        details={"streams": [s.name for s in connector.served()]},
    )


def action_of(connector: Connector, name: str) -> Action:
    try:
        return connector.action(name)
    except KeyError:
        raise NotFound(
            f"{connector.title} connections have no action {name!r}.",
            code="unknown_action",
            details={"actions": [a.name for a in connector.actions]},
        ) from None


def view_of(connector: Connector, name: str) -> View:
    try:
        return connector.view(name)
    except KeyError:
        raise NotFound(
            f"{connector.title} connections have no view {name!r}.",
            code="unknown_view",
            details={"views": [v.name for v in connector.views]},
        ) from None


# -- list query models ----------------------------------------------------------------------------


def when(value: object) -> object:
    """'2026-01-05' is a day, '2026-01-05T10:00:00Z' an instant (naive instants are UTC). An
    instant is kept in UTC, where the store compares it: one that does not exist there (year
    10000 once its offset is applied) is a validation error, not an OverflowError later."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=timezone.utc)
        try:
            return parsed.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("out of range in UTC") from None
    return value


When = Annotated[datetime | date | None, BeforeValidator(when)]


class ListQuery(BaseModel):
    """Base of every generated list query: unknown parameters are a 400, not ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _ranges(self) -> ListQuery:
        from shared.serving.queries import bounds

        for name in type(self).model_fields:
            if name.endswith("_from") and f"{name[:-5]}_to" in type(self).model_fields:
                try:
                    lower, upper = bounds(getattr(self, name), getattr(self, f"{name[:-5]}_to"))
                except OverflowError:  # a `_to` on the last representable day: its end is not
                    raise ValueError(f"{name[:-5]}_to is out of range (its end is past 9999-12-31)") from None
                if lower is not None and upper is not None and lower >= upper:
                    raise ValueError(f"{name} must not be after {name[:-5]}_to")
        return self


@cache
def query_model(vendor: str, stream_name: str) -> type[ListQuery]:
    stream = served_stream(connector_for(vendor), stream_name)
    serving = stream.serving
    assert serving is not None
    fields: dict[str, Any] = {}
    for item in serving.filters:
        if item.op == "range":
            fields[f"{item.name}_from"] = (
                When,
                Field(
                    None,
                    description=f"{item.description or item.field}: from (ISO date or instant, inclusive)",
                ),
            )
            fields[f"{item.name}_to"] = (
                When,
                Field(
                    None,
                    description=f"{item.description or item.field}: to (ISO date: the whole day; instant: inclusive)",
                ),
            )
        elif item.annotation is str or item.op == "prefix":
            fields[item.name] = (
                str | None,
                Field(None, min_length=1, max_length=item.max_length, description=item.description or None),
            )
        else:
            fields[item.name] = (item.annotation | None, Field(None, description=item.description or None))
    sort_names: Any = Literal[tuple(s.name for s in serving.sorts)]  # the declared sorts, as a type
    fields["sort"] = (sort_names, Field(serving.default.name, description="Sort field"))
    fields["order"] = (Literal["asc", "desc"], Field(serving.default_order, description="Sort direction"))
    fields["limit"] = (int, Field(serving.default_limit, ge=1, le=serving.max_limit, description="Page size"))
    fields["cursor"] = (
        str | None,
        Field(None, max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page"),
    )
    fields["live"] = (bool, Field(False, description="Ask the vendor directly instead of the synced store"))
    fields["include_deleted"] = (
        bool,
        Field(False, description="Also list records the vendor deleted (deleted=true)"),
    )
    if stream.keep_raw:
        fields["include_raw"] = (bool, Field(False, description=INCLUDE_RAW))
    return create_model(f"{camel(vendor)}{camel(stream_name)}Query", __base__=ListQuery, **fields)


@cache
def record_model(vendor: str, stream_name: str) -> type[ServedRecord]:
    """The stream's response model under a vendor-qualified name."""
    connector = connector_for(vendor)
    stream = served_stream(connector, stream_name)
    assert stream.serving is not None
    model = stream.serving.model
    shared_model = sum(1 for s in connector.served() if s.serving is not None and s.serving.model is model) > 1
    # A model served by several streams (HubSpot's associations) is named per stream: schema names are unique.
    base = f"{camel(stream_name)}{model.__name__}" if shared_model else model.__name__
    name = base if base.startswith(camel(vendor)) else f"{camel(vendor)}{base}"
    fields: dict[str, Any] = {}
    if stream.keep_raw:
        fields["raw"] = (
            dict[str, Any] | None,
            Field(None, description="The vendor's whole payload as it sent it (with include_raw=true)"),
        )
    return create_model(
        name, __base__=model, __doc__=model.__doc__ or f"One {vendor} {stream_name} record.", **fields
    )


@cache
def page_model(vendor: str, stream_name: str) -> type[BaseModel]:
    item: Any = list[record_model(vendor, stream_name)]  # type: ignore[misc]
    vendor_type: Any = Literal[vendor]
    stream_type: Any = Literal[stream_name]
    return create_model(
        f"{camel(vendor)}{camel(stream_name)}Page",
        vendor=(vendor_type, vendor),
        stream=(stream_type, stream_name),
        items=(item, ...),
        next_cursor=(
            str | None,
            Field(None, description="Pass as `cursor` for the next page; null on the last"),
        ),
    )


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: DocId = Field(..., description="The record's key (its id, as in /records/{connection_id}/{stream}/{key})")


@cache
def action_model(vendor: str, action_name: str) -> type[BaseModel]:
    """The action's body: `key` plus the action's input fields."""
    action = action_of(connector_for(vendor), action_name)
    return create_model(
        f"{camel(vendor)}{camel(action_name)}Request",
        __base__=(ActionBody, action.input_model),
        __doc__=action.input_model.__doc__,
    )


def all_connectors() -> list[Connector]:
    from shared.sync.registry import all_connectors as registered

    return registered()
