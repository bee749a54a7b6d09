"""Records -> Pylon's JSON (its API reference's shapes)."""

from __future__ import annotations

from typing import Any

from devtools.sandboxes.pylon.records import Issue, Message, iso


def issue(i: Issue) -> dict[str, Any]:
    first = next((m for m in i.messages if m.kind == "agent"), None)
    return {
        "id": i.id, "number": i.number, "title": i.title, "body_html": f"<p>{i.title}</p>",
        "state": i.state, "priority": i.priority, "source": "slack", "type": "Conversation",
        "link": f"https://app.usepylon.com/issues?issueNumber={i.number}",
        "created_at": iso(i.created_at), "updated_at": iso(i.updated_at),
        "latest_message_time": iso(max(m.timestamp for m in i.messages)),
        "first_response_time": iso(first.timestamp) if first else None,
        "first_response_seconds": first.timestamp - i.created_at if first else None,
        "resolution_time": iso(i.resolved_at) if i.resolved_at else None,
        "resolution_seconds": i.resolved_at - i.created_at if i.resolved_at else None,
        "account": {"id": i.account_id}, "requester": {"id": i.requester_id, "email": f"{i.requester_id}@example.com"},
        "assignee": {"id": i.assignee_id} if i.assignee_id else None,
        "team": {"id": i.team_id} if i.team_id else None,
        "tags": i.tags, "custom_fields": i.custom_fields,
    }


def message(m: Message) -> dict[str, Any]:
    ref = {"id": m.author_id, "email": f"{m.author_id}@example.com"}
    author = {"name": m.author_id, "user": ref} if m.kind in ("agent", "note") else {"name": m.author_id, "contact": ref}
    return {"id": m.id, "timestamp": iso(m.timestamp), "is_private": m.kind == "note", "source": "slack",
            "message_html": f"<p>{m.body}</p>", "author": author, "thread_id": "thr_internal" if m.kind == "note" else None}


def page(data: list[dict[str, Any]], cursor: str | None, request_id: str) -> dict[str, Any]:
    return {"data": data, "pagination": {"cursor": cursor or "", "has_next_page": bool(cursor)}, "request_id": request_id}


def error(message: str, request_id: str) -> dict[str, Any]:
    """Pylon's error body: a list of messages and the request id."""
    return {"errors": [message], "request_id": request_id}
