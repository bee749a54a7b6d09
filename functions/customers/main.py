"""/customers: the team's own customers (this store is their source of truth), versioned, with
undo and an audit trail; handlers in shared.crm.api."""

from __future__ import annotations

from shared.api import Endpoint
from shared.crm.kinds import CUSTOMERS
from shared.crm.routes import mount

endpoint = Endpoint("customers", summary="The team's customers", tags=("crm",))
mount(endpoint, CUSTOMERS)

handle = endpoint.entry_point()
