"""Per-process vendor settings and pooled HTTP connections, shared by the sync worker and
the live API paths (live search, updates, the proxy)."""

from __future__ import annotations

import threading
from functools import lru_cache

import httpx

from shared.config import load
from shared.vendors.connector import Connector, VendorSettings
from shared.vendors.http import VendorClient, build_http

_pools: dict[str, httpx.Client] = {}
_pools_lock = threading.Lock()


@lru_cache(maxsize=None)
def _settings_of(model: type[VendorSettings]) -> VendorSettings:
    settings = load(model)
    assert isinstance(settings, VendorSettings)
    return settings


def vendor_settings(connector: Connector) -> VendorSettings:
    """The connector's settings, validated once per process (errors name the variable)."""
    return _settings_of(connector.settings_model)


def pooled_http(connector: Connector) -> httpx.Client:
    """One pooled client per vendor per process: building one loads the CA bundle and
    opens new connections, which cost ~50 ms a request when done per call."""
    with _pools_lock:
        client = _pools.get(connector.vendor)
        if client is None:
            client = _pools[connector.vendor] = build_http(connector, vendor_settings(connector))
        return client


def vendor_client(connector: Connector) -> VendorClient:
    """A client for one unit of work, on the process's pooled connection to the vendor."""
    return VendorClient(connector, vendor_settings(connector), http=pooled_http(connector))
