"""Per-process pooled HTTP connections and pacing state, shared by the sync worker and the
live API paths (live search, updates, the proxy).

Connections are pooled per vendor host; pacing is kept per rate budget, at the scope the
vendor enforces it (one per app, or one per connection's token), so two connections of a
per-token vendor never slow each other and pacing survives from one chunk to the next.
"""

from __future__ import annotations

import threading

import httpx

from shared.vendors.auth import RequestAuth
from shared.vendors.connector import ConnectionConfig, Connector
from shared.vendors.http import PacingState, RateGate, VendorClient, WindowLedger, build_http

_pools: dict[tuple[str, str], httpx.Client] = {}
_pacing: dict[str, PacingState] = {}
_windows: dict[str, WindowLedger] = {}
_lock = threading.Lock()


def budget_key(connector: Connector, connection_id: str) -> str:
    """Which budget a connection's calls draw on: the app's, or its own token's."""
    return connector.vendor if connector.rate_limit.scope == "app" else f"{connector.vendor}:{connection_id}"


def pooled_http(connector: Connector, base_url: str) -> httpx.Client:
    """One pooled client per vendor host per process: building one loads the CA bundle and
    opens new connections, which cost ~50 ms a request when done per call."""
    key = (connector.vendor, base_url)
    with _lock:
        client = _pools.get(key)
        if client is None:
            client = _pools[key] = build_http(connector, base_url)
        return client


def pacing_for(key: str) -> PacingState:
    with _lock:
        state = _pacing.get(key)
        if state is None:
            state = _pacing[key] = PacingState()
        return state


def window_for(connector: Connector, connection_id: str) -> WindowLedger:
    """The connection's vendor window: each connection's answers report its own (one
    Intercom workspace's are not another's), whatever budget its pacing shares."""
    key = f"{connector.vendor}:{connection_id}"
    with _lock:
        window = _windows.get(key)
        if window is None:
            window = _windows[key] = WindowLedger()
        return window


def vendor_client(
    connector: Connector, config: ConnectionConfig, auth: RequestAuth, connection_id: str, gate: RateGate | None = None
) -> VendorClient:
    """A client for one unit of work of one connection, on the process's pooled connection."""
    return VendorClient(
        connector,
        config,
        auth=auth,
        http=pooled_http(connector, config.base_url),
        pacing=pacing_for(budget_key(connector, connection_id)),
        window=window_for(connector, connection_id),
        gate=gate,
    )
