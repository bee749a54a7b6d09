"""The sandbox Intercom, started as a subprocess, behaves like Intercom 2.14.

Proves: the official SDK (python-intercom) pages through every record; responses validate
against Intercom's own OpenAPI description (every endpoint the sandbox serves); the rate
limit, faults, mutations and auth behave as documented. A small data set keeps the module
fast. Behaviour that needs no subprocess (search rules, companies, timelines, writes) is
tested in-process in the sibling test_intercom_*.py modules.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC = Path(os.environ.get("INTERCOM_OPENAPI", "/work/shared/vendor-contracts/intercom/api.intercom.io-2.14.yaml"))
TOKEN = "test-token"
SIZES = {"contacts": 700, "companies": 130, "admins": 7, "conversations": 900}
AUTH = {"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.14"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = _free_port()
    argv = [sys.executable, "-m", "devtools.sandboxes.intercom", "--port", str(port), "--token", TOKEN,
            "--scroll-idle-seconds", "5", *[arg for kind, n in SIZES.items() for arg in (f"--{kind}", str(n))]]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert "ready on http://127.0.0.1:" in ready, ready
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0, "SIGTERM must shut the sandbox down cleanly"
        with proc.stdout:
            assert "stopped" in proc.stdout.read()


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    """A client with the token, after generous limits and no faults (tests tighten them)."""
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=10) as client:
        client.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 0}).raise_for_status()
        client.post("/_sandbox/rate_limit", json={"per_minute": 1_000_000, "window_seconds": 10}).raise_for_status()
        yield client


# Where Intercom's own description is stricter than what Intercom serves. Responses are
# validated against a copy with exactly these relaxations; everything else is as published.
SPEC_GAPS = {
    "conversation_statistics": "Intercom sends null for statistics not reached yet (first_admin_reply_at "
                               "before any reply, ...); the description types them as non-nullable",
    "data_attribute.model": "GET /data_attributes?model=conversation lists model 'conversation', "
                            "which the description's enum (contact, company) leaves out",
    "$ref + nullable": "properties written {$ref, nullable: true} (conversation.ai_agent, conversation_part."
                       "assigned_to, ...) are null in Intercom's own examples, but OpenAPI 3.0 tools ignore "
                       "keywords beside $ref, so the copy inlines the referenced schema with nullable: true",
}


def _nullable_copy(ref: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """The schema `ref` points at, accepting null (its anyOf alternatives too)."""
    target = copy.deepcopy(schemas[ref.rsplit("/", 1)[-1]])
    target["nullable"] = True
    if "anyOf" in target:
        target["anyOf"] = [_nullable_copy(alt["$ref"], schemas) if "$ref" in alt else {**alt, "nullable": True}
                           for alt in target["anyOf"]]
    return target


def _inline_nullable_refs(node: Any, schemas: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(value, dict) and "$ref" in value and value.get("nullable") is True:
                node[key] = _nullable_copy(value["$ref"], schemas)
            _inline_nullable_refs(node[key], schemas)
    elif isinstance(node, list):
        for item in node:
            _inline_nullable_refs(item, schemas)


def _relaxed(spec: dict[str, Any]) -> dict[str, Any]:
    """The description with exactly the SPEC_GAPS relaxations."""
    out = copy.deepcopy(spec)
    schemas = out["components"]["schemas"]
    for prop in schemas["conversation_statistics"]["properties"].values():
        if prop.get("type") in ("integer", "string"):
            prop["nullable"] = True
    schemas["data_attribute"]["properties"]["model"]["enum"].append("conversation")
    _inline_nullable_refs(schemas, spec["components"]["schemas"])
    return out


@pytest.fixture(scope="module")
def spec_dict() -> dict[str, Any]:
    with SPEC.open() as f:
        return dict(yaml.safe_load(f))


@pytest.fixture(scope="module")
def openapi(spec_dict: dict[str, Any]) -> Any:
    openapi_core = pytest.importorskip("openapi_core")
    return openapi_core.OpenAPI.from_dict(_relaxed(spec_dict), config=openapi_core.Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def strict_openapi(spec_dict: dict[str, Any]) -> Any:
    """The description exactly as published, to show each entry of SPEC_GAPS is still needed."""
    openapi_core = pytest.importorskip("openapi_core")
    return openapi_core.OpenAPI.from_dict(spec_dict, config=openapi_core.Config(spec_validator_cls=None))


def _validate(openapi: Any, method: str, path: str, response: httpx.Response, *, template: str | None = None,
              args: dict[str, str] | None = None, body: Any = None) -> None:
    """Validate our request and the sandbox's response against the 2.14 description."""
    from openapi_core.testing import MockRequest, MockResponse

    data = json.dumps(body).encode() if body is not None else None
    request = MockRequest("https://api.intercom.io", method.lower(), path, args=args or {}, headers=AUTH,
                          data=data, content_type="application/json")
    if body is not None:
        openapi.validate_request(request)
    try:
        openapi.validate_response(request, MockResponse(response.content, status_code=response.status_code,
                                                        content_type="application/json"))
    except Exception as exc:  # re-raised with the schema errors only: the value itself is huge
        causes = getattr(exc.__cause__, "schema_errors", None) or [exc.__cause__ or exc]
        details = sorted({f"{'/'.join(map(str, getattr(e, 'absolute_path', [])))}: {getattr(e, 'message', e)}"
                          for e in causes})[:60]
        raise AssertionError(f"{method} {path} -> {response.status_code} invalid: {details}") from exc


