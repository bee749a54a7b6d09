"""The operator tools of the deploy guide, without a cloud: granting a role keeps the
user's other claims; the smoke check reports each check by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from devtools import roles, smoke


@dataclass
class FakeUser:
    uid: str
    email: str
    custom_claims: dict[str, Any] | None = None


@dataclass
class FakeAuth:
    users: dict[str, FakeUser] = field(default_factory=dict)

    def get_user_by_email(self, email: str) -> FakeUser:
        return next(u for u in self.users.values() if u.email == email)

    def get_user(self, uid: str) -> FakeUser:
        return self.users[uid]

    def set_custom_user_claims(self, uid: str, claims: dict[str, Any]) -> None:
        self.users[uid].custom_claims = claims


def test_set_role_merges_claims() -> None:
    auth = FakeAuth({"u1": FakeUser("u1", "alice@acme.example", {"team": "support"})})
    assert roles.set_role(auth, "alice@acme.example", "admin") == {"team": "support", "role": "admin"}
    assert roles.set_role(auth, "alice@acme.example", "member")["role"] == "member"


def test_smoke_reports_each_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/health"):
            return httpx.Response(200, json={"status": "ok", "version": "x", "firestore": "ok"})
        if path.endswith("/openapi"):
            return httpx.Response(200, json={"openapi": "3.1.0"})
        if request.method == "OPTIONS":
            return httpx.Response(403, json={"error": {"code": "origin_not_allowed"}})
        return httpx.Response(401, json={"error": {"code": "unauthenticated"}})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        checks = smoke.run_checks("https://fn.example", "https://console.example", None, http)
    by_name = {c.name.split(":")[0]: c for c in checks}
    assert by_name["health"].ok and by_name["openapi"].ok and by_name["auth"].ok
    assert not by_name["cors"].ok and "CORS_ALLOWED_ORIGINS" in by_name["cors"].detail
