"""The one error model, through a real Flask request pipeline (werkzeug test client)."""

from __future__ import annotations

import json
import logging

import flask
import pytest
from flask import Flask
from pydantic import BaseModel, Field

from shared.api import PUBLIC, Call, Endpoint
from shared.errors import Conflict


class Item(BaseModel):
    name: str = Field(min_length=1)
    qty: int = Field(ge=0)


class ItemQuery(BaseModel):
    limit: int = Field(10, ge=1, le=100)


endpoint = Endpoint("items", summary="test items")


@endpoint.route("GET", "/", auth=PUBLIC, query=ItemQuery)
def list_items(call: Call) -> dict:
    return {"limit": call.query.limit}


@endpoint.route("POST", "/", auth=PUBLIC, body=Item, response=Item, status=201)
def create_item(call: Call) -> Item:
    return call.body


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
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}


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
    line = next(l for l in capsys.readouterr().err.splitlines() if "request failed" in l)
    entry = json.loads(line)
    assert entry["severity"] == "WARNING"
    assert entry["logging.googleapis.com/trace"] == "projects/tributary-test/traces/0123456789abcdef0123456789abcdef"
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert entry["code"] == "item_locked"


def test_cors_preflight(client) -> None:
    response = client.options("/", headers={"Origin": "https://dash.example.com", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Origin"] == "https://dash.example.com"
