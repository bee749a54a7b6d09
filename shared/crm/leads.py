"""Converting a synced lead (a Google Sheets connection's `leads`) into a contact.

One transaction reads the lead, refuses when it already names a contact (409
already_converted, with that contact's id), creates the contact (its `lead` names the
connection and key) with its audit entry, and records `contact_id` on the lead. The lead's
`contact_id` is not part of its content hash, so the next sync of an unchanged row leaves
it alone, and an update of the row (which writes only the mapped fields) keeps it; its
commit time moves, so pollers of the leads list see the conversion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.api.types import DocId
from shared.crm import store
from shared.crm.kinds import CONTACTS
from shared.crm.models import ContactFields
from shared.errors import Conflict, NotFound

if TYPE_CHECKING:
    from google.cloud.firestore import Client, Transaction

    from shared.api.policies import Principal

LEADS_STREAM = "leads"


class ConvertLead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: DocId = Field(..., max_length=64)
    lead_key: DocId = Field(..., max_length=300)
    customer_id: DocId | None = Field(None, max_length=64, description="The customer the new contact works for")


def _contact_fields(lead: dict[str, Any], customer_id: str | None) -> ContactFields:
    first, _, last = (lead.get("name") or "").partition(" ")
    company = lead.get("company")
    return ContactFields.model_validate({
        "first_name": (first or None) and first[:100],
        "last_name": (last or None) and last[:100],
        "email": lead.get("email"),
        "phone": None,
        "customer_id": customer_id,
        "notes": f"From lead {lead.get('id')} ({company})" if company else f"From lead {lead.get('id')}",
    })


def convert(db: Client, who: Principal, body: ConvertLead) -> dict[str, Any]:
    from google.cloud.firestore import SERVER_TIMESTAMP

    from shared.store.records import records_collection, safe_doc_id

    lead_ref = records_collection(db, body.connection_id, LEADS_STREAM).document(safe_doc_id(body.lead_key))
    contact_ref = store.collection(db, CONTACTS).document(store.new_id(CONTACTS))
    now = store.utcnow()

    def txn(transaction: Transaction) -> dict[str, Any]:
        snap = lead_ref.get(transaction=transaction)
        lead = snap.to_dict() if snap.exists else None
        if lead is None or lead.get("_deleted"):
            raise NotFound(f"No lead {body.lead_key!r}.")
        if lead.get("contact_id"):
            raise Conflict("This lead was already converted.", code="already_converted",
                           details={"contact_id": lead["contact_id"]})
        fields = _contact_fields(lead, body.customer_id)
        doc = store.new_doc(db, transaction, CONTACTS, who, contact_ref, fields,
                            {"lead": {"connection_id": body.connection_id, "key": body.lead_key}}, now)
        transaction.update(lead_ref, {"contact_id": contact_ref.id, "_sync.committed_at": SERVER_TIMESTAMP})
        return doc

    return store.public(store.run(db, txn))
