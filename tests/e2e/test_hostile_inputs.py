"""Hostile inputs over the wire: every one is refused with a 4xx and the standard error body.

Each case is what an attack on the running stack sent (mostly as a signed-in member; some
as an admin or as the Cloud Tasks service account, where a route needs it). None may be a
500, none may be answered in anything but {"error": {code, message, details, request_id}}.
Targets are sent as raw bytes, so percent-escapes, dot segments and bad UTF-8 arrive as
the attacker wrote them (an HTTP client would normalise them away).
"""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from devtools.identity import IdentityServer
from tests.conftest import TASKS_SA

MAX_BODY_BYTES = 1_048_576  # the default; the functions server runs with it
#: an org Intercom connection (the `hostile` fixture creates it): its routes are reached
CONN = "hostile-intercom"
CONTACTS = f"/records/{CONN}/contacts"
CONVERSATIONS = f"/records/{CONN}/conversations"
COMPANIES = f"/records/{CONN}/companies"
STATS = f"/views/{CONN}/conversation-stats"
ACTION = f"/actions/{CONN}/contact-custom-attributes"
JSON = {"Content-Type": "application/json"}
CHUNK = {"connection_id": "hostile-intercom", "run_id": "hostile-run", "stream": "contacts", "page": 0}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    target: str  # after the functions base path, already percent-encoded as sent
    status: int | None = None  # the exact status, when only one is right
    code: str | None = None
    as_: str = "member"  # member, admin, tasks or none
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _cursor(query: Any, values: list[Any], doc_id: Any) -> str:
    from shared.store.queries import CURSOR_VERSION, encode_cursor

    return encode_cursor({"v": CURSOR_VERSION, "q": query.signature(), "k": values, "id": doc_id})


def _raw_cursor(query: Any, template: str) -> str:
    text = template.replace("SIG", query.signature())
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _store_query(stream: str) -> Any:
    """The store query the records function runs for a stream's default list."""
    from shared.serving.catalog import connector_for, query_model
    from shared.serving.queries import criteria, page_query

    serving = connector_for("intercom").stream(stream).serving
    return page_query(serving, criteria(serving, query_model("intercom", stream).model_validate({})))


def _cursor_cases() -> list[Case]:
    contacts, conversations = _store_query("contacts"), _store_query("conversations")
    made = {
        "contacts id ..": (CONTACTS, _cursor(contacts, [None], "..")),
        "contacts id .": (CONTACTS, _cursor(contacts, [None], ".")),
        "contacts id __x__": (CONTACTS, _cursor(contacts, [None], "__x__")),
        "contacts id __name__": (CONTACTS, _cursor(contacts, [None], "__name__")),
        "contacts value past int64": (CONTACTS, _cursor(contacts, [10**30], "a")),
        "contacts time past 9999 in UTC": (CONTACTS, _cursor(contacts, [{"$t": "9999-12-31T23:59:59-14:00"}], "a")),
        "contacts time before year 1 in UTC": (CONTACTS, _cursor(contacts, [{"$t": "0001-01-01T00:00:00+14:00"}], "a")),
        "contacts lone surrogate value": (CONTACTS, _raw_cursor(contacts, '{"v":1,"q":"SIG","k":["\\ud800"],"id":"a"}')),
        "contacts lone surrogate id": (CONTACTS, _raw_cursor(contacts, '{"v":1,"q":"SIG","k":[null],"id":"\\ud800"}')),
        "conversations id __x__": (
            CONVERSATIONS, _cursor(conversations, [{"$t": "2026-01-01T00:00:00+00:00"}], "__x__")
        ),
        "conversations time past 9999": (
            CONVERSATIONS, _cursor(conversations, [{"$t": "9999-12-31T23:59:59-14:00"}], "a")
        ),
    }
    return [
        Case(f"cursor: {name}", "GET", f"{path}?cursor={quote(cursor)}", 400, "invalid_cursor")
        for name, (path, cursor) in made.items()
    ]


