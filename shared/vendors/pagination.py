"""Paginators: one small class per pagination style, never a loop written per vendor.

A paginator prepares the first request of a stream (page size, empty cursor) and derives
the next request from a response, or None at the end. Requests are plain data
(PageRequest) so a page can travel in a Cloud Task and be replayed exactly.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, Field


class PageRequest(BaseModel):
    method: str = "GET"
    path: str
    params: dict[str, Any] = Field(default_factory=dict)
    json_body: dict[str, Any] | None = None


def dig(data: Any, path: str) -> Any:
    """data['a']['b'] for path 'a.b'; None when any step is missing."""
    for key in path.split(".") if path else []:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class Paginator(Protocol):
    def first(self, request: PageRequest, page_size: int) -> PageRequest: ...

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None: ...


@dataclass(frozen=True)
class SinglePage:
    """The endpoint returns everything at once (Intercom admins)."""

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        return request

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        return None


@dataclass(frozen=True)
class QueryCursor:
    """?per_page=N&starting_after=CURSOR, the cursor read from the response (Intercom lists)."""

    cursor_param: str
    cursor_path: str
    size_param: str

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        return request.model_copy(update={"params": {**request.params, self.size_param: page_size}})

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        cursor = dig(response, self.cursor_path)
        if not cursor or records == 0:
            return None
        return request.model_copy(update={"params": {**request.params, self.cursor_param: cursor}})


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

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        cursor = dig(response, self.cursor_path)
        if not cursor or records == 0:
            return None
        body = copy.deepcopy(request.json_body or {})
        body.setdefault(self.container, {})[self.cursor_key] = cursor
        return request.model_copy(update={"json_body": body})


@dataclass(frozen=True)
class PageNumber:
    """?page=N&per_page=M with the total page count in the response (Intercom companies)."""

    page_param: str
    size_param: str
    total_pages_path: str
    first_page: int = 1

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        params = {**request.params, self.page_param: self.first_page, self.size_param: page_size}
        return request.model_copy(update={"params": params})

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        page = int(request.params.get(self.page_param, self.first_page))
        total = dig(response, self.total_pages_path)
        if records == 0 or total is None or page >= int(total):
            return None
        return request.model_copy(update={"params": {**request.params, self.page_param: page + 1}})


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

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        if records == 0 or not dig(response, self.more_path):
            return None
        offset = dig(response, self.next_offset_path) if self.next_offset_path else None
        if offset is None:
            offset = int(request.params.get(self.offset_param, 0)) + records
        return request.model_copy(update={"params": {**request.params, self.offset_param: offset}})


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

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        token = dig(response, self.token_path)
        if not token:
            return None
        return request.model_copy(update={"params": {**request.params, self.token_param: token}})


@dataclass(frozen=True)
class NextUrl:
    """The response names the next page's URL (Salesforce nextRecordsUrl)."""

    url_path: str

    def first(self, request: PageRequest, page_size: int) -> PageRequest:
        return request

    def next(self, request: PageRequest, response: dict[str, Any], records: int) -> PageRequest | None:
        url = dig(response, self.url_path)
        if not url:
            return None
        parts = urlsplit(url)
        return PageRequest(method="GET", path=parts.path, params=dict(parse_qsl(parts.query)))
