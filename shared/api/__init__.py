"""HTTP layer shared by every function: routing, parsing, auth policies, error bodies.

    from shared.api import Endpoint, Call, PUBLIC, Users

    endpoint = Endpoint("contacts", summary="Intercom contacts")

    @endpoint.route("GET", "/", auth=Users(), query=ContactQuery, response=ContactPage)
    def list_contacts(call: Call) -> ContactPage: ...

    handle = endpoint.entry_point()   # the Cloud Function entry point
"""

from shared.api.endpoint import Call, Deployment, Endpoint, Route
from shared.api.policies import PUBLIC, AuthPolicy, Principal, Public, ServiceAccount, Users
from shared.api.types import DocId

__all__ = [
    "PUBLIC",
    "AuthPolicy",
    "Call",
    "Deployment",
    "DocId",
    "Endpoint",
    "Principal",
    "Public",
    "Route",
    "ServiceAccount",
    "Users",
]
