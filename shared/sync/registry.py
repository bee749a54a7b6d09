"""Connectors are found by convention: shared/vendors/<vendor>/connector.py defines CONNECTOR.
Adding a vendor adds that module; nothing here changes.

Tests and the local stack may name more packages in TRIBUTARY_EXTRA_CONNECTORS (comma-
separated): a package is searched like shared.vendors (<package>.<vendor>.connector defines
CONNECTOR), a module may instead list CONNECTORS. So a connector defined only inside the
tests (tests/fixtures/vendors/acme) gets the engine, the serving functions, rules, indexes
and manifest entries with no edit outside its folder. Outside local/test environments
(TRIBUTARY_ENV) the variable is refused, so it can never widen a deployment.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from functools import cache

import shared.vendors
from shared.errors import NotFound
from shared.vendors.connector import Connector

EXTRA_CONNECTORS_ENV = "TRIBUTARY_EXTRA_CONNECTORS"


class ExtraConnectorsRefused(RuntimeError):
    """TRIBUTARY_EXTRA_CONNECTORS is set where only the shipped connectors may run."""


def _extra_packages() -> list[str]:
    names = [n.strip() for n in os.environ.get(EXTRA_CONNECTORS_ENV, "").split(",") if n.strip()]
    if names and os.environ.get("TRIBUTARY_ENV", "production") not in ("local", "test"):
        raise ExtraConnectorsRefused(f"{EXTRA_CONNECTORS_ENV} is for TRIBUTARY_ENV=local or test only")
    return names


@cache
def _found() -> dict[str, str]:
    """vendor -> module defining its connector (module name, or module:index into CONNECTORS)."""
    found: dict[str, str] = {}
    packages = [shared.vendors.__name__, *_extra_packages()]
    for package_name in packages:
        package = importlib.import_module(package_name)
        for index, listed in enumerate(getattr(package, "CONNECTORS", ())):
            found.setdefault(listed.vendor, f"{package_name}:{index}")
        for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if module.ispkg and importlib.util.find_spec(f"{package_name}.{module.name}.connector"):
                found.setdefault(module.name, f"{package_name}.{module.name}.connector")
    return found


def vendors() -> tuple[str, ...]:
    return tuple(sorted(_found()))


def connector(vendor: str) -> Connector:
    location = _found().get(vendor)
    if location is None:
        raise NotFound(f"No connector for {vendor!r}.", code="unknown_vendor", details={"known": list(vendors())})
    module_name, _, index = location.partition(":")
    module = importlib.import_module(module_name)
    found: Connector = module.CONNECTORS[int(index)] if index else module.CONNECTOR
    return found


def all_connectors() -> list[Connector]:
    return [connector(v) for v in vendors()]
