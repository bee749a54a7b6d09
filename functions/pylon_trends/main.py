"""GET /pylon-trends?connection_id=...: the support dashboard's trends page (Pylon),
from the documents precomputed after each sync; a bounded number of reads."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.vendors.pylon.pages import READS_NOTE, PageAnswer, TrendsQuery

endpoint = Endpoint("pylon-trends", summary="Pylon dashboard: trends", tags=("dashboards",))


@endpoint.route("GET", "/", auth=Users(), query=TrendsQuery, response=PageAnswer, errors=(404,),
                summary="Pylon trends." + READS_NOTE)
def page(call: Call) -> PageAnswer:
    from shared.vendors.pylon.pages import serve

    return serve(call, "trends")


handle = endpoint.entry_point()
