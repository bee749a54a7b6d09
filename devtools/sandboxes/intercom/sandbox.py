"""The Intercom sandbox, declared for devtools/sandboxes/registry.py: the local stack and the
test harness start it and connect to it from this alone."""

from __future__ import annotations

from devtools.sandboxes.kit.descriptor import SandboxDescriptor

SANDBOX = SandboxDescriptor(
    vendor="intercom",
    module="devtools.sandboxes.intercom",
    default_port=9101,
    token="sandbox-token",
    sizes={"contacts": 10_000, "companies": 2_000, "admins": 50, "conversations": 20_000},
    title="Sandbox Intercom",
    takes_epoch=True,
)