def _search_all(api: httpx.Client, kind: str, query: dict[str, Any], per_page: int = 50,
                sort: dict[str, str] | None = None) -> list[dict[str, Any]]:
    key = "data" if kind == "contacts" else "conversations"
    out: list[dict[str, Any]] = []
    pagination: dict[str, Any] = {"per_page": per_page}
    while True:
        body: dict[str, Any] = {"query": query, "pagination": pagination}
        if sort:
            body["sort"] = sort
        page = api.post(f"/{kind}/search", json=body)
        assert page.status_code == 200, page.text
        payload = page.json()
        out.extend(payload[key])
        nxt = payload["pages"].get("next")
        if not nxt:
            assert len(out) == payload["total_count"]
            return out
        pagination = {"per_page": per_page, "starting_after": nxt["starting_after"]}


def test_official_sdk_pages_through_every_record(api: httpx.Client, base_url: str) -> None:
    """The SDK's list pagers (and the companies scroll) walk every record the sandbox has.

    python-intercom's *search* pagers never send starting_after: SyncPager.get_next calls
    search() again with the same pagination, so iterating a search pager repeats page 1
    forever (an SDK bug, python-intercom v5). Searches are therefore driven page by page
    ("raw"): one search() call per page, passing pages.next.starting_after ourselves.
    """
    from intercom import Intercom
    from intercom.types import SingleFilterSearchRequest, StartingAfterPaging

    api.delete("/_sandbox/scroll").raise_for_status()
    counts = api.get("/_sandbox/counts").json()
    client = Intercom(token=TOKEN, base_url=base_url)
    contacts = list(client.contacts.list(per_page=150))
    listed = list(client.companies.list(per_page=60))
    scrolled = list(client.companies.scroll())
    admins = client.admins.list().admins or []
    conversations = list(client.conversations.list(per_page=150))
    for kind, records, expected in (("contacts", contacts, counts["contacts"]),
                                    ("companies listed", listed, counts["companies_listed"]),
                                    ("companies scrolled", scrolled, counts["companies"]),
                                    ("admins", admins, counts["admins"]),
                                    ("conversations", conversations, counts["conversations"])):
        ids = [r.id for r in records]
        assert len(ids) == expected, kind
        assert len(set(ids)) == len(ids), f"duplicate {kind}"
    assert counts["companies_listed"] < counts["companies"]  # the ones without users are only scrolled
    assert all((c.user_count or 0) > 0 for c in listed)
    assert {c.role for c in contacts} == {"user", "lead"}
    assert all("training_topic" in (c.custom_attributes or {}) for c in contacts)
    assert {v.state for v in conversations} == {"open", "closed", "snoozed"}
    assert any(v.statistics is not None and v.statistics.first_admin_reply_at is None for v in conversations)
    one = client.companies.retrieve(name=listed[3].name)
    assert one.type == "list" and [c.id for c in one.data or []] == [listed[3].id]

    query = SingleFilterSearchRequest(field="role", operator="=", value="lead")
    found: list[str] = []
    cursor: str | None = None
    while True:
        page = client.contacts.search(query=query, pagination=StartingAfterPaging(per_page=40, starting_after=cursor))
        found.extend(c.id for c in page.items or [])
        nxt = page.response.pages.next if page.response.pages else None
        cursor = nxt.starting_after if nxt else None
        if not cursor:
            break
    assert sorted(found) == sorted(c.id for c in contacts if c.role == "lead")


