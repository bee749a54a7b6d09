"""GET /intercom-conversations: conversations (store or live=true); GET /{id}: one."""

from __future__ import annotations

from shared.api import Call, Deployment, Endpoint, Users
from shared.intercom_api.models import Conversation, ConversationPage, ConversationQuery

#: live calls to Intercom need its access token (Secret Manager, mounted as an env var)
INTERCOM = Deployment()
endpoint = Endpoint("intercom-conversations", summary="Intercom conversations", tags=("intercom",), deployment=INTERCOM)


@endpoint.route("GET", "/", auth=Users(), query=ConversationQuery, response=ConversationPage)
def list_conversations(call: Call) -> ConversationPage:
    """Filter by state, assigned admin and creation time; sort; page with next_cursor."""
    query: ConversationQuery = call.query
    if query.live:
        from shared.intercom_api import live

        return live.search_conversations(query)
    from shared.intercom_api import queries
    from shared.store.client import db

    return queries.list_conversations(db(call.settings), query)


@endpoint.route("GET", "/{conversation_id}", auth=Users(), response=Conversation)
def get_conversation(call: Call) -> Conversation:
    """One stored conversation."""
    from shared.intercom_api import queries
    from shared.store.client import db

    doc = queries.get_record(db(call.settings), "conversations", call.path["conversation_id"])
    return Conversation.model_validate(doc)


handle = endpoint.entry_point()
