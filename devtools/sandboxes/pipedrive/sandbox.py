"""Pipedrive's sandbox declared for devtools/sandboxes/registry.py: personal connections
(owner "user"), one API token each; the accounts after the first use records.EXTRA_TOKENS."""

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
    title="Pipedrive (sandbox)",
    owner="user",
    credentials=_credentials,
    headers=_headers,
)
