"""Handlers of the credits functions (functions/credits, functions/credits_reset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.credits import ledger
from shared.credits.models import (
    Balance,
    CreditsQuery,
    CreditsView,
    GrantRequest,
    LedgerEntry,
    PlanRequest,
    ResetResult,
    SpendRequest,
    SpendResult,
)

if TYPE_CHECKING:
    from shared.api import Call


def show(call: Call[Any, Any]) -> CreditsView:
    """The organization's balance and its ledger, newest first (`before` pages back)."""
    from shared.store.client import db

    query: CreditsQuery = call.query
    return ledger.view(db(call.settings), ledger.ORG, query.limit, query.before)


def spend(call: Call[Any, Any]) -> SpendResult:
    """Spend credits (included first, then purchased); 409 insufficient_credits when short.
    Idempotency-Key: a retry gets the first answer and spends nothing."""
    from shared.serving.idempotency import HEADER, key_of
    from shared.store.client import db

    body: SpendRequest = call.body
    key = key_of(call.request.headers.get(HEADER))
    return ledger.spend(db(call.settings), ledger.ORG, body.amount, body.reason,
                        by=call.principal.email or call.principal.subject, idempotency_key=key)


def grant(call: Call[Any, Any]) -> LedgerEntry:
    """Admins: a purchase (carries over) or a grant (included, this period only)."""
    from shared.store.client import db

    body: GrantRequest = call.body
    return ledger.add(db(call.settings), ledger.ORG, body.kind, body.amount,
                      by=call.principal.email or call.principal.subject, reason=body.reason)


def plan(call: Call[Any, Any]) -> Balance:
    """Admins: the included credits per period and the billing day."""
    from shared.store.client import db

    body: PlanRequest = call.body
    return ledger.set_plan(db(call.settings), ledger.ORG, body.included_per_period, body.billing_day,
                           by=call.principal.email or call.principal.subject)


def reset(call: Call[Any, Any]) -> ResetResult:
    """Cloud Scheduler, daily: reset the included credits of every account whose billing
    date came (a rerun the same day changes nothing)."""
    from shared.store.client import db

    done, checked = ledger.reset_due(db(call.settings))
    return ResetResult(reset=done, checked=checked)
