"""Intercom write-backs: a contact's custom attributes.

The actions function does the rest (If-Match, Idempotency-Key, the claim on the stored
contact, storing Intercom's answer through the ingest path): this module only says what
the input is and how Intercom is asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.vendors.connector import Action

if TYPE_CHECKING:
    from shared.vendors.http import VendorClient

Scalar = str | int | float | bool | None


class CustomAttributesInput(BaseModel):
    """Attributes to set (Intercom merges them into the contact's). Name the version the
    change is based on with If-Match (the contact's ETag), or with expected_updated_at."""

    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Scalar] = Field(..., min_length=1, max_length=100)
    expected_updated_at: datetime | None = Field(
        None, description="The updated_at the change is based on (instead of If-Match)"
    )

    @field_validator("attributes")
    @classmethod
    def _names(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for name in value:
            if not name or len(name) > 190 or name.strip() != name:
                raise ValueError(f"invalid attribute name {name!r}")
        return value


def _contact_path(key: str) -> str:
    from shared.errors import NotFound

    if not key.replace("-", "").replace("_", "").isalnum() or len(key) > 128:
        raise NotFound(f"No contact {key!r}.")
    return f"/contacts/{key}"


def read_contact(client: VendorClient, key: str) -> dict[str, Any]:
    from shared.vendors.pagination import PageRequest

    return client.fetch(PageRequest(path=_contact_path(key)))


def intercom_reasons(text: str) -> list[dict[str, str]]:
    """Intercom's error.list ({"errors": [{"code", "message"}]}) as plain pairs; the raw
    text when the body is not one (it may be cut short)."""
    import json

    try:
        body = json.loads(text)
    except ValueError:
        return [{"code": "unknown", "message": text[:300]}] if text else []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return [{"code": "unknown", "message": text[:300]}]
    return [
        {"code": str(e.get("code") or "unknown"), "message": str(e.get("message") or "")[:300]}
        for e in errors[:10]
        if isinstance(e, dict)
    ]


def put_custom_attributes(client: VendorClient, key: str, change: CustomAttributesInput) -> dict[str, Any]:
    """PUT /contacts/{id}: Intercom answers with the updated contact.

    Intercom stores only attributes defined in the workspace beforehand, with their type:
    an undefined name, a nested object or a value of the wrong type is refused (400) and
    nothing changes. The caller gets 422 vendor_refused_change with Intercom's reasons (the
    store is not touched: the answer never reaches the ingest path)."""
    from shared.errors import Unprocessable
    from shared.vendors.errors import VendorAuthFailed, VendorConflict, VendorNotFound, VendorRejected
    from shared.vendors.pagination import PageRequest

    body = {"custom_attributes": change.attributes}
    try:
        return client.fetch(PageRequest(method="PUT", path=_contact_path(key), json_body=body))
    except (VendorAuthFailed, VendorNotFound, VendorConflict):
        raise
    except VendorRejected as exc:
        details = exc.details or {}
        if details.get("vendor_status") not in (400, 422):
            raise
        reasons = intercom_reasons(str(details.get("vendor_error") or ""))
        said = "; ".join(r["message"] or r["code"] for r in reasons) or "no reason given"
        raise Unprocessable(
            f"Intercom refused the change: {said}",
            code="vendor_refused_change",
            details={"vendor_status": details["vendor_status"], "vendor_errors": reasons},
        ) from None


CONTACT_CUSTOM_ATTRIBUTES = Action(
    name="contact-custom-attributes",
    stream="contacts",
    input_model=CustomAttributesInput,
    perform=put_custom_attributes,
    read=read_contact,
    summary="Set a contact's custom attributes in Intercom, then here",
    alt_preconditions={"expected_updated_at": "updated_at"},
)
