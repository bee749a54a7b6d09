"""GET /pylon-accounts?connection_id=...: the support dashboard's accounts page (Pylon),
from the documents precomputed after each sync; a bounded number of reads."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.vendors.pylon.pages import READS_NOTE, PageAnswer, PageQuery

endpoint = Endpoint("pylon-accounts", summary="Pylon dashboard: accounts", tags=("dashboards",))


@endpoint.route("GET", "/", auth=Users(), query=PageQuery, response=PageAnswer, errors=(404,),
                summary="Pylon accounts." + READS_NOTE)
def page(call: Call) -> PageAnswer:
    from shared.vendors.pylon.pages import serve

    return serve(call, "accounts")


handle = endpoint.entry_point()
