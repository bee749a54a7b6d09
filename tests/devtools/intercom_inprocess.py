"""The sandbox Intercom in this process (werkzeug's test client): no sockets, no subprocess,
so behaviour tests that need many requests or a special configuration stay fast."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from werkzeug.test import Client, TestResponse

from devtools.sandboxes.intercom import DataConfig, RateLimitConfig, SandboxConfig, create_app
from devtools.sandboxes.intercom.app import SandboxApp

SMALL = DataConfig(contacts=400, companies=60, admins=6, conversations=500)


class Sandbox:
    """An in-process sandbox with a generous rate limit; requests carry the token."""

    def __init__(self, data: DataConfig = SMALL, **settings: Any) -> None:
        config = replace(SandboxConfig(data=data, rate_limit=RateLimitConfig(per_minute=10_000_000)), **settings)
        self.app: SandboxApp = create_app(config)
        self.client = Client(self.app)
        self.headers = {"Authorization": f"Bearer {config.token}", "Intercom-Version": "2.14"}

    def get(self, path: str, **params: Any) -> TestResponse:
        return self.client.get(path, query_string=params, headers=self.headers)

    def post(self, path: str, body: Any = None, **params: Any) -> TestResponse:
        return self.client.post(path, json=body, query_string=params, headers=self.headers)

    def put(self, path: str, body: Any) -> TestResponse:
        return self.client.put(path, json=body, headers=self.headers)

    def delete(self, path: str) -> TestResponse:
        return self.client.delete(path, headers=self.headers)

    def search(self, kind: str, query: Any, per_page: int = 150, **extra: Any) -> list[dict[str, Any]]:
        """Every page of a search (following pages.next.starting_after); asserts 200."""
        key = "data" if kind == "contacts" else "conversations"
        out: list[dict[str, Any]] = []
        pagination: dict[str, Any] = {"per_page": per_page}
        while True:
            page = self.post(f"/{kind}/search", {"query": query, "pagination": pagination, **extra})
            assert page.status_code == 200, page.get_data(as_text=True)
            body = page.json
            assert body is not None
            out.extend(body[key])
            cursor = (body["pages"].get("next") or {}).get("starting_after")
            if not cursor:
                return out
            pagination = {"per_page": per_page, "starting_after": cursor}


def error_of(response: TestResponse) -> dict[str, Any]:
    """The single error of an Intercom error.list body."""
    body = response.json
    assert body is not None and body["type"] == "error.list" and body["request_id"], body
    assert len(body["errors"]) == 1, body
    return dict(body["errors"][0])
