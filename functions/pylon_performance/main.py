"""GET /pylon-performance?connection_id=...: the support dashboard's performance page (Pylon),
from the documents precomputed after each sync; a bounded number of reads."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.vendors.pylon.pages import READS_NOTE, PageAnswer, PeriodQuery

endpoint = Endpoint("pylon-performance", summary="Pylon dashboard: performance", tags=("dashboards",))


@endpoint.route("GET", "/", auth=Users(), query=PeriodQuery, response=PageAnswer, errors=(404,),
                summary="Pylon performance." + READS_NOTE)
def page(call: Call) -> PageAnswer:
    from shared.vendors.pylon.pages import serve

    return serve(call, "performance")


handle = endpoint.entry_point()
