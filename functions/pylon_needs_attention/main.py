"""GET /pylon-needs-attention?connection_id=...: the support dashboard's needs attention page (Pylon),
from the documents precomputed after each sync; a bounded number of reads."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.vendors.pylon.pages import READS_NOTE, PageAnswer, PageQuery

endpoint = Endpoint("pylon-needs-attention", summary="Pylon dashboard: needs attention", tags=("dashboards",))


@endpoint.route("GET", "/", auth=Users(), query=PageQuery, response=PageAnswer, errors=(404,),
                summary="Pylon needs attention." + READS_NOTE)
def page(call: Call) -> PageAnswer:
    from shared.vendors.pylon.pages import serve

    return serve(call, "needs-attention")


handle = endpoint.entry_point()
