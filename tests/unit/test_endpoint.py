"""The one error model, through a real Flask request pipeline (werkzeug test client)."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import flask
import pytest
from flask import Flask
from pydantic import BaseModel, Field

from shared.api import PUBLIC, Call, Endpoint
from shared.api.framework import install_error_handlers
from shared.errors import Conflict


class Item(BaseModel):
    name: str = Field(min_length=1)
    qty: int = Field(ge=0)


class ItemQuery(BaseModel):
    """Declares nothing about extra fields: the Endpoint refuses them anyway."""

    limit: int = Field(10, ge=1, le=100)
    since: datetime | None = None


class When(BaseModel):
    at: datetime


class Order(BaseModel):
    item: Item
    when: When | None = None


endpoint = Endpoint("items", summary="test items")


@endpoint.route("GET", "/", auth=PUBLIC, query=ItemQuery)
def list_items(call: Call) -> dict:
    return {"limit": call.query.limit}


@endpoint.route("POST", "/", auth=PUBLIC, body=Item, response=Item, status=201)
def create_item(call: Call) -> Item:
    return call.body


@endpoint.route("POST", "/orders", auth=PUBLIC, body=Order)
def create_order(call: Call) -> dict:
    return {"ok": True}


@endpoint.route("GET", "/{item_id}", auth=PUBLIC)
def get_item(call: Call) -> dict:
    if call.path["item_id"] == "boom":
        raise RuntimeError("secret internals: password=hunter2")
    if call.path["item_id"] == "busy":
        raise Conflict("busy", code="item_locked")
    return {"id": call.path["item_id"]}


@pytest.fixture()
def client(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "200")
    from shared.config import get_settings

    get_settings.cache_clear()
    app = Flask(__name__)
    install_error_handlers(app)
    handle = endpoint.entry_point()
    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
    # Functions-framework's own routing: every path and method goes to the entry point.
    app.add_url_rule("/", "root", lambda: handle(flask.request), methods=methods)
    app.add_url_rule("/<path:rest>", "rest", lambda rest: handle(flask.request), methods=methods)
    return app.test_client()


def error(response) -> dict:
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    return body["error"]


def test_success_and_query_defaults(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_json() == {"limit": 10}
    assert response.headers["X-Request-Id"]


def test_created_with_body(client) -> None:
    response = client.post("/", json={"name": "a", "qty": 2})
    assert response.status_code == 201
    assert response.get_json() == {"name": "a", "qty": 2}


def test_malformed_json_is_400(client) -> None:
    response = client.post("/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error(response)["code"] == "malformed_json"


def test_validation_errors_carry_field_details(client) -> None:
    response = client.post("/", json={"name": "", "qty": -1})
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "validation_failed"
    assert {tuple(d["loc"]) for d in err["details"]} == {("name",), ("qty",)}
    assert "input" not in err["details"][0]


def test_query_validation(client) -> None:
    response = client.get("/?limit=1000")
    assert response.status_code == 400
    assert error(response)["details"][0]["loc"] == ["limit"]


def test_wrong_content_type_is_415(client) -> None:
    response = client.post("/", data="name=a", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"


def test_body_over_limit_is_413(client) -> None:
    response = client.post("/", json={"name": "x" * 500, "qty": 1})
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"


def test_unknown_path_is_404_and_wrong_method_405(client) -> None:
    assert error(client.get("/a/b/c"))["code"] == "not_found"
    response = client.delete("/")
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_typed_error_keeps_its_status_and_code(client) -> None:
    response = client.get("/busy")
    assert response.status_code == 409
    assert error(response)["code"] == "item_locked"


def test_unexpected_error_is_500_without_internals(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom", headers={"X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/42;o=1"})
    assert response.status_code == 500
    err = error(response)
    assert err["code"] == "internal"
    assert "hunter2" not in response.get_data(as_text=True)
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_json_log_line_carries_trace_and_request_id(client, capsys: pytest.CaptureFixture[str]) -> None:
    from shared import logging as tlog

    handler = logging.StreamHandler()
    handler.setFormatter(tlog.CloudLoggingFormatter())
    logger = logging.getLogger("tributary.api")
    logger.addHandler(handler)
    try:
        response = client.get("/busy", headers={"X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/42;o=1"})
    finally:
        logger.removeHandler(handler)
    line = next(text for text in capsys.readouterr().err.splitlines() if "request failed" in text)
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["logging.googleapis.com/trace"] == "projects/tributary-test/traces/0123456789abcdef0123456789abcdef"
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert entry["code"] == "item_locked"


def test_unknown_query_parameters_and_body_fields_are_400_at_every_depth(client) -> None:
    response = client.get("/?limit=5&bogus=1")
    assert response.status_code == 400
    assert error(response)["details"][0]["loc"] == ["bogus"]
    response = client.post("/", json={"name": "a", "qty": 1, "admin": True})
    assert response.status_code == 400
    assert error(response)["details"][0]["type"] == "extra_forbidden"
    response = client.post("/orders", json={"item": {"name": "a", "qty": 1, "price": 0}})
    assert response.status_code == 400
    assert error(response)["details"][0]["loc"] == ["item", "price"]


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_datetimes_that_do_not_exist_in_utc_are_400(client, raw: str) -> None:
    response = client.get("/", query_string={"since": raw})
    assert response.status_code == 400
    assert error(response)["details"] == [
        {"loc": ["since"], "msg": "Datetime is out of range in UTC", "type": "datetime_out_of_range"}
    ]
    response = client.post("/orders", json={"item": {"name": "a", "qty": 1}, "when": {"at": raw}})
    assert response.status_code == 400
    assert error(response)["details"][0]["loc"] == ["when", "at"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),  # the C scanner's RecursionError
        (b"[" * 40 + b"]" * 40, "too_deep"),  # parses, but deeper than anything we store
        (b'{"name": "a", "qty": ' + b"9" * 5000 + b"}", "number_too_large"),  # int-str limit
        (b'{"name": "a", "qty": 99999999999999999999}', "number_too_large"),  # past 64 bits
        (b'{"name": "a", "qty": NaN}', "non_finite_number"),
        (b'{"name": "a", "qty": 1e999}', "non_finite_number"),
        (b'{"name": "a", "name": "b", "qty": 1}', "duplicate_key"),
        (b'{"name": "\\ud800", "qty": 1}', "invalid_unicode"),  # a lone surrogate
        (b'{"name": "\xff", "qty": 1}', "invalid_unicode"),
        (b'{"name": "a",', "syntax"),
    ],
)
def test_hostile_json_is_400_malformed_json(client, monkeypatch: pytest.MonkeyPatch, body: bytes, reason: str) -> None:
    from shared.config import get_settings

    monkeypatch.setenv("MAX_BODY_BYTES", str(1 << 20))
    get_settings.cache_clear()
    response = client.post("/", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    err = error(response)
    assert err["code"] == "malformed_json"
    assert err["details"] == {"reason": reason}


@pytest.mark.parametrize("item_id", ["..", ".", "__name__", "__x__", "a%09b", "a%00b", "a%7Fb", "x" * 1501, "%C3%A9" * 751])
def test_path_parameters_are_firestore_safe_ids(client, item_id: str) -> None:
    response = client.get(f"/{item_id}")
    assert response.status_code == 400, response.get_data(as_text=True)
    err = error(response)
    assert err["code"] == "validation_failed"
    assert err["details"][0]["loc"] == ["path", "item_id"]


def test_a_trailing_newline_is_not_the_root(client) -> None:
    """re's '$' matches before a final newline: /%0A used to be served as /. Now it is what
    it is, a one-segment path whose segment is not an id."""
    response = client.get("/%0A")
    assert response.status_code == 400
    assert error(response)["details"][0]["loc"] == ["path", "item_id"]


def test_head_is_answered_like_get(client) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.get_data() == b""


class TrickleStream(io.RawIOBase):
    """A chunked body as werkzeug's dev server hands it over: short reads, one chunk each."""

    def __init__(self, data: bytes, chunk: int = 7) -> None:
        self.data, self.chunk, self.read_bytes = data, chunk, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        part = self.data[self.read_bytes : self.read_bytes + min(len(buffer), self.chunk)]
        buffer[: len(part)] = part
        self.read_bytes += len(part)
        return len(part)


