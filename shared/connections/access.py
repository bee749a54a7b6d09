"""STUB - to be replaced by the connections work (shared/connections/access.py on its branch).

Who may see and change which connection, as the serving functions need it:

    readable(db, principal, connection_id)    org connections: every signed-in member;
                                              personal ones: their owner and admins;
                                              anyone else gets 404 (never 403: a 403
                                              would confirm that the id exists)
    manageable(db, principal, connection_id)  org connections: admins (403 role_required
                                              for members); personal ones: owner and admins
    visible_connections(db, principal)        every connection the caller may read

Kept deliberately thin: the real module (with its store, encryption and OAuth) replaces
this file when the connections branch is merged; only these signatures are relied on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.api.policies import ROLE_RANK, Principal
from shared.connections.models import Connection
from shared.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from google.cloud.firestore import Client


def is_admin(principal: Principal) -> bool:
    return ROLE_RANK.get(principal.role or "", 0) >= ROLE_RANK["admin"]


def _owns(principal: Principal, connection: Connection) -> bool:
    return connection.owner.kind == "user" and bool(principal.subject) and connection.owner.uid == principal.subject


def can_view(principal: Principal, connection: Connection) -> bool:
    if principal.kind != "user":
        return False
    return is_admin(principal) or connection.owner.kind == "org" or _owns(principal, connection)


def readable(db: Client, principal: Principal, connection_id: str) -> Connection:
    from shared.connections.store import get_connection

    connection = get_connection(db, connection_id)
    if not can_view(principal, connection):
        raise NotFound(f"No connection {connection_id!r}.", code="connection_not_found")
    return connection


def manageable(db: Client, principal: Principal, connection_id: str) -> Connection:
    connection = readable(db, principal, connection_id)
    if is_admin(principal) or _owns(principal, connection):
        return connection
    raise Forbidden("Only admins manage organization connections.", code="role_required", details={"required": "admin"})


def visible_connections(db: Client, principal: Principal) -> list[Connection]:
    from shared.connections.store import list_connections

    return [c for c in list_connections(db) if can_view(principal, c)]
