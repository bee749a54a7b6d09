"""Which connector a connection belongs to: the engine's registry, plus (outside production)
the demo connectors a test or the local stack names in TRIBUTARY_EXTRA_CONNECTORS.

The demo connectors exist so the connection and OAuth flows can be exercised end to end
for ownership and auth kinds no shipped vendor has yet (a per-user OAuth vendor); Settings
refuses the variable in production, so this never widens what a deployment accepts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from shared.errors import NotFound

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.vendors.connector import Connector


def _extra(settings: Settings) -> dict[str, Connector]:
    found: dict[str, Connector] = {}
    for module_name in settings.extra_connectors:
        module = importlib.import_module(module_name)
        for connector in getattr(module, "CONNECTORS", ()):
            found[connector.vendor] = connector
    return found


def find_connector(settings: Settings, vendor: str) -> Connector:
    """The connector for `vendor`, or 404 unknown_vendor listing the known ones."""
    from shared.sync.registry import connector, vendors

    if vendor in vendors():
        return connector(vendor)
    extra = _extra(settings) if settings.environment != "production" else {}
    if vendor in extra:
        return extra[vendor]
    known = sorted([*vendors(), *extra])
    raise NotFound(f"No connector for {vendor!r}.", code="unknown_vendor", details={"known": known})
