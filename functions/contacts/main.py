"""/contacts: the team's own contacts (this store is their source of truth), versioned, with
undo and an audit trail; handlers in shared.crm.api."""

from __future__ import annotations

from shared.api import Endpoint
from shared.crm.kinds import CONTACTS
from shared.crm.routes import mount

endpoint = Endpoint("contacts", summary="The team's contacts", tags=("crm",))
mount(endpoint, CONTACTS)

handle = endpoint.entry_point()