def _cases() -> list[Case]:
    nested = b"[" * 100_000 + b"]" * 100_000
    digits = b"9" * 5000
    patch = ACTION
    worker = json.dumps(CHUNK).encode()
    return [
        # -- dates that overflow once they become datetimes / UTC timestamps
        Case("created_to last day", "GET", f"{CONVERSATIONS}?created_to=9999-12-31", 400, "validation_failed"),
        Case("created_to last day, live", "GET", f"{CONVERSATIONS}?created_to=9999-12-31&live=true", 400, "validation_failed"),
        Case("created_to last microsecond", "GET", f"{CONVERSATIONS}?created_to=9999-12-31T23:59:59.999999Z", 400, "validation_failed"),
        Case("created_to past 9999 in UTC", "GET", f"{CONVERSATIONS}?created_to=9999-12-31T23:59:59-14:00", 400, "validation_failed"),
        Case("created_from past 9999 in UTC", "GET", f"{CONVERSATIONS}?created_from=9999-12-31T23:59:59-14:00", 400, "validation_failed"),
        Case("created_from before year 1", "GET", f"{CONVERSATIONS}?created_from=0001-01-01T00:00:00%2B14:00", 400, "validation_failed"),
        Case("contacts have no created_to", "GET", f"{CONTACTS}?created_to=9999-12-31", 400, "validation_failed"),
        Case("runs before past 9999 in UTC", "GET", "/sync-runs?before=9999-12-31T23:59:59-14:00", 400, "validation_failed"),
        Case("stats on the last day", "GET", f"{STATS}?from=9999-12-31&to=9999-12-31", 200),
        Case("stats over two years", "GET", f"{STATS}?from=2024-01-01&to=2026-01-01", 400, "validation_failed"),
        Case("stats with no dates", "GET", f"{STATS}?from=&to=", 400, "validation_failed"),
        # -- path parameters that become Firestore document ids
        Case("run id .", "GET", "/sync-runs/%2E", 400, "validation_failed"),
        Case("run id ..", "GET", "/sync-runs/%2E%2E", 400, "validation_failed"),
        Case("run id a/b", "GET", "/sync-runs/a%2Fb", 404, "not_found"),
        Case("run id __name__", "GET", "/sync-runs/__name__", 400, "validation_failed"),
        Case("run id __x__", "GET", "/sync-runs/__x__", 400, "validation_failed"),
        Case("run id with a newline", "GET", "/sync-runs/a%0Ab", 404, "not_found"),
        Case("run id with NUL", "GET", "/sync-runs/a%00b", 400, "validation_failed"),
        Case("run id of 1,501 bytes", "GET", "/sync-runs/" + "x" * 1501, 400, "validation_failed"),
        Case("run id of bad UTF-8", "GET", f"/sync-runs/%FF%FE?connection_id={CONN}", 404, "run_not_found"),
        Case("run vendor ..", "GET", "/sync-runs/x?vendor=..", 400, "validation_failed"),
        Case("run vendor a/b", "GET", "/sync-runs/x?vendor=a/b", 400, "validation_failed"),
        Case("run vendor __x__", "GET", "/sync-runs/x?vendor=__x__", 400, "validation_failed"),
        Case("runs of an unknown connection", "GET", "/sync-runs?connection_id=nope", 404),
        Case("contact id ..", "GET", f"{CONTACTS}/%2E%2E", 400, "validation_failed"),
        Case("contact id with a newline", "GET", f"{CONTACTS}/a%0Ab", 404, "not_found"),
        Case("conversation id __x__", "GET", f"{CONVERSATIONS}/__x__", 400, "validation_failed"),
        Case("company id __name__", "GET", f"{COMPANIES}/__name__", 400, "validation_failed"),
        *_cursor_cases(),
        Case("cursor not base64 JSON", "GET", f"{CONTACTS}?cursor=%FF%FE", 400, "invalid_cursor"),
        Case("cursor of another query", "GET", f"{CONTACTS}?cursor=eyJ2IjoxfQ", 400, "invalid_cursor"),
        # -- odd query strings
        Case("unknown parameter", "GET", f"{CONTACTS}?bogus=1", 400, "validation_failed"),
        Case("unknown runs parameter", "GET", "/sync-runs?bogus=1", 400, "validation_failed"),
        Case("unknown stats parameter", "GET", f"{STATS}?from=2026-01-01&to=2026-01-02&x=1", 400, "validation_failed"),
        Case("repeated limit", "GET", f"{CONTACTS}?limit=1&limit=2", 400, "validation_failed"),
        Case("repeated runs limit", "GET", "/sync-runs?limit=1&limit=2", 400, "validation_failed"),
        Case("empty email", "GET", f"{CONTACTS}?email=", 400, "validation_failed"),
        Case("empty limit", "GET", f"{CONTACTS}?limit=", 400, "validation_failed"),
        Case("huge limit", "GET", f"{CONTACTS}?limit=99999999999999999999999", 400, "validation_failed"),
        Case("5,000-digit limit", "GET", "/sync-runs?limit=" + "9" * 5000, 400, "validation_failed"),
        Case("negative limit", "GET", f"{COMPANIES}?limit=-1", 400, "validation_failed"),
        Case("NaN limit", "GET", f"{CONTACTS}?limit=NaN", 400, "validation_failed"),
        Case("inf limit", "GET", "/sync-runs?limit=inf", 400, "validation_failed"),
        Case("1e400 limit", "GET", "/sync-runs?limit=1e400", 400, "validation_failed"),
        Case("live=maybe", "GET", f"{CONTACTS}?live=maybe", 400, "validation_failed"),
        Case("non-UTF-8 key", "GET", f"{CONTACTS}?%FF=1", 400, "validation_failed"),
        Case("non-UTF-8 value", "GET", f"{CONTACTS}?email=%FF%FE", 200),
        Case("NUL in a value", "GET", f"{COMPANIES}?name=%00", 200),
        # -- bodies (sync-now and the action are admin routes; sync-worker is Cloud Tasks')
        Case("100,000 nested arrays", "POST", "/sync-now", 400, "malformed_json", "admin", JSON, nested),
        Case("5,000-digit integer", "POST", "/sync-now", 400, "malformed_json", "admin", JSON, b'{"vendor": ' + digits + b"}"),
        Case("NaN", "POST", "/sync-now", 400, "malformed_json", "admin", JSON, b'{"vendor": NaN}'),
        Case("duplicate keys", "POST", "/sync-now", 400, "malformed_json", "admin", JSON, b'{"vendor": "intercom", "vendor": "x"}'),
        Case("lone surrogate", "POST", "/sync-now", 400, "malformed_json", "admin", JSON, b'{"vendor": "\\ud800"}'),
        Case("not UTF-8", "POST", "/sync-now", 400, "malformed_json", "admin", JSON, b'{"vendor": "\xff"}'),
        Case("unknown body field", "POST", "/sync-now", 400, "validation_failed", "admin", JSON, b'{"vendor": "intercom", "x": 1}'),
        Case("form body", "POST", "/sync-now", 415, "unsupported_media_type", "admin",
             {"Content-Type": "application/x-www-form-urlencoded"}, b"vendor=intercom"),
        Case("no content type", "POST", "/sync-now", 415, "unsupported_media_type", "admin", {}, b"{}"),
        Case("patch 5,000 digits", "POST", patch, 400, "malformed_json", "admin", {**JSON, "If-Match": '"x"'},
             b'{"key": "hostile-no-such-contact", "attributes": {"a": ' + digits + b"}}"),
        Case("patch 1e999", "POST", patch, 400, "malformed_json", "admin", {**JSON, "If-Match": '"x"'}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1e999}}'),
        Case("patch unknown field", "POST", patch, 400, "validation_failed", "admin", {**JSON, "If-Match": '"x"'},
             b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}, "admin": true}'),
        Case("patch expected_updated_at past 9999", "POST", patch, 400, "validation_failed", "admin", JSON,
             b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}, "expected_updated_at": "9999-12-31T23:59:59-14:00"}'),
        Case("patch expected_updated_at before year 1", "POST", patch, 400, "validation_failed", "admin", JSON,
             b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}, "expected_updated_at": "0001-01-01T00:00:00+14:00"}'),
        Case("patch contact id ..", "POST", patch, 400, "validation_failed", "admin",
             {**JSON, "If-Match": '"x"'}, b'{"key": "..", "attributes": {"a": 1}}'),
        Case("patch contact id __x__", "POST", patch, 400, "validation_failed", "admin",
             {**JSON, "If-Match": '"x"'}, b'{"key": "__x__", "attributes": {"a": 1}}'),
        Case("action no such record", "POST", patch, 404, "not_found", "admin",
             {**JSON, "If-Match": '"x"'}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("action Idempotency-Key with a space", "POST", patch, 400, "invalid_idempotency_key", "admin",
             {**JSON, "If-Match": '"x"', "Idempotency-Key": "a b"}, b'{"key": "k", "attributes": {"a": 1}}'),
        Case("action Idempotency-Key of 256 characters", "POST", patch, 400, "invalid_idempotency_key", "admin",
             {**JSON, "If-Match": '"x"', "Idempotency-Key": "k" * 256}, b'{"key": "k", "attributes": {"a": 1}}'),
        Case("proxy path ..", "GET", f"/proxy/{CONN}/contacts/%2E%2E", 403, "path_not_allowed", "admin"),
        Case("proxy path with a newline", "GET", f"/proxy/{CONN}/contacts/a%0Ab", 404, "not_found", "admin"),
        Case("records stream __x__", "GET", f"/records/{CONN}/__x__", 400, "validation_failed"),
        Case("records connection ..", "GET", "/records/%2E%2E/contacts", 400, "validation_failed"),
        Case("records stream not served", "GET", f"/records/{CONN}/runs", 404, "unknown_stream"),
        Case("records stream private", "GET", f"/records/{CONN}/private", 404, "unknown_stream"),
        Case("patch as a member", "POST", patch, 403, "role_required", "member", JSON, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("json charset latin-1", "POST", patch, 428, "precondition_required", "admin",
             {"Content-Type": "application/json; charset=latin-1"}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("json suffix type", "POST", patch, 428, "precondition_required", "admin",
             {"Content-Type": "application/merge-patch+json"}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("upper-case json type", "POST", patch, 428, "precondition_required", "admin",
             {"Content-Type": "Application/JSON"}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("multipart", "POST", patch, 415, "unsupported_media_type", "admin",
             {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
        # -- odd headers
        Case("If-Match weak", "POST", patch, 400, "invalid_if_match", "admin", {**JSON, "If-Match": 'W/"x"'}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("If-Match star", "POST", patch, 428, "precondition_required", "admin", {**JSON, "If-Match": "*"}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("If-Match list", "POST", patch, 400, "invalid_if_match", "admin", {**JSON, "If-Match": '"a", "b"'}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("If-Match empty quotes", "POST", patch, 400, "invalid_if_match", "admin", {**JSON, "If-Match": '""'}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("If-Match too long", "POST", patch, 400, "invalid_if_match", "admin", {**JSON, "If-Match": "x" * 300}, b'{"key": "hostile-no-such-contact", "attributes": {"a": 1}}'),
        Case("If-None-Match garbage", "GET", f"{CONTACTS}/hostile-no-such-contact", 404, "not_found",
             headers={"If-None-Match": 'W/"\\x", *, ,,'}),
        Case("X-Request-Id garbage", "GET", f"{CONTACTS}/hostile-no-such-contact", 404, "not_found",
             headers={"X-Request-Id": "<script>" * 40}),
        Case("trace header with a huge span", "GET", f"{CONTACTS}/hostile-no-such-contact", 404, "not_found",
             headers={"X-Cloud-Trace-Context": "0" * 32 + "/" + "9" * 5000}),
        Case("role claim is a list", "GET", "/me", 403, "forbidden", "role-list"),
        Case("role claim is a map", "GET", "/me", 403, "forbidden", "role-map"),
        Case("role claim list on an admin route", "POST", "/sync-now", 403, "forbidden", "role-list", JSON, b"{}"),
        Case("retry count not a number", "POST", "/sync-worker", 400, "invalid_header", "tasks",
             {**JSON, "X-CloudTasks-TaskRetryCount": "abc"}, worker),
        Case("retry count negative", "POST", "/sync-worker", 400, "invalid_header", "tasks",
             {**JSON, "X-CloudTasks-TaskRetryCount": "-1"}, worker),
        Case("retry count in exponent form", "POST", "/sync-worker", 400, "invalid_header", "tasks",
             {**JSON, "X-CloudTasks-TaskRetryCount": "1e3"}, worker),
        Case("retry count of 5,000 digits", "POST", "/sync-worker", 400, "invalid_header", "tasks",
             {**JSON, "X-CloudTasks-TaskRetryCount": "9" * 5000}, worker),
        Case("sync-worker unknown task field", "POST", "/sync-worker", 400, "validation_failed", "tasks", JSON,
             json.dumps({**CHUNK, "extra": 1}).encode()),
        Case("sync-worker unknown nested field", "POST", "/sync-worker", 400, "validation_failed", "tasks", JSON,
             json.dumps({**CHUNK, "cursor": None, "request": {"path": "/x", "verb": "DELETE"}}).encode()),
        Case("preflight from an unknown origin", "OPTIONS", "/me", 403, "origin_not_allowed", "none",
             {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}),
        Case("preflight for no route", "OPTIONS", "/health/nowhere", 404, "not_found", "none",
             {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}),
        # -- odd methods and paths (the framework's own answers included)
        Case("TRACE", "TRACE", "/me", 405, "method_not_allowed"),
        Case("PROPFIND", "PROPFIND", "/me", 405, "method_not_allowed"),
        Case("made-up method", "BREW", "/me", 405, "method_not_allowed"),
        Case("OPTIONS without preflight", "OPTIONS", "/me", 405, "method_not_allowed"),
        Case("DELETE a contact", "DELETE", f"{CONTACTS}/abc", 405, "method_not_allowed"),
        Case("HEAD", "HEAD", "/health", 200, as_="none"),
        Case("newline inside a two-segment path", "GET", "/sync-runs/a%0Ab/c", 404, "not_found"),
        Case("function's robots.txt", "GET", "/me/robots.txt", 404, "not_found"),
        Case("function's favicon.ico", "GET", "/health/favicon.ico", 404, "not_found", "none"),
        Case("a newline as the function's path", "GET", "/health/%0A", 404, "not_found", "none"),
        Case("a newline as the function name", "GET", "/%0A", 404, "not_found", "none"),
        Case("no such function", "GET", "/no-such-function", 404, "not_found", "none"),
        Case("extra segment", "GET", "/health/extra", 404, "not_found", "none"),
    ]


CASES = _cases()


@pytest.fixture(scope="module", autouse=True)
def hostile_connection(firestore_host: str) -> None:
    """An org Intercom connection, so the records, views and actions routes are reached."""
    from google.cloud import firestore

    from tests.conftest import PROJECT
    from tests.e2e.serving_world import create_connection

    create_connection(firestore.Client(project=PROJECT), CONN, "intercom", base_url="http://127.0.0.1:9",
                      credentials={"access_token": "unused"})


@pytest.fixture(scope="module")
def credentials(identity: IdentityServer, functions_url: str) -> dict[str, dict[str, str]]:
    ident = identity.identity

    def user(role: Any) -> dict[str, str]:
        claims = ident.id_token_claims("hostile@example.com")
        claims["role"] = role
        return {"Authorization": f"Bearer {ident.sign(claims)}"}

    return {
        "none": {},
        "member": user("member"),
        "admin": user("admin"),
        "role-list": user(["admin"]),
        "role-map": user({"admin": True}),
        "tasks": {"Authorization": f"Bearer {ident.oidc_token(f'{functions_url}/sync-worker', TASKS_SA)}"},
    }


def assert_error_body(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    return body["error"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_a_4xx_with_the_error_body(
    api: httpx.Client, functions_url: str, credentials: dict[str, dict[str, str]], case: Case
) -> None:
    request = api.build_request(case.method, "/", headers={**credentials[case.as_], **case.headers}, content=case.body)
    raw = (urlsplit(functions_url).path + case.target).encode("latin-1")
    request.url = request.url.copy_with(raw_path=raw)
    response = api.send(request)
    assert response.status_code < 500, response.text[:300]
    if case.status is not None:
        assert response.status_code == case.status, response.text[:300]
    if response.status_code >= 400:
        error = assert_error_body(response)
        if case.code is not None:
            assert error["code"] == case.code, error


# -- body limits, on a raw socket (an HTTP client would send what it announces) -------------


def _exchange(functions_url: str, head: bytes, body: bytes = b"", timeout_s: float = 15) -> tuple[int, bytes]:
    url = urlsplit(functions_url)
    with socket.create_connection((url.hostname, url.port), timeout=timeout_s) as sock:
        sock.sendall(head + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _head(functions_url: str, token_headers: dict[str, str], lines: list[str]) -> bytes:
    path = urlsplit(functions_url).path + "/sync-now"
    headers = [f"{k}: {v}" for k, v in token_headers.items()] + lines
    return ("\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers]) + "\r\n\r\n").encode()


def test_declared_length_over_the_limit_is_refused_before_the_body_arrives(
    functions_url: str, credentials: dict[str, dict[str, str]]
) -> None:
    """Only the headers are sent: a server that waits to read 200 MiB never answers."""
    head = _head(functions_url, credentials["admin"], [f"Content-Length: {200 * 1024 * 1024}", "Connection: close"])
    status, body = _exchange(functions_url, head)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_chunked_body_is_cut_at_the_limit(functions_url: str, credentials: dict[str, dict[str, str]]) -> None:
    """One chunk of limit + 1 bytes, then nothing (a client still streaming): the server must
    answer once it has limit + 1 bytes, not wait to read the rest."""
    size = MAX_BODY_BYTES + 1
    head = _head(functions_url, credentials["admin"], ["Transfer-Encoding: chunked", "Connection: close"])
    status, body = _exchange(functions_url, head, f"{size:x}\r\n".encode() + b" " * size + b"\r\n")
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
