"""The Intercom sandbox as a kit app: its routes, its store, its dialect.

create_app(config) gives an in-process app (werkzeug Client, or any WSGI server); the CLI
in __main__ serves it threaded. The pipeline (auth -> rate limit -> faults -> the
Intercom-Version check -> handler) and the generic /_sandbox/* controls are the kit's.
"""

from __future__ import annotations

from devtools.sandboxes.intercom import api, api_companies, api_workspace, control
from devtools.sandboxes.intercom import webhooks as intercom_webhooks
from devtools.sandboxes.intercom.config import SandboxConfig
from devtools.sandboxes.intercom.dialect import IntercomDialect
from devtools.sandboxes.intercom.store import Store
from devtools.sandboxes.kit.app import SandboxApp, Vendor
from devtools.sandboxes.kit.auth import BearerAuth

INTERCOM: Vendor[Store] = Vendor(
    name="intercom",
    routes=(*api.ROUTES, *api_companies.ROUTES, *api_workspace.ROUTES),
    counts=control.counts,
    reset=control.reset,
    now=lambda store: store.clock.now(),
    dialect=IntercomDialect(),
    controls=control.ROUTES,
)

__all__ = ["INTERCOM", "SandboxApp", "create_app"]


def create_app(config: SandboxConfig | None = None) -> SandboxApp[Store]:
    """An in-process sandbox; the data set is generated here (a second or two by default)."""
    config = config or SandboxConfig()
    store = Store(config.data, config.mutation_step_seconds, config.lenient_search,
                  config.scroll_idle_seconds, config.company_list_cap)
    return SandboxApp(INTERCOM, store, auth=BearerAuth([config.token]), rate_limit=config.rate_limit,
                      faults=config.faults, fault_seed=config.fault_seed,
                      webhooks=intercom_webhooks.make_sender())  # idle until /_sandbox/webhooks sets a target
