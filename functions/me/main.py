"""GET /me: who the caller is, as the server sees them (email, role)."""

from __future__ import annotations

from pydantic import BaseModel

from shared.api import Call, Endpoint, Users

endpoint = Endpoint("me", summary="The signed-in user", tags=("platform",))


class Me(BaseModel):
    uid: str
    email: str
    role: str


@endpoint.route("GET", "/", auth=Users(), response=Me)
def me(call: Call) -> Me:
    """The verified identity behind the bearer token."""
    principal = call.principal
    return Me(uid=principal.subject, email=principal.email, role=principal.role or "member")


handle = endpoint.entry_point()
