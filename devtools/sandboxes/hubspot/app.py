"""create_app: the HubSpot store in a kit app behind OAuth 2 access tokens.

OAuth (the kit's server, HubSpot's paths): GET /oauth/authorize (HubSpot's consent page is
on app.hubspot.com; here it is the same host), POST /oauth/v1/token (authorization_code
and refresh_token, client id and secret in the form body), access tokens that live 30
minutes of the OAuth clock, refresh tokens that do not rotate (HubSpot's don't). The clock
is real time plus an offset a test moves (`POST /_sandbox/clock {"advance_s": 1800}`), so
a token can expire mid-run without sleeping. `POST /_sandbox/oauth {"revoke_all": true}`
revokes every grant: refreshes answer invalid_grant.

Controls (no auth):
    POST /_sandbox/mutate {"touch": {"contacts": 50}, "spread_s": 600, "create": {...},
                           "archive": {"contacts": ["1001"]}}
        changes records as the CRM would; with a webhook target configured each change is
        also delivered as HubSpot sends it (a signed batch of events, webhooks.py)
    POST /_sandbox/clock {"advance_s": N}     moves the OAuth clock
    POST /_sandbox/oauth/seed {"refresh_token": "..."}   a grant as if a person had consented
    GET  /_sandbox/search_limit               search's own 429 count
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from werkzeug.wrappers import Request

from devtools.sandboxes.hubspot import webhooks
from devtools.sandboxes.hubspot.records import Sizes, Store
from devtools.sandboxes.hubspot.routes import HUBSPOT, SearchLimit
from devtools.sandboxes.kit.app import SandboxApp
from devtools.sandboxes.kit.auth import BearerAuth
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer, _Grant
from devtools.sandboxes.kit.params import control_body
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.kit.responses import ApiError

CLIENT_ID = "hubspot-sandbox-client"
CLIENT_SECRET = "hubspot-sandbox-secret"
#: a grant that exists from the start (the registry's connection refreshes with it)
SEED_REFRESH_TOKEN = "hubspot-sandbox-refresh"
ACCESS_TOKEN_TTL_S = 1800
#: OAuth apps: 100 requests per 10 seconds per installing account
APP_LIMIT = RateLimitConfig(per_minute=600, window_seconds=10)


class HubSpotOAuth(OAuthServer):
    """The kit's server on HubSpot's paths, with a movable clock and seeded grants."""

    offset_s: float = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def seed(self, refresh_token: str) -> None:
        with self._lock:
            self._refresh[refresh_token] = _Grant(grant_id=f"seed-{refresh_token[:8]}", client_id=CLIENT_ID,
                                                  scope="oauth crm.objects.contacts.read")

    def dispatch(self, request: Request) -> Any:
        # HubSpot: /oauth/authorize (consent) and /oauth/v1/token; the kit routes by last segment
        request.environ["PATH_INFO"] = request.path.replace("/oauth/v1/", "/oauth/")
        return super().dispatch(Request(request.environ))


def _clock(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    body = control_body(request)
    oauth = app.oauth
    assert isinstance(oauth, HubSpotOAuth)
    oauth.offset_s += float(body.get("advance_s", 0))
    return {"offset_s": oauth.offset_s}


def _seed(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    token = control_body(request).get("refresh_token")
    if not isinstance(token, str) or not token:
        raise ApiError(400, "VALIDATION_ERROR", "refresh_token is required")
    assert isinstance(app.oauth, HubSpotOAuth)
    app.oauth.seed(token)
    return {"seeded": True}


def _search_limit(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    return {"refused": app.store.search_limit.refused}


def create_app(sizes: Sizes | None = None, server: ServerSettings | None = None,
               redirect_uris: tuple[str, ...] = ()) -> SandboxApp[Store]:
    server = server or ServerSettings(token="hubspot-sandbox-token", rate_limit=APP_LIMIT)
    store = Store(sizes or Sizes())
    store.search_limit = SearchLimit()  # type: ignore[attr-defined]
    oauth = HubSpotOAuth([OAuthClient(CLIENT_ID, CLIENT_SECRET, redirect_uris)], access_token_ttl_s=ACCESS_TOKEN_TTL_S,
                         rotate_refresh_tokens=False, prefix="/oauth")
    oauth.clock = oauth.now
    oauth.seed(SEED_REFRESH_TOKEN)
    vendor = replace(HUBSPOT, controls=(
        ("POST", "/_sandbox/mutate", webhooks.mutate),
        ("POST", "/_sandbox/clock", _clock),
        ("POST", "/_sandbox/oauth/seed", _seed),
        ("GET", "/_sandbox/search_limit", _search_limit),
    ))
    return SandboxApp(vendor, store, auth=BearerAuth([server.token], oauth=oauth), rate_limit=server.rate_limit,
                      faults=server.faults, fault_seed=server.fault_seed, oauth=oauth,
                      webhooks=webhooks.sender())
