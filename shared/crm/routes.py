"""Mount one Kind's routes on a function's Endpoint (customers and contacts are alike)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.api import Endpoint, Users
from shared.crm import api, models
from shared.crm.kinds import CONTACTS, Kind
from shared.crm.leads import ConvertLead

#: 404 unknown id, 409 stale version, 410 undo/sync token expired, 428 no If-Match
_ERRORS = (404, 409, 410, 428)


class OneQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_deleted: bool = False


def mount(endpoint: Endpoint, kind: Kind) -> None:
    """Every signed-in member reads and edits; delete/restore check creator-or-admin."""
    member = Users()
    route = endpoint.route

    def bind(handler: Any, what: str) -> Any:
        def run(call: Any) -> Any:
            return handler(call, kind)

        run.__name__ = f"{what}_{kind.singular}"
        return run

    route("POST", "/", auth=member, body=kind.fields_model, response=kind.response_model, status=201,
          summary=f"Create a {kind.singular} (Idempotency-Key)", errors=(409, 422))(bind(api.create, "create"))
    route("GET", "/", auth=member, query=models.ListQuery, response=models.Page,
          summary=f"List {kind.name}: filters, sort, pages, changes_since; ETag/304", errors=(410,))(
        bind(api.list_all, "list"))
    route("GET", "/{record_id}", auth=member, query=OneQuery, response=kind.response_model,
          summary=f"One {kind.singular}; ETag is its version", errors=(404,))(bind(api.get_one, "get"))
    route("PATCH", "/{record_id}", auth=member, body=kind.patch_model, response=kind.response_model,
          summary=f"Change a {kind.singular} (If-Match)", errors=_ERRORS)(bind(api.update, "update"))
    route("DELETE", "/{record_id}", auth=member, response=kind.response_model,
          summary=f"Delete a {kind.singular}: soft, restorable (If-Match)", errors=(403, *_ERRORS))(
        bind(api.delete, "delete"))
    route("POST", "/{record_id}/restore", auth=member, response=kind.response_model,
          summary=f"Undo the delete of a {kind.singular} (If-Match)", errors=(403, *_ERRORS))(
        bind(api.restore, "restore"))
    route("GET", "/{record_id}/audit", auth=member, response=models.AuditPage,
          summary=f"Who changed this {kind.singular}, newest first", errors=(404,))(bind(api.audit, "audit"))
    if kind is CONTACTS:
        route("POST", "/from-lead", auth=member, body=ConvertLead, response=models.Contact, status=201,
              summary="Convert a synced lead into a contact (the lead records the contact's id)",
              errors=(404, 409))(api.convert_lead)
