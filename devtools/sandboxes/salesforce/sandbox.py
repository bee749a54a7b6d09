"""The Salesforce sandbox, declared for devtools/sandboxes/registry.py. Its connection logs
in at the sandbox (login_url) and carries the sandbox's OAuth client plus a static access
token it accepts; the OAuth install itself (instance_url, expiring tokens, revocation) is
exercised by the tests against its /services/oauth2 endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.kit.descriptor import SandboxDescriptor


def _credentials(token: str) -> dict[str, str]:
    return {"client_id": "sandbox-client", "client_secret": "sandbox-secret", "access_token": token}


@dataclass(frozen=True)
class SalesforceDescriptor(SandboxDescriptor):
    def connection(self, base_url: str, token: str | None = None, name: str | None = None) -> dict[str, Any]:
        body = super().connection(base_url, token, name)
        body["config"]["login_url"] = base_url
        return body


SANDBOX = SalesforceDescriptor(
    vendor="salesforce",
    module="devtools.sandboxes.salesforce",
    default_port=9107,
    token="salesforce-token",
    sizes={"accounts": 50, "sf_contacts": 200, "opportunities": 100},
    title="Sandbox Salesforce",
    credentials=_credentials,
)
