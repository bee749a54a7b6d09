"""Intercom's own /_sandbox/* controls and the hooks the kit's generic ones call.

The kit serves stats, faults, rate_limit, reset and counts (kit/control.py); Intercom adds
deterministic mutations and the company scroll, and says what reset may change and what
counts report.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from devtools.sandboxes.intercom.store import Store
from devtools.sandboxes.kit.params import control_body, int_fields
from devtools.sandboxes.kit.responses import ApiError

if TYPE_CHECKING:
    from devtools.sandboxes.kit.app import SandboxApp

MUTATE_KEYS = ("contacts_updated", "contacts_created", "contacts_deleted", "conversations_updated",
               "conversations_created", "companies_updated")
RESET_KEYS = ("contacts", "companies", "admins", "conversations", "seed", "epoch")


def counts(store: Store) -> dict[str, Any]:
    """Record counts; companies_listed is what GET /companies can show (those with users)."""
    return {**store.counts(), "companies_listed": len(store.companies_listed()),
            "max_updated_at": store.max_updated_at(), "clock": store.clock.now()}


def reset(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Regenerate, optionally with new sizes or seed."""
    data = replace(store.config, **int_fields(body, RESET_KEYS))
    try:
        store.reset(data)
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", str(exc)) from exc
    return {"counts": store.counts(), "data": asdict(data)}


def mutate(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    from devtools.sandboxes.intercom.webhooks import notify_mutation

    changes = app.store.mutate(int_fields(control_body(request), MUTATE_KEYS))
    notify_mutation(app, changes)  # Intercom's notifications of them, when a target is configured
    return changes


def scroll(app: SandboxApp[Store], request: Request) -> dict[str, Any]:
    """GET: the open company scroll, if any. DELETE: drop it (as if it had expired)."""
    if request.method == "DELETE":
        return {"closed": app.store.scrolls.close()}
    return app.store.scrolls.state()


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("POST", "/_sandbox/mutate", mutate),
    ("GET", "/_sandbox/scroll", scroll),
    ("DELETE", "/_sandbox/scroll", scroll),
)
