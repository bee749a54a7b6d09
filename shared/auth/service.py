"""Machines: a Google-signed OIDC token (Cloud Scheduler, Cloud Tasks) for our audience."""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.api.policies import Principal
from shared.errors import Forbidden, ServiceUnavailable, Unauthenticated

if TYPE_CHECKING:
    from shared.config import Settings

GOOGLE_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


@lru_cache(maxsize=1)
def _cached_request() -> Any:
    """A requests session whose certificate responses are cached per their Cache-Control."""
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        import cachecontrol
        import google.auth.transport.requests
        import requests

    return google.auth.transport.requests.Request(session=cachecontrol.CacheControl(requests.Session()))


#: (sha256 of a token, audience) -> its claims, once verified, until it expires. Cloud Tasks
#: sends one token with many tasks, and verifying it (the certificates through an HTTP
#: cache, x509 parsing, RSA) was a twentieth of the sync worker's CPU; the same bytes
#: verify the same way until they expire (Google's OIDC tokens cannot be revoked).
_verified: dict[tuple[str, str], dict[str, Any]] = {}
_VERIFIED_LIMIT = 1024


def _claims(token: str, settings: Settings, audience: str) -> dict[str, Any]:
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        from google.oauth2 import id_token

    key = (hashlib.sha256(token.encode()).hexdigest(), audience)
    known = _verified.get(key)
    if known is not None and float(known.get("exp") or 0) > time.time():
        return known
    claims: dict[str, Any] = id_token.verify_token(
        token,
        _cached_request(),
        audience=audience,
        certs_url=settings.google_oidc_certs_url or GOOGLE_OIDC_CERTS_URL,
        clock_skew_in_seconds=5,
    )
    if len(_verified) >= _VERIFIED_LIMIT:
        _verified.clear()
    _verified[key] = claims
    return claims


def verify_service(token: str, settings: Settings, *, audience: str, email: str) -> Principal:
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        from google.auth import exceptions as google_exceptions

    try:
        claims = _claims(token, settings, audience)
    except google_exceptions.TransportError as exc:
        raise ServiceUnavailable("Could not fetch the token certificates.", code="certs_unavailable") from exc
    except (ValueError, google_exceptions.GoogleAuthError) as exc:
        code = "token_expired" if "expired" in str(exc).lower() else "token_invalid"
        raise Unauthenticated("The OIDC token is not valid.", code=code) from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise Unauthenticated("The OIDC token has the wrong issuer.", code="token_invalid")
    if claims.get("email") != email or claims.get("email_verified") is not True:
        raise Forbidden("This caller's service account may not call this function.", code="caller_not_allowed")
    return Principal(kind="service", subject=str(claims.get("sub", "")), email=email, claims=claims)