def chunked(client, path: str, stream: TrickleStream):  # type: ignore[no-untyped-def]
    return client.post(
        path,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True},
    )


def test_chunked_body_is_read_whole_across_short_reads(client) -> None:
    response = chunked(client, "/", TrickleStream(b'{"name": "abc", "qty": 3}'))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json() == {"name": "abc", "qty": 3}


def test_chunked_body_over_the_limit_is_413_after_limit_plus_one_bytes(client) -> None:
    stream = TrickleStream(b"x" * 10_000, chunk=64)
    response = chunked(client, "/", stream)
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"
    assert stream.read_bytes == 201  # MAX_BODY_BYTES=200 in this module


def test_declared_length_over_the_limit_is_413_before_reading(client) -> None:
    stream = TrickleStream(b"x" * 10_000)
    response = client.post(
        "/", content_type="application/json", environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": "10000"}
    )
    assert response.status_code == 413
    assert stream.read_bytes == 0


# -- CORS -------------------------------------------------------------------------------------


@pytest.fixture()
def dash_origin(monkeypatch: pytest.MonkeyPatch) -> str:
    from shared.config import get_settings

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://dash.example.com, https://Other.example.com/")
    get_settings.cache_clear()
    return "https://dash.example.com"


def test_no_origin_is_allowed_by_default(client) -> None:
    response = client.get("/", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]
    response = client.options("/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 403
    assert error(response)["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_configured_origins_are_echoed_only_when_they_match(client, dash_origin: str) -> None:
    response = client.get("/", headers={"Origin": dash_origin})
    assert response.headers["Access-Control-Allow-Origin"] == dash_origin
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
    assert client.get("/", headers={"Origin": "https://other.example.com"}).headers["Access-Control-Allow-Origin"]
    for origin in ("https://evil.example", "https://dash.example.com.evil.example", "null", "http://dash.example.com"):
        assert "Access-Control-Allow-Origin" not in client.get("/", headers={"Origin": origin}).headers


def test_cors_preflight(client, dash_origin: str) -> None:
    response = client.options("/", headers={"Origin": dash_origin, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "OPTIONS"}
    assert response.headers["Access-Control-Allow-Origin"] == dash_origin
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    response = client.options("/a/b/c", headers={"Origin": dash_origin, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


@pytest.mark.parametrize("value", ["*", "https://dash.example.com,*", "dash.example.com", "https://a.example/path"])
def test_wildcard_or_malformed_origins_are_a_config_error(monkeypatch: pytest.MonkeyPatch, settings_env, value: str) -> None:
    from shared.config import ConfigError, Settings, load

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", value)
    with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS"):
        load(Settings)
