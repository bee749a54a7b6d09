"""create_app: Pipedrive's accounts and routes in a kit app (auth: a known API token)."""

from __future__ import annotations

from devtools.sandboxes.kit.app import SandboxApp
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.pipedrive.limits import Limits
from devtools.sandboxes.pipedrive.records import Sizes, Store
from devtools.sandboxes.pipedrive.routes import PIPEDRIVE, known_token

#: the kit's window is only a company-wide ceiling here; Pipedrive's limits are per token
CEILING = RateLimitConfig(per_minute=60_000, window_seconds=10)


def create_app(sizes: Sizes | None = None, server: ServerSettings | None = None,
               limits: Limits | None = None) -> SandboxApp[Store]:
    server = server or ServerSettings(token="pd-token-alice", rate_limit=CEILING)
    store = Store(server.token, sizes or Sizes())
    if limits is not None:
        store.meter.limits = limits
    return SandboxApp(PIPEDRIVE, store, auth=known_token(store), rate_limit=server.rate_limit,
                      faults=server.faults, fault_seed=server.fault_seed)
