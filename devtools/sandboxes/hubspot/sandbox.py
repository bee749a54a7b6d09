"""The HubSpot sandbox, declared for devtools/sandboxes/registry.py. Its connection holds
the OAuth client and a seeded grant's refresh token, and no access token: the first
request refreshes one (30 minutes), as a connection right after its install would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.kit.descriptor import SandboxDescriptor

CLIENT_ID = "hubspot-sandbox-client"
CLIENT_SECRET = "hubspot-sandbox-secret"
SEED_REFRESH_TOKEN = "hubspot-sandbox-refresh"


def credentials(token: str) -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": SEED_REFRESH_TOKEN,
            "access_token": token, "expires_at": "0"}


@dataclass(frozen=True)
class HubSpotDescriptor(SandboxDescriptor):
    def connection(self, base_url: str, token: str | None = None, name: str | None = None) -> dict[str, Any]:
        body = super().connection(base_url, token, name)
        body["config"]["auth_base_url"] = base_url
        return body


SANDBOX = HubSpotDescriptor(
    vendor="hubspot",
    module="devtools.sandboxes.hubspot",
    default_port=9105,
    token="hubspot-sandbox-token",
    sizes={"contacts": 200, "companies": 40, "deals": 60},
    title="Sandbox HubSpot",
    credentials=credentials,
)
