"""create_app: Pylon's store and routes in a kit app, with Pylon's per-endpoint limits."""

from __future__ import annotations

from devtools.sandboxes.kit.app import SandboxApp
from devtools.sandboxes.kit.auth import BearerAuth
from devtools.sandboxes.kit.cli import ServerSettings
from devtools.sandboxes.pylon.records import Sizes, Store
from devtools.sandboxes.pylon.routes import PYLON, Limits


def create_app(sizes: Sizes | None = None, server: ServerSettings | None = None,
               limit_scale: float = 1.0) -> SandboxApp[Store]:
    server = server or ServerSettings(token="pylon-sandbox-token")
    store = Store(sizes or Sizes())
    store.limits = Limits(limit_scale)
    return SandboxApp(PYLON, store, auth=BearerAuth([server.token]), rate_limit=server.rate_limit,
                      faults=server.faults, fault_seed=server.fault_seed)
