"""Paginators: one small class per pagination style, never a loop written per vendor.

A paginator prepares the first request of a stream (page size) and reads the position of
the next page from a response: a small cursor dict, or None at the end. Only that cursor
travels in a Cloud Task; the worker rebuilds the request from the stream's declaration
and `apply(first, cursor)`, so a task can never carry a host or an arbitrary path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, Field, field_validator


class PageRequest(BaseModel):
    """One request to the connection's host: a path, never a URL (the host is fixed by the
    connection, so a request can never carry credentials elsewhere)."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: dict[str, Any] | None = None

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 33 for c in value):
            raise ValueError("must be an absolute path on the connection's host, not a URL")
        return value


def dig(data: Any, path: str) -> Any:
    """data['a']['b'] for path 'a.b'; None when any step is missing."""
    for key in path.split(".") if path else []:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def as_unix(value: Any) -> float | None:
    """Epoch seconds, epoch milliseconds or ISO 8601 -> unix seconds; None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return float(value) / 1000 if abs(value) > 10**11 else float(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


Cursor = dict[str, Any]


class Paginator(Protocol):
    def first(self, request: PageRequest, page_size: int) -> PageRequest: ...

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None: ...

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest: ...


def follow(paginator: Paginator, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
    """The next request after `request` (tests and live calls that page inline)."""
    cursor = paginator.next_cursor(request, response, records)
    return None if cursor is None else paginator.apply(request, cursor)


def _scalar(value: Any) -> str | int | float | None:
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class SinglePage:
    """The endpoint returns everything at once (Intercom admins)."""

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        return request

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        return None

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        return request


@dataclass(frozen=True)
class QueryCursor:
    """?per_page=N&starting_after=CURSOR, the cursor read from the response (Intercom lists;
    with no size parameter, Intercom's scroll)."""

    cursor_param: str
    cursor_path: str
    size_param: str | None = None

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        if not self.size_param:
            return request
        return request.model_copy(update={"params": {**request.params, self.size_param: page_size}})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        cursor = _scalar(dig(response, self.cursor_path))
        return {"after": cursor} if cursor and records else None

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        return request.model_copy(update={"params": {**request.params, self.cursor_param: cursor["after"]}})


@dataclass(frozen=True)
class BodyCursor:
    """A cursor inside a JSON body, as search endpoints take it ({pagination: {per_page, starting_after}})."""

    container: str
    cursor_key: str
    size_key: str
    cursor_path: str

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        body = copy.deepcopy(request.json_body or {})
        body.setdefault(self.container, {})[self.size_key] = page_size
        return request.model_copy(update={"json_body": body})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        cursor = _scalar(dig(response, self.cursor_path))
        return {"after": cursor} if cursor and records else None

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        body = copy.deepcopy(request.json_body or {})
        body.setdefault(self.container, {})[self.cursor_key] = cursor["after"]
        return request.model_copy(update={"json_body": body})


@dataclass(frozen=True)
class PageNumber:
    """?page=N&per_page=M with the total page count in the response."""

    page_param: str
    size_param: str
    total_pages_path: str
    first_page: int = 1

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        params = {**request.params, self.page_param: self.first_page, self.size_param: page_size}
        return request.model_copy(update={"params": params})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        page = int(request.params.get(self.page_param, self.first_page))
        total = _scalar(dig(response, self.total_pages_path))
        if records == 0 or total is None or page >= int(total):
            return None
        return {"page": page + 1}

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        return request.model_copy(update={"params": {**request.params, self.page_param: int(cursor["page"])}})


@dataclass(frozen=True)
class Offset:
    """?start=N&limit=M with a 'more items' flag (Pipedrive v1 style)."""

    offset_param: str
    limit_param: str
    more_path: str
    next_offset_path: str | None = None

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        params = {**request.params, self.offset_param: 0, self.limit_param: page_size}
        return request.model_copy(update={"params": params})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        if records == 0 or not dig(response, self.more_path):
            return None
        offset = _scalar(dig(response, self.next_offset_path)) if self.next_offset_path else None
        if offset is None:
            offset = int(request.params.get(self.offset_param, 0)) + records
        return {"offset": int(offset)}

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        return request.model_copy(update={"params": {**request.params, self.offset_param: int(cursor["offset"])}})


@dataclass(frozen=True)
class PageToken:
    """?pageToken=T with nextPageToken in the response (Google APIs, HubSpot's paging.next.after)."""

    token_param: str
    token_path: str
    size_param: str | None = None

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        if not self.size_param:
            return request
        return request.model_copy(update={"params": {**request.params, self.size_param: page_size}})

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        token = _scalar(dig(response, self.token_path))
        return {"token": token} if token else None

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        return request.model_copy(update={"params": {**request.params, self.token_param: cursor["token"]}})


@dataclass(frozen=True)
class NextUrl:
    """The response names the next page's URL (Salesforce nextRecordsUrl). Only its path
    and query are kept: the host is always the connection's."""

    url_path: str

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        return request

    def next_cursor(self, request: PageRequest, response: dict[str, Any], records: int) -> Cursor | None:
        url = dig(response, self.url_path)
        if not isinstance(url, str) or not url:
            return None
        parts = urlsplit(url)
        return {"path": parts.path, "params": dict(parse_qsl(parts.query))}

    def apply(self, request: PageRequest, cursor: Cursor | None) -> PageRequest:
        if not cursor:
            return request
        return PageRequest(method="GET", path=str(cursor["path"]), params=dict(cursor.get("params") or {}))
