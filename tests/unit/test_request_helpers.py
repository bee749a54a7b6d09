"""Small request-facing helpers: the Cloud Tasks retry header, DocId, query date bounds, cursors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from flask import Request
from pydantic import TypeAdapter, ValidationError
from werkzeug.test import EnvironBuilder

from shared.api.headers import cloud_tasks_retry_count
from shared.api.types import DocId
from shared.errors import InvalidHeader


def request_with(headers: dict[str, str]) -> Request:
    return Request(EnvironBuilder(headers=headers).get_environ())


@pytest.mark.parametrize("value, expected", [(None, 0), ("", 0), ("0", 0), ("7", 7), (" 3 ", 3), ("123456789", 123456789)])
def test_retry_count(value: str | None, expected: int) -> None:
    headers = {} if value is None else {"X-CloudTasks-TaskRetryCount": value}
    assert cloud_tasks_retry_count(request_with(headers)) == expected


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "1.0", "0x10", "9" * 5000, "１"])
def test_retry_count_that_cloud_tasks_never_sends_is_400(value: str) -> None:
    with pytest.raises(InvalidHeader) as refused:
        cloud_tasks_retry_count(request_with({"X-CloudTasks-TaskRetryCount": value}))
    assert refused.value.status == 400


@pytest.mark.parametrize("value", ["abc", "6f1c2a", "contact-1", "é" * 750, "_x_", "__x", "x__"])
def test_doc_id_accepts(value: str) -> None:
    assert TypeAdapter(DocId).validate_python(value) == value


@pytest.mark.parametrize("value", ["", ".", "..", "a/b", "__name__", "__x__", "____", "a\nb", "a\x00b", "x" * 1501, "é" * 751, "\ud800"])
def test_doc_id_refuses(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(DocId).validate_python(value)


@pytest.mark.parametrize(
    "params",
    [
        {"created_to": "9999-12-31"},
        {"created_to": "9999-12-31T23:59:59.999999Z"},
        {"created_to": "9999-12-31T23:59:59-14:00"},
        {"created_from": "9999-12-31T23:59:59-14:00"},
        {"created_from": "0001-01-01T00:00:00+14:00"},
    ],
)
def test_conversation_dates_past_the_calendar_are_validation_errors(params: dict[str, str]) -> None:
    from shared.serving.catalog import query_model

    with pytest.raises(ValidationError):
        query_model("intercom", "conversations").model_validate(params)


def test_conversation_instants_are_kept_in_utc() -> None:
    from shared.serving.catalog import connector_for, query_model
    from shared.serving.queries import criteria

    query = query_model("intercom", "conversations").model_validate(
        {"created_from": "2026-01-05T10:00:00+02:00", "created_to": "2026-01-06"})
    assert query.created_from == datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    serving = connector_for("intercom").stream("conversations").serving
    assert criteria(serving, query).ranges["created"][1] == datetime(2026, 1, 7, tzinfo=timezone.utc)


def _cursor(query: object, values: list[object], doc_id: object) -> str:
    from shared.store.queries import CURSOR_VERSION, encode_cursor

    return encode_cursor({"v": CURSOR_VERSION, "q": query.signature(), "k": values, "id": doc_id})  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "values, doc_id",
    [
        ([None], ".."),
        ([None], "."),
        ([None], "__x__"),
        ([None], "__name__"),
        ([None], "é" * 751),
        ([{"$t": "9999-12-31T23:59:59-14:00"}], "a"),
        ([{"$t": "0001-01-01T00:00:00+14:00"}], "a"),
        ([2**63], "a"),
        ([-(2**63) - 1], "a"),
    ],
)
def test_hand_made_cursors_that_firestore_would_refuse_are_invalid_cursor(values: list[object], doc_id: str) -> None:
    from shared.store.queries import InvalidCursor, PageQuery, cursor_position

    query = PageQuery(sort="updated_at")
    with pytest.raises(InvalidCursor):
        cursor_position(query, _cursor(query, values, doc_id))


def test_cursor_with_lone_surrogates_is_invalid() -> None:
    import base64

    from shared.store.queries import InvalidCursor, PageQuery, cursor_position

    query = PageQuery(sort="updated_at")
    for raw in ('{"v":1,"q":"%s","k":["\\ud800"],"id":"a"}', '{"v":1,"q":"%s","k":[null],"id":"\\udfff"}'):
        token = base64.urlsafe_b64encode((raw % query.signature()).encode()).decode().rstrip("=")
        with pytest.raises(InvalidCursor):
            cursor_position(query, token)


def test_a_good_cursor_still_decodes() -> None:
    from shared.store.queries import DOC_ID, PageQuery, cursor_position

    query = PageQuery(sort="updated_at")
    position = cursor_position(query, _cursor(query, [{"$t": "2026-01-05T10:00:00+02:00"}], "6f1c2a"))
    assert position == {"updated_at": datetime(2026, 1, 5, 8, tzinfo=timezone.utc), DOC_ID: "6f1c2a"}


@pytest.mark.parametrize(
    "exc, status, code",
    [
        ("NotFound", 404, "not_found"),
        ("RequestEntityTooLarge", 413, "payload_too_large"),
        ("RequestTimeout", 408, "request_timeout"),
        ("RequestHeaderFieldsTooLarge", 431, "request_header_fields_too_large"),
        ("InternalServerError", 500, "internal"),
    ],
)
def test_werkzeug_errors_keep_their_status_under_a_stable_code(exc: str, status: int, code: str) -> None:
    from werkzeug import exceptions

    from shared.api.framework import from_http_exception

    error = from_http_exception(getattr(exceptions, exc)(description="<p>werkzeug's own text</p>"))
    assert (error.status, error.code) == (status, code)
    assert "<p>" not in error.message


def test_werkzeug_405_keeps_its_allow_header() -> None:
    from werkzeug.exceptions import MethodNotAllowed

    from shared.api.framework import from_http_exception

    assert from_http_exception(MethodNotAllowed(["POST", "GET"])).headers == {"Allow": "GET, POST"}
