"""The pipeline inside the app functions-framework builds, as Cloud Functions runs it.

functions-framework adds behaviour of its own around the function: a router that answers
some paths itself (HTML), and an after_request hook that reads the whole request body.
These tests load a function with functions_framework.create_app and drive it through WSGI,
with an input stream that counts what is read.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

LIMIT = 1000

FUNCTION = textwrap.dedent(
    """
    from pydantic import BaseModel

    from shared.api import PUBLIC, Call, Endpoint

    class Item(BaseModel):
        name: str

    endpoint = Endpoint("hosted", summary="a function hosted by functions-framework")

    @endpoint.route("POST", "/", auth=PUBLIC, body=Item)
    def create(call: Call) -> dict:
        return {"name": call.body.name}

    @endpoint.route("GET", "/", auth=PUBLIC)
    def read(call: Call) -> dict:
        return {"ok": True}

    handle = endpoint.entry_point()
    """
)


class CountingStream(io.RawIOBase):
    """`size` bytes of 'x' (an object's worth of JSON would not matter: it is never parsed)."""

    def __init__(self, size: int) -> None:
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes, 8192)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


@pytest.fixture()
def hosted(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    from shared.config import get_settings

    monkeypatch.setenv("MAX_BODY_BYTES", str(LIMIT))
    get_settings.cache_clear()
    source = tmp_path / "hosted_function.py"
    source.write_text(FUNCTION)
    yield functions_framework.create_app("handle", str(source), "http")
    sys.modules.pop("hosted_function", None)


def call(app: Any, method: str, path: str, stream: io.RawIOBase | None = None, **environ: Any) -> tuple[int, dict[str, str], bytes]:
    builder = EnvironBuilder(path=path, method=method, content_type="application/json")
    env = builder.get_environ()
    if stream is not None:
        env["wsgi.input"] = stream
    env.pop("CONTENT_LENGTH", None)
    env.update(environ)
    app_iter, status, headers = run_wsgi_app(app, env)
    try:
        body = b"".join(app_iter)
    finally:
        getattr(app_iter, "close", lambda: None)()
    return int(status.split()[0]), dict(headers), body


def assert_error_body(headers: dict[str, str], body: bytes, code: str) -> None:
    assert headers["Content-Type"] == "application/json", body[:200]
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert error["request_id"] == headers["X-Request-Id"]


def test_declared_length_over_the_limit_is_refused_without_reading(hosted: Any) -> None:
    """Before: 413 from the pipeline, then functions-framework read all 50 MB anyway."""
    stream = CountingStream(50 * LIMIT)
    status, headers, body = call(hosted, "POST", "/", stream, CONTENT_LENGTH=str(50 * LIMIT))
    assert status == 413
    assert_error_body(headers, body, "payload_too_large")
    assert stream.read_bytes == 0


def test_chunked_body_reads_at_most_limit_plus_one_byte(hosted: Any) -> None:
    stream = CountingStream(50 * LIMIT)
    status, headers, body = call(
        hosted, "POST", "/", stream, HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True}
    )
    assert status == 413
    assert_error_body(headers, body, "payload_too_large")
    assert stream.read_bytes <= LIMIT + 1


def test_chunked_body_to_a_route_without_body_is_not_read(hosted: Any) -> None:
    stream = CountingStream(50 * LIMIT)
    status, _, _ = call(hosted, "GET", "/", stream, HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True})
    assert status == 200
    assert stream.read_bytes == 0


def test_a_body_within_the_limit_is_read_once_and_parsed(hosted: Any) -> None:
    payload = b'{"name": "ok"}'
    status, _, body = call(hosted, "POST", "/", io.BytesIO(payload), CONTENT_LENGTH=str(len(payload)))
    assert status == 200
    assert json.loads(body) == {"name": "ok"}


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("GET", "/a%0Ab", 404, "not_found"),  # functions-framework's <path:> rule stops at a newline
        ("POST", "/a%0Ab/c", 404, "not_found"),
        ("GET", "/robots.txt", 404, "not_found"),  # answered by functions-framework itself
        ("GET", "/favicon.ico", 404, "not_found"),
    ],
)
def test_the_frameworks_own_answers_use_the_error_body(hosted: Any, method: str, path: str, status: int, code: str) -> None:
    got, headers, body = call(hosted, method, path)
    assert got == status
    assert_error_body(headers, body, code)


def test_a_crash_outside_the_pipeline_is_a_json_500_marked_as_a_crash(hosted: Any) -> None:
    def fail(response: Any) -> Any:
        raise RuntimeError("secret internals")

    hosted.after_request(fail)
    status, headers, body = call(hosted, "GET", "/")
    assert status == 500
    assert_error_body(headers, body, "internal")
    assert b"secret" not in body
    assert headers["X-Google-Status"] == "crash"
