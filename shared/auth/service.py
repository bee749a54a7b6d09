"""Machines: a Google-signed OIDC token (Cloud Scheduler, Cloud Tasks) for our audience."""

from __future__ import annotations

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


def verify_service(token: str, settings: Settings, *, audience: str, email: str) -> Principal:
    from shared.lazy import HEAVY_IMPORTS

    with HEAVY_IMPORTS:
        from google.auth import exceptions as google_exceptions
        from google.oauth2 import id_token

    try:
        claims = id_token.verify_token(
            token,
            _cached_request(),
            audience=audience,
            certs_url=settings.google_oidc_certs_url or GOOGLE_OIDC_CERTS_URL,
            clock_skew_in_seconds=5,
        )
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
