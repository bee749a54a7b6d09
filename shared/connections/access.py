"""Who may see and change which connection.

    org connection        every signed-in member sees it; only admins create or manage it
    personal connection   its owner sees and manages it; admins see and manage it too
                          (to pause or delete a leaver's); nobody else learns it exists

Someone else's personal connection answers 404, never 403: a 403 would confirm that the
id exists. An org connection a member tries to change answers 403 role_required, since
members may see it anyway. Installing OAuth on a personal connection is its owner's alone:
it binds the owner's vendor account, which an admin cannot stand in for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.api.policies import ROLE_RANK, Principal
from shared.connections.models import Connection, Owner
from shared.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from google.cloud.firestore import Client


def is_admin(principal: Principal) -> bool:
    return ROLE_RANK.get(principal.role or "", 0) >= ROLE_RANK["admin"]


def _owns(principal: Principal, connection: Connection) -> bool:
    return (
        connection.owner.kind == "user"
        and bool(principal.subject)
        and connection.owner.uid == principal.subject
    )


def can_view(principal: Principal, connection: Connection) -> bool:
    if principal.kind != "user":
        return False
    return is_admin(principal) or connection.owner.kind == "org" or _owns(principal, connection)


def require_view(principal: Principal, connection: Connection) -> Connection:
    if not can_view(principal, connection):
        raise NotFound(f"No connection {connection.id!r}.", code="connection_not_found")
    return connection


def require_manage(principal: Principal, connection: Connection) -> Connection:
    require_view(principal, connection)
    if is_admin(principal) or _owns(principal, connection):
        return connection
    raise Forbidden(
        "Only admins manage organization connections.", code="role_required", details={"required": "admin"}
    )


def require_install(principal: Principal, connection: Connection) -> Connection:
    """Who may run the OAuth install: admins for org connections, the owner for personal."""
    require_manage(principal, connection)
    if connection.owner.kind == "user" and not _owns(principal, connection):
        raise Forbidden("Only its owner can authorize a personal connection.", code="owner_required")
    return connection


def owner_for_create(principal: Principal, kind: str) -> Owner:
    """The Owner a new connection gets: personal ones always belong to the caller (nobody
    creates one on someone else's behalf); org ones need an admin."""
    if kind == "user":
        return Owner(kind="user", uid=principal.subject, email=principal.email or None)
    if not is_admin(principal):
        raise Forbidden(
            "Only admins create organization connections.",
            code="role_required",
            details={"required": "admin"},
        )
    return Owner(kind="org")


def visible(principal: Principal, connections: list[Connection]) -> list[Connection]:
    return [c for c in connections if can_view(principal, c)]


def readable(db: Client, principal: Principal, connection_id: str) -> Connection:
    """The connection, if the caller may see it (404 otherwise, as if it did not exist)."""
    from shared.connections.store import get_connection

    return require_view(principal, get_connection(db, connection_id))


def manageable(db: Client, principal: Principal, connection_id: str) -> Connection:
    """The connection, if the caller may change it or start its syncs (404/403 otherwise)."""
    from shared.connections.store import get_connection

    return require_manage(principal, get_connection(db, connection_id))


def visible_connections(db: Client, principal: Principal) -> list[Connection]:
    from shared.connections.store import list_connections

    return visible(principal, list_connections(db))
