"""GET /intercom-conversation-stats?from=&to=[&admin_id=]: counts and first-response times."""

from __future__ import annotations

from shared.api import Call, Endpoint, Users
from shared.intercom_api.models import ConversationStats, StatsQuery

endpoint = Endpoint("intercom-conversation-stats", summary="Intercom conversation statistics", tags=("intercom",))


@endpoint.route("GET", "/", auth=Users(), query=StatsQuery, response=ConversationStats)
def conversation_stats(call: Call) -> ConversationStats:
    """Per day, state and admin, with median and p90 first-response time; at most 366 days."""
    from shared.intercom_api.stats import conversation_stats as compute
    from shared.store.client import db

    return compute(db(call.settings), call.query)


handle = endpoint.entry_point()
