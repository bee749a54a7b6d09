"""GET /intercom-admins: every Intercom admin (teammate), from the store."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.intercom_api.models import AdminList

endpoint = Endpoint("intercom-admins", summary="Intercom admins", tags=("intercom",))


@endpoint.route("GET", "/", auth=Users(), response=AdminList)
def list_admins(call: Call) -> AdminList:
    """All admins, by name."""
    from shared.intercom_api import queries
    from shared.store.client import db

    return queries.list_admins(db(call.settings))


handle = endpoint.entry_point()
