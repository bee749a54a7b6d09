"""POST /creates/{connection_id}/{create}: log something on a record (Pipedrive: an activity
on a contact), stored first, then sent to the vendor through the outbox; GET lists the
caller's items and reads one (shared/serving/outbox_api.py)."""

from __future__ import annotations

from shared.api import Deployment, Endpoint, Users
from shared.serving import outbox_api as o

endpoint = Endpoint("creates", summary="Log items on records; the outbox sends them to the vendor",
                    tags=("records",), deployment=Deployment(secrets=("token-encryption-key",)))

endpoint.route("POST", "/{connection_id}/{create}", auth=Users(), response=o.OutboxItem, status=201,
               errors=(403, 404, 409, 422))(o.submit)
endpoint.route("GET", "/{connection_id}", auth=Users(), query=o.ListQuery, response=o.OutboxList,
               errors=(404,))(o.list_items)
endpoint.route("GET", "/{connection_id}/{create}/{item_id}", auth=Users(), response=o.OutboxItem,
               errors=(404,))(o.get_item)

handle = endpoint.entry_point()