def test_responses_match_the_openapi_description(api: httpx.Client, openapi: Any) -> None:
    page = api.get("/contacts", params={"per_page": 20})
    _validate(openapi, "GET", "/contacts", page, args={"per_page": "20"})
    contact_id = page.json()["data"][0]["id"]
    _validate(openapi, "GET", f"/contacts/{contact_id}", api.get(f"/contacts/{contact_id}"))
    # The description's groups hold either filters or groups, not a mix: (a OR b) AND (c OR d).
    search = {"query": {"operator": "AND", "value": [
        {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "user"},
                                     {"field": "phone", "operator": "^", "value": "+1555"}]},
        {"operator": "OR", "value": [{"field": "email", "operator": "~", "value": "example"},
                                     {"field": "created_at", "operator": ">", "value": 1_700_000_000}]}]},
        "pagination": {"per_page": 20}, "sort": {"field": "updated_at", "order": "descending"}}
    _validate(openapi, "POST", "/contacts/search", api.post("/contacts/search", json=search), body=search)
    conversations = api.get("/conversations", params={"per_page": 20})
    _validate(openapi, "GET", "/conversations", conversations, args={"per_page": "20"})
    for conversation_id in [v["id"] for v in conversations.json()["conversations"][:5]]:
        detail = api.get(f"/conversations/{conversation_id}")
        assert detail.json()["conversation_parts"]["total_count"] >= 0
        _validate(openapi, "GET", f"/conversations/{conversation_id}", detail)
    csearch = {"query": {"field": "state", "operator": "IN", "value": ["open", "snoozed"]},
               "pagination": {"per_page": 20}}
    _validate(openapi, "POST", "/conversations/search", api.post("/conversations/search", json=csearch), body=csearch)
    _validate(openapi, "GET", "/admins", api.get("/admins"))
    _validate(openapi, "GET", "/me", api.get("/me"))
    _validate(openapi, "POST", "/companies/list", api.post("/companies/list", params={"per_page": 20}),
              args={"per_page": "20"})
    companies = api.get("/companies", params={"per_page": 20})
    _validate(openapi, "GET", "/companies", companies, args={"per_page": "20"})
    name = companies.json()["data"][0]["name"]
    _validate(openapi, "GET", "/companies", api.get("/companies", params={"name": name}), args={"name": name})
    api.delete("/_sandbox/scroll").raise_for_status()
    scroll = api.get("/companies/scroll")
    _validate(openapi, "GET", "/companies/scroll", scroll)
    param = scroll.json()["scroll_param"]
    _validate(openapi, "GET", "/companies/scroll", api.get("/companies/scroll", params={"scroll_param": param}),
              args={"scroll_param": param})
    api.delete("/_sandbox/scroll").raise_for_status()
    _validate(openapi, "GET", "/tags", api.get("/tags"))
    _validate(openapi, "GET", "/teams", api.get("/teams"))
    for args in ({}, {"include_count": "true"}):
        _validate(openapi, "GET", "/segments", api.get("/segments", params=args), args=args)
    for args in ({}, {"model": "contact"}, {"model": "company"}, {"model": "conversation"}):
        _validate(openapi, "GET", "/data_attributes", api.get("/data_attributes", params=args), args=args)
    unauthorized = httpx.get(f"{api.base_url}/contacts")
    _validate(openapi, "GET", "/contacts", unauthorized)
    missing = api.get("/admins/1")
    assert missing.status_code == 404
    _validate(openapi, "GET", "/admins/1", missing)
    unknown = api.get("/companies", params={"name": "no such company"})
    assert unknown.status_code == 404
    _validate(openapi, "GET", "/companies", unknown, args={"name": "no such company"})


def test_each_spec_gap_is_still_needed(api: httpx.Client, strict_openapi: Any) -> None:
    """The published description refuses what Intercom serves, for each entry of SPEC_GAPS."""
    conversations = api.get("/conversations", params={"per_page": 50}).json()["conversations"]
    unanswered = next(v["id"] for v in conversations if v["statistics"]["first_admin_reply_at"] is None)
    with pytest.raises(AssertionError, match="statistics/first_admin_reply_at: None for not nullable"):
        _validate(strict_openapi, "GET", f"/conversations/{unanswered}", api.get(f"/conversations/{unanswered}"))
    with pytest.raises(AssertionError, match="ai_agent: None for not nullable"):
        _validate(strict_openapi, "GET", "/conversations", api.get("/conversations"))
    args = {"model": "conversation"}
    with pytest.raises(AssertionError, match="model: 'conversation' is not one of"):
        _validate(strict_openapi, "GET", "/data_attributes", api.get("/data_attributes", params=args), args=args)
    assert len(SPEC_GAPS) == 3


