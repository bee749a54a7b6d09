"""/credits: the organization's usage credits: balance and ledger (members), spend with
Idempotency-Key (members), purchases and grants, the plan (admins)."""

from __future__ import annotations

from shared.api import Endpoint, Users
from shared.credits import api as h
from shared.credits.models import (
    Balance,
    CreditsQuery,
    CreditsView,
    GrantRequest,
    LedgerEntry,
    PlanRequest,
    SpendRequest,
    SpendResult,
)

endpoint = Endpoint("credits", summary="Usage credits: balance, ledger, spend, grants", tags=("credits",))
admin = Users(role="admin")
endpoint.route("GET", "/", auth=Users(), query=CreditsQuery, response=CreditsView)(h.show)
endpoint.route("POST", "/spend", auth=Users(), body=SpendRequest, response=SpendResult,
               summary="Spend credits (Idempotency-Key)", errors=(409, 422))(h.spend)
endpoint.route("POST", "/grant", auth=admin, body=GrantRequest, response=LedgerEntry, status=201,
               summary="Purchase or grant credits")(h.grant)
endpoint.route("PUT", "/plan", auth=admin, body=PlanRequest, response=Balance,
               summary="Included credits per period and billing day")(h.plan)

handle = endpoint.entry_point()
