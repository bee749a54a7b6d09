"""GET /intercom-contacts: contacts (store or live=true); GET /{id}: one contact with its ETag;
PATCH /{id}/custom-attributes: change custom attributes in Intercom, then here (If-Match)."""

from __future__ import annotations

from flask import Response

from shared.api import Call, Deployment, Endpoint, Users
from shared.intercom_api.models import Contact, ContactPage, ContactQuery, CustomAttributesUpdate

#: live calls to Intercom need its access token (Secret Manager, mounted as an env var)
INTERCOM = Deployment()
endpoint = Endpoint("intercom-contacts", summary="Intercom contacts", tags=("intercom",), deployment=INTERCOM)


@endpoint.route("GET", "/", auth=Users(), query=ContactQuery, response=ContactPage)
def list_contacts(call: Call) -> ContactPage:
    """Filter by email (exact), name (prefix) or role; sort; page with next_cursor."""
    query: ContactQuery = call.query
    if query.live:
        from shared.intercom_api import live

        return live.search_contacts(query)
    from shared.intercom_api import queries
    from shared.store.client import db

    return queries.list_contacts(db(call.settings), query)


@endpoint.route("GET", "/{contact_id}", auth=Users(), response=Contact)
def get_contact(call: Call) -> Response:
    """One stored contact; its ETag header is what a change sends back in If-Match."""
    from shared.api.endpoint import json_response
    from shared.intercom_api import queries
    from shared.intercom_api.updates import format_etag
    from shared.store.client import db

    doc = queries.get_record(db(call.settings), "contacts", call.path["contact_id"])
    body = Contact.model_validate(doc).model_dump(mode="json")
    etag = format_etag((doc.get("_sync") or {}).get("hash", ""))
    return json_response(body, 200, call.request_id, {"ETag": etag})


@endpoint.route(
    "PATCH",
    "/{contact_id}/custom-attributes",
    auth=Users(role="admin"),
    body=CustomAttributesUpdate,
    response=Contact,
    errors=(409, 428, 502, 503),
)
def update_custom_attributes(call: Call) -> Response:
    """Set custom attributes; needs If-Match (the contact's ETag) or expected_updated_at."""
    from shared.api.endpoint import json_response
    from shared.intercom_api.updates import parse_if_match, update_custom_attributes
    from shared.store.client import db

    body: CustomAttributesUpdate = call.body
    result = update_custom_attributes(
        db(call.settings),
        call.path["contact_id"],
        body.attributes,
        if_match=parse_if_match(call.request.headers.get("If-Match")),
        expected_updated_at=body.expected_updated_at,
        request_id=call.request_id,
    )
    payload = Contact.model_validate(result.contact).model_dump(mode="json")
    return json_response(payload, 200, call.request_id, {"ETag": result.etag})


handle = endpoint.entry_point()
