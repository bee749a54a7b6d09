"""POST /pylon-chart: a declarative chart spec (metric, group_by, filters, period, bucket,
chart_type), validated strictly (an unknown or bad field is a 400 naming it), answered with
series from the precomputed documents; a bounded number of reads."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.vendors.pylon.pages import READS_NOTE, ChartRequest, PageAnswer

endpoint = Endpoint("pylon-chart", summary="Pylon dashboard: chart from a spec", tags=("dashboards",))


@endpoint.route("POST", "/", auth=Users(), body=ChartRequest, response=PageAnswer, errors=(404,),
                summary="A chart's series from a spec." + READS_NOTE)
def chart(call: Call) -> PageAnswer:
    from shared.vendors.pylon.pages import serve

    return serve(call, "chart")


handle = endpoint.entry_point()
