"""Pipedrive's webhooks v2: registered per user through the API, delivered by the kit's sender.

    POST   /api/v1/webhooks   {subscription_url, event_action, event_object, version: "2.0",
                               http_auth_user, http_auth_password}   -> {success, data: {id, ...}}
    GET    /api/v1/webhooks   the caller's webhooks
    DELETE /api/v1/webhooks/{id}

A webhook belongs to the user whose token registered it and hears only that user's records
(as a user whose permission level sees their own). Every change the sandbox makes
(`Store.touch`/`delete`, a created activity) is sent to each matching webhook as Pipedrive
v2 does (https://pipedrive.readme.io/docs/guide-for-webhooks-v2):

    {"meta": {"action": "create"|"change"|"delete", "entity": "person", "entity_id": "123",
              "id": "<uuid>", "version": "2.0", "timestamp": ..., "user_id": ..., "company_id": ...,
              "webhook_id": ..., "webhook_owner_id": ..., "attempt": 1, "change_source": "api",
              "permitted_user_ids": [...], "host": "<company>.pipedrive.com"},
     "data": <the v2 record, null on delete>, "previous": <the fields before, or null>}

signed with HTTP Basic (`http_auth_user` / `http_auth_password`), one kit WebhookSender per
webhook (retries on non-2xx, delivery log); `/_sandbox/webhooks/flush` waits for them all.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devtools.sandboxes.kit.responses import ApiError
from devtools.sandboxes.kit.webhooks import BasicSigner, Notification, WebhookSender

if TYPE_CHECKING:
    from devtools.sandboxes.pipedrive.records import Account, Store

#: stream -> Pipedrive's entity name
ENTITY = {"persons": "person", "organizations": "organization", "deals": "deal", "activities": "activity"}
ACTIONS = ("create", "change", "delete", "*")


@dataclass
class Hook:
    id: int
    token: str
    url: str
    event_action: str
    event_object: str
    user: str
    sender: WebhookSender

    def matches(self, action: str, entity: str) -> bool:
        return self.event_action in ("*", action) and self.event_object in ("*", entity)

    def render(self, owner: int) -> dict[str, Any]:
        return {"id": self.id, "subscription_url": self.url, "event_action": self.event_action,
                "event_object": self.event_object, "version": "2.0", "owner_id": owner, "is_active": 1,
                "http_auth_user": self.user, "http_auth_password": "***"}


class Hooks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.by_id: dict[int, Hook] = {}

    def register(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        url = str(body.get("subscription_url") or "")
        action, entity = str(body.get("event_action") or ""), str(body.get("event_object") or "")
        if str(body.get("version") or "1.0") != "2.0":
            raise ApiError(400, "bad_request", "this sandbox serves webhooks version 2.0 only")
        if action not in ACTIONS or entity not in (*ENTITY.values(), "*"):
            raise ApiError(400, "bad_request", f"unsupported event {action}.{entity}")
        sender = WebhookSender()
        try:
            sender.configure(url, BasicSigner(str(body.get("http_auth_user") or ""),
                                              str(body.get("http_auth_password") or "")), max_attempts=5)
        except ValueError as exc:
            raise ApiError(400, "bad_request", f"subscription_url: {exc}") from exc
        hook = Hook(self.store.ids.take(), account.token, url, action, entity,
                    str(body.get("http_auth_user") or ""), sender)
        with self._lock:
            self.by_id[hook.id] = hook
        return hook.render(account.user_id)

    def listed(self, account: Account) -> list[dict[str, Any]]:
        return [h.render(account.user_id) for h in self.by_id.values() if h.token == account.token]

    def remove(self, account: Account, hook_id: int) -> None:
        with self._lock:
            hook = self.by_id.get(hook_id)
            if hook is None or hook.token != account.token:
                raise ApiError(404, "not_found", "Webhook not found")
            del self.by_id[hook_id]
        hook.sender.unconfigure()

    def tell(self, account: Account, action: str, kind: str, record: dict[str, Any],
             previous: dict[str, Any] | None) -> None:
        entity = ENTITY.get(kind)
        if entity is None:
            return
        listeners = [h for h in self.by_id.values() if h.matches(action, entity) and h.token in self.store.accounts
                     and self.store.sees(self.store.accounts[h.token], account)]
        for hook in listeners:
            event_id = str(uuid.uuid4())
            changed = {k: v for k, v in (previous or {}).items() if record.get(k) != v} if previous else None
            payload = {
                "meta": {"action": action, "entity": entity, "entity_id": str(record["id"]), "id": event_id,
                         "version": "2.0", "timestamp": int(time.time()), "user_id": account.user_id,
                         "company_id": account.company, "webhook_id": hook.id, "webhook_owner_id": self.store.accounts[hook.token].user_id,
                         "attempt": 1, "change_source": "api", "permitted_user_ids": [account.user_id],
                         "host": f"{account.company}.pipedrive.com"},
                "data": None if action == "delete" else record,
                "previous": previous if action == "delete" else changed,
            }
            hook.sender.send(Notification(id=event_id, topic=f"{action}.{entity}", payload=payload))

    def flush(self, timeout_s: float) -> bool:
        return all(h.sender.flush(timeout_s) for h in list(self.by_id.values()))

    def state(self) -> dict[str, Any]:
        return {"webhooks": [{"id": h.id, "token_suffix": h.token[-4:], "url": h.url, "event": f"{h.event_action}."
                              f"{h.event_object}", "stats": dict(h.sender.stats)} for h in self.by_id.values()]}