def test_errors_use_intercoms_error_body(api: httpx.Client) -> None:
    missing = api.get("/contacts/000000000000000000000000")
    assert missing.status_code == 404
    assert missing.json()["type"] == "error.list" and missing.json()["errors"][0]["code"] == "not_found"
    assert api.get("/companies/nope").json()["errors"][0]["code"] == "company_not_found"
    bad = api.post("/contacts/search", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "bad_request"
    bad_field = api.post("/contacts/search", json={"query": {"field": "shoe_size", "operator": "=", "value": 1}})
    assert bad_field.status_code == 400 and bad_field.json()["errors"][0]["code"] == "parameter_invalid"
    bad_cursor = api.get("/contacts", params={"starting_after": "garbage!"})
    assert bad_cursor.status_code == 400


def test_401_without_or_with_a_wrong_token(base_url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = httpx.get(f"{base_url}/contacts", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["type"] == "error.list" and body["request_id"]
        assert body["errors"] == [{"code": "unauthorized", "message": "Access Token Invalid"}]
        assert "X-RateLimit-Remaining" not in response.headers  # Intercom omits them without credentials


def test_rate_limit_counts_down_then_429(api: httpx.Client) -> None:
    window = 60
    if window - time.time() % window < 3:  # do not straddle a window boundary
        time.sleep(window - time.time() % window + 0.1)
    api.post("/_sandbox/rate_limit", json={"per_minute": 10, "window_seconds": window}).raise_for_status()
    before = api.get("/_sandbox/stats").json()["rate_limited"]
    seen = [api.get("/admins") for _ in range(13)]
    assert [r.status_code for r in seen] == [200] * 10 + [429] * 3
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in seen] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]
    assert {r.headers["X-RateLimit-Limit"] for r in seen} == {"10"}
    reset = {int(r.headers["X-RateLimit-Reset"]) for r in seen}
    assert len(reset) == 1 and reset.pop() % window == 0 and time.time() < int(seen[0].headers["X-RateLimit-Reset"])
    body = seen[-1].json()
    assert body["type"] == "error.list" and body["errors"][0]["code"] == "rate_limit_exceeded"
    assert api.get("/_sandbox/stats").json()["rate_limited"] == before + 3
    # The default budget is Intercom's: 1000/min spread as 167 per 10 s.
    api.post("/_sandbox/rate_limit", json={"per_minute": 1000, "window_seconds": 10}).raise_for_status()
    assert api.get("/admins").headers["X-RateLimit-Limit"] == "167"


def _fault_run(api: httpx.Client, n: int) -> list[str]:
    outcomes = []
    for _ in range(n):
        try:
            status = api.get("/admins").status_code
            outcomes.append("ok" if status == 200 else str(status))
        except httpx.TransportError:
            outcomes.append("drop")
    return outcomes


def test_fault_injection_rates_and_determinism(api: httpx.Client) -> None:
    before = api.get("/_sandbox/stats").json()
    faults = {"error_rate": 0.2, "drop_rate": 0.1, "error_status": 503}
    api.post("/_sandbox/faults", json=faults).raise_for_status()
    first = _fault_run(api, 300)
    api.post("/_sandbox/faults", json=faults).raise_for_status()  # same settings restart the seeded sequence
    second = _fault_run(api, 300)
    assert first == second
    assert 0.12 <= first.count("503") / 300 <= 0.28
    assert 0.04 <= first.count("drop") / 300 <= 0.16
    after = api.get("/_sandbox/stats").json()
    assert after["injected_errors"] - before["injected_errors"] == 2 * first.count("503")
    assert after["dropped_connections"] - before["dropped_connections"] == 2 * first.count("drop")
    api.post("/_sandbox/faults", json={"error_rate": 0, "drop_rate": 0, "latency_ms": 150}).raise_for_status()
    started = time.monotonic()
    assert api.get("/admins").status_code == 200
    assert time.monotonic() - started >= 0.15
    assert api.post("/_sandbox/faults", json={"error_rate": 2}).status_code == 400


def test_mutations_are_found_by_updated_at_search(api: httpx.Client) -> None:
    counts = api.get("/_sandbox/counts").json()
    high = counts["max_updated_at"]
    changed = api.post("/_sandbox/mutate", json={"contacts_updated": 7, "contacts_created": 3, "contacts_deleted": 2,
                                                 "conversations_updated": 5, "conversations_created": 2}).json()
    assert changed["now"] > max(high.values())
    after = {"field": "updated_at", "operator": ">", "value": high["contacts"]}
    found = {c["id"] for c in _search_all(api, "contacts", after, per_page=4)}
    assert found == set(changed["contacts_updated"]) | set(changed["contacts_created"])
    after_conv = {"field": "updated_at", "operator": ">", "value": high["conversations"]}
    found_conv = {v["id"] for v in _search_all(api, "conversations", after_conv, per_page=3)}
    # Conversation `>` is "Greater (or equal) than": the ones last updated at the mark come back too.
    at_mark = {v["id"] for v in _search_all(api, "conversations", {**after_conv, "operator": "="})}
    assert at_mark and found_conv == set(changed["conversations_updated"]) | set(changed["conversations_created"]) | at_mark
    for gone in changed["contacts_deleted"]:
        assert api.get(f"/contacts/{gone}").status_code == 404
    new_counts = api.get("/_sandbox/counts").json()
    assert new_counts["contacts"] == counts["contacts"] + 3 - 2
    assert new_counts["conversations"] == counts["conversations"] + 2
    # A PUT bumps updated_at past the mutation and keeps the custom attribute.
    target = changed["contacts_updated"][0]
    put = api.put(f"/contacts/{target}", json={"custom_attributes": {"training_topic": "sso"}})
    assert put.status_code == 200
    assert put.json()["updated_at"] > changed["now"] and put.json()["custom_attributes"]["training_topic"] == "sso"
    refused = api.put(f"/contacts/{target}", json={"shoe_size": 4})
    assert refused.status_code == 400 and refused.json()["errors"][0] == {"code": "bad_request",
                                                                          "message": "bad 'shoe_size' parameter"}


def test_search_is_ordered_and_stable_under_pagination(api: httpx.Client) -> None:
    query = {"operator": "OR", "value": [{"field": "role", "operator": "=", "value": "lead"},
                                        {"field": "custom_attributes.training_topic", "operator": "=", "value": "api"}]}
    rows = _search_all(api, "contacts", query, per_page=37, sort={"field": "updated_at", "order": "descending"})
    keys = [(r["updated_at"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
    assert all(r["role"] == "lead" or r["custom_attributes"]["training_topic"] == "api" for r in rows)
    listed = []
    cursor = None
    while True:
        params = {"per_page": 150, **({"starting_after": cursor} if cursor else {})}
        page = api.get("/contacts", params=params).json()
        listed.extend(page["data"])
        cursor = (page["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            break
    expected = {c["id"] for c in listed if c["role"] == "lead" or c["custom_attributes"]["training_topic"] == "api"}
    assert {r["id"] for r in rows} == expected
    by_state = _search_all(api, "conversations", {"field": "state", "operator": "!=", "value": "closed"}, per_page=150)
    assert by_state and all(v["state"] in ("open", "snoozed") for v in by_state)


def test_companies_paginate_by_page_number_over_those_with_users(api: httpx.Client) -> None:
    listed = api.get("/_sandbox/counts").json()["companies_listed"]
    first = api.get("/companies", params={"per_page": 50}).json()
    assert first["type"] == "list" and first["total_count"] == listed and len(first["data"]) == 50
    assert first["pages"]["total_pages"] == -(-listed // 50)
    last = api.get("/companies", params={"per_page": 50, "page": first["pages"]["total_pages"]}).json()
    assert last["pages"]["next"] is None and len(last["data"]) == listed - 50 * (first["pages"]["total_pages"] - 1)
    assert all(c["user_count"] > 0 for c in first["data"] + last["data"])
    seen = [c["last_request_at"] for c in first["data"]]
    assert seen == sorted(seen, reverse=True)
    name = first["data"][1]["name"]
    one = api.get("/companies", params={"name": name}).json()
    assert one["type"] == "list" and [c["id"] for c in one["data"]] == [first["data"][1]["id"]]
    missing = api.get("/companies", params={"name": "no such company"})
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "company_not_found"
