"""GET /pylon-overview?connection_id=...: the support dashboard's overview page (Pylon),
from the documents precomputed after each sync; a bounded number of reads."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.vendors.pylon.pages import READS_NOTE, PageAnswer, PeriodQuery

endpoint = Endpoint("pylon-overview", summary="Pylon dashboard: overview", tags=("dashboards",))


@endpoint.route("GET", "/", auth=Users(), query=PeriodQuery, response=PageAnswer, errors=(404,),
                summary="Pylon overview." + READS_NOTE)
def page(call: Call) -> PageAnswer:
    from shared.vendors.pylon.pages import serve

    return serve(call, "overview")


handle = endpoint.entry_point()
