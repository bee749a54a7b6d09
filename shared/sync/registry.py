"""Connectors are found by convention: shared/vendors/<vendor>/connector.py defines CONNECTOR.
Adding a vendor adds that module; nothing here changes."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache

import shared.vendors
from shared.errors import NotFound
from shared.vendors.connector import Connector


@cache
def vendors() -> tuple[str, ...]:
    found = []
    for module in pkgutil.iter_modules(shared.vendors.__path__):
        if module.ispkg and importlib.util.find_spec(f"shared.vendors.{module.name}.connector"):
            found.append(module.name)
    return tuple(sorted(found))


def connector(vendor: str) -> Connector:
    if vendor not in vendors():
        raise NotFound(f"No connector for {vendor!r}.", code="unknown_vendor", details={"known": list(vendors())})
    module = importlib.import_module(f"shared.vendors.{vendor}.connector")
    found: Connector = module.CONNECTOR
    return found


def all_connectors() -> list[Connector]:
    return [connector(v) for v in vendors()]
