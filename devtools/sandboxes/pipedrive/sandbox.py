"""Pipedrive's sandbox declared for devtools/sandboxes/registry.py: a personal connection
(each salesperson's own API token)."""

from __future__ import annotations

from devtools.sandboxes.kit.descriptor import SandboxDescriptor


def _credentials(token: str) -> dict[str, str]:
    return {"api_token": token}


def _headers(token: str) -> dict[str, str]:
    return {"x-api-token": token}


SANDBOX = SandboxDescriptor(
    vendor="pipedrive",
    module="devtools.sandboxes.pipedrive",
    default_port=9103,
    token="pd-token-alice",
    sizes={"persons": 500},
    title="Pipedrive (sandbox, alice)",
    owner="user",
    credentials=_credentials,
    headers=_headers,
)
