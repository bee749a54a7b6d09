"""Machine tokens: a token verified once is not verified again until it expires, and only
for the audience it was verified for."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from shared.auth import service
from shared.errors import Forbidden, Unauthenticated

EMAIL = "tasks@p.iam.gserviceaccount.com"


@pytest.fixture()
def verifications(monkeypatch: Any) -> list[tuple[str, str]]:
    """google's verify_token, stubbed: a token "good-<exp>" verifies for audience "a"."""
    from google.oauth2 import id_token

    calls: list[tuple[str, str]] = []

    def verify_token(token: str, request: Any, *, audience: str, **_: Any) -> dict[str, Any]:
        calls.append((token, audience))
        exp = float(token.split("-")[1])
        if audience != "a" or exp < time.time():
            raise ValueError("Token expired" if exp < time.time() else "wrong audience")
        return {"iss": "https://accounts.google.com", "email": EMAIL, "email_verified": True, "sub": "1", "exp": exp}

    monkeypatch.setattr(id_token, "verify_token", verify_token)
    monkeypatch.setattr(service, "_verified", {})
    return calls


def settings() -> Any:
    return SimpleNamespace(google_oidc_certs_url=None)  # all verify_service reads of Settings


def test_a_verified_token_is_not_verified_again_until_it_expires(verifications: list[Any]) -> None:
    token = f"good-{time.time() + 3600}"
    for _ in range(3):
        assert service.verify_service(token, settings(), audience="a", email=EMAIL).email == EMAIL
    assert len(verifications) == 1
    with pytest.raises(Unauthenticated):  # another audience: verified (and refused), not taken from the cache
        service.verify_service(token, settings(), audience="b", email=EMAIL)
    with pytest.raises(Forbidden):  # the caller's email is checked on every call
        service.verify_service(token, settings(), audience="a", email="other@p.iam.gserviceaccount.com")
    assert len(verifications) == 2


def test_a_cached_token_that_expired_is_verified_again_and_refused(verifications: list[Any], monkeypatch: Any) -> None:
    token = f"good-{time.time() + 60}"
    service.verify_service(token, settings(), audience="a", email=EMAIL)
    later = time.time() + 120
    monkeypatch.setattr(service.time, "time", lambda: later)
    monkeypatch.setattr("time.time", lambda: later)
    with pytest.raises(Unauthenticated, match="not valid"):
        service.verify_service(token, settings(), audience="a", email=EMAIL)
    assert len(verifications) == 2
