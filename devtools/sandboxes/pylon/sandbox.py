"""Pylon's sandbox declared for devtools/sandboxes/registry.py."""

from __future__ import annotations

from devtools.sandboxes.kit.descriptor import SandboxDescriptor


def _credentials(token: str) -> dict[str, str]:
    return {"api_token": token}


SANDBOX = SandboxDescriptor(
    vendor="pylon",
    module="devtools.sandboxes.pylon",
    default_port=9102,
    token="pylon-sandbox-token",
    sizes={"issues": 3000, "accounts": 200},
    title="Pylon (sandbox)",
    credentials=_credentials,
)
