"""create_app: the org in a kit app, with Salesforce's OAuth endpoints mounted at
/services/oauth2 (tokens that expire on the OAuth clock and die with a revoked grant)."""

from __future__ import annotations

import json
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from devtools.sandboxes.kit.app import SandboxApp
from devtools.sandboxes.kit.auth import BearerAuth
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.oauth import OAuthClient, OAuthServer
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.salesforce.records import Sizes, Store
from devtools.sandboxes.salesforce.routes import vendor

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
#: Salesforce sessions last two hours by default (Setup > Session Settings)
SESSION_TTL_S = 7200.0


class LoopbackRedirects(tuple[str, ...]):
    """The sandbox client's callback: any loopback URL (the local stack's ports vary)."""

    def __contains__(self, uri: object) -> bool:
        return isinstance(uri, str) and uri.startswith(("http://127.0.0.1:", "http://localhost:"))


class SalesforceOAuth(OAuthServer):
    """Salesforce's token answers: `instance_url` (the org's own host: here, this sandbox),
    `issued_at`, `id`, and no `expires_in` (a client learns of expiry from a 401); a refresh
    answer carries no new refresh token (no rotation)."""

    offset_s: float = 0.0

    def expire_all(self) -> None:
        """Every access token issued so far is past its lifetime."""
        self.offset_s += self.access_token_ttl_s + 1

    def _token(self, request: Request) -> Response:
        response = super()._token(request)
        if response.status_code != 200:
            return response
        body: dict[str, Any] = json.loads(response.get_data(as_text=True))
        body.pop("expires_in", None)
        if request.form.get("grant_type") == "refresh_token":
            body.pop("refresh_token", None)
        body.update(instance_url=request.host_url.rstrip("/"), issued_at=str(int(time.time() * 1000)),
                    id=f"{request.host_url}id/00DSB0000000001AAA/005SB0000000001AAA")
        response.set_data(json.dumps(body))
        return response


def create_app(sizes: Sizes | None = None, server: ServerSettings | None = None) -> SandboxApp[Store]:
    server = server or ServerSettings(token="salesforce-token", rate_limit=RateLimitConfig(6000, 60))
    oauth = SalesforceOAuth([OAuthClient(CLIENT_ID, CLIENT_SECRET, LoopbackRedirects())],
                            access_token_ttl_s=SESSION_TTL_S, rotate_refresh_tokens=False, prefix="/services/oauth2")
    oauth.clock = lambda: time.time() + oauth.offset_s
    store = Store(sizes or Sizes())
    return SandboxApp(vendor(store), store, auth=BearerAuth([server.token], oauth=oauth), oauth=oauth,
                      rate_limit=server.rate_limit, faults=server.faults, fault_seed=server.fault_seed)
