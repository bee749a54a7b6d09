"""What the dashboard functions share: query and response models, the access check (a
Pylon connection the caller may read) and one call per page. Functions stay thin."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import NotFound
from shared.vendors.pylon import dashboard
from shared.vendors.pylon.dashboard import ChartSpec, Period

if TYPE_CHECKING:
    from shared.api import Call

READS_NOTE = (f" Reads at most {dashboard.MAX_READS + 1} documents whatever the number of issues "
              "(precomputed after each sync that changed something).")


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    connection_id: str = Field(min_length=1, max_length=64)


class PeriodQuery(PageQuery):
    from_: str = Field(alias="from", description="First day (YYYY-MM-DD)")
    to: str = Field(description="Last day (YYYY-MM-DD), at most 366 days after `from`")


class TrendsQuery(PeriodQuery):
    bucket: Literal["day", "week"] = "day"


class ChartRequest(ChartSpec):
    connection_id: str = Field(min_length=1, max_length=64)


class PageAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")


def _client_and_connection(call: Call[Any, Any]) -> tuple[Any, str]:
    from shared.connections.access import readable
    from shared.store.client import db

    client = db(call.settings)
    connection_id = call.query.connection_id if call.query is not None else call.body.connection_id
    connection = readable(client, call.principal, connection_id)
    if connection.vendor != "pylon":
        raise NotFound("no Pylon connection with this id")
    return client, connection.id


def _period(query: PeriodQuery) -> Period:
    from shared.errors import ValidationFailed

    try:
        return Period.model_validate({"from": query.from_, "to": query.to})
    except ValueError as exc:
        raise ValidationFailed(str(exc).splitlines()[-1]) from None


def serve(call: Call[Any, Any], page: str) -> PageAnswer:
    """The page's answer for the call's connection."""
    client, connection_id = _client_and_connection(call)
    now = time.time()
    if page == "needs-attention":
        body = dashboard.needs_attention(client, connection_id, now)
    elif page == "overview":
        body = dashboard.overview(client, connection_id, _period(call.query), now)
    elif page == "performance":
        body = dashboard.performance(client, connection_id, _period(call.query))
    elif page == "accounts":
        body = dashboard.accounts(client, connection_id)
    elif page == "trends":
        body = dashboard.trends(client, connection_id, _period(call.query), call.query.bucket)
    else:
        spec = ChartSpec.model_validate(call.body.model_dump(by_alias=True, exclude={"connection_id"}))
        body = dashboard.chart(client, connection_id, spec)
    return PageAnswer.model_validate(body)
