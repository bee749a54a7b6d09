"""The sandbox's data: generated records, lookups, sorted/filtered views and writes.

Writes (PUT, /_sandbox/mutate, reset) take the lock and bump `version`. Contacts and
conversations are kept sorted by created_at and by updated_at (kit/index.py, maintained on
writes): a search whose filters bound one of them (the sync's windows: `created_at > a AND
created_at < b`, `updated_at > t`) is answered from that range, so its cost grows with the
window, not with the store; a search sorted by the bounded field is two bisections and a
slice per page. Other searches filter the whole store once and are cached per (query,
sort, version). Mutations are deterministic: their RNG is seeded by the data seed and the
number of mutations so far. Activity moves companies: a contact updated by a mutation
bumps its companies' last_request_at, the order GET /companies lists them in.
"""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from devtools.sandboxes.intercom import attributes, companies, render, timeline
from devtools.sandboxes.intercom.config import DataConfig
from devtools.sandboxes.intercom.datagen import TOPICS, Dataset, generate, make_contact, make_conversation
from devtools.sandboxes.intercom.query import Predicate, compile_query, sort_key
from devtools.sandboxes.intercom.records import Admin, Company, Contact, Conversation
from devtools.sandboxes.kit.clock import SandboxClock
from devtools.sandboxes.kit.index import SortedIndex
from devtools.sandboxes.kit.paging import Ordered
from devtools.sandboxes.kit.responses import encode

CACHE_SIZE = 16
INDEXED = ("created_at", "updated_at")  # never None on contacts and conversations
BOUNDS = ("<", "<=", ">", ">=")
RENDER_CACHE_MAX = 60_000  # encoded records kept; cleared wholesale beyond that
UPDATABLE: dict[str, tuple[type, ...]] = {
    "role": (str,), "external_id": (str,), "email": (str,), "phone": (str, type(None)), "name": (str, type(None)),
    "avatar": (str, type(None)), "signed_up_at": (int, type(None)), "last_seen_at": (int, type(None)),
    "owner_id": (int, type(None)), "unsubscribed_from_emails": (bool, type(None)),
    "custom_attributes": (dict, type(None)),
}


class Store:
    def __init__(self, config: DataConfig, mutation_step_seconds: int = 60, lenient_search: bool = False,
                 scroll_idle_seconds: float = 60.0, company_list_cap: int = 10_000) -> None:
        self._lock = threading.RLock()
        self.step = mutation_step_seconds
        self.lenient_search = lenient_search
        self.company_list_cap = company_list_cap
        self.scrolls = companies.ScrollRegistry(scroll_idle_seconds)
        self.reset(config)

    def reset(self, config: DataConfig) -> None:
        """Regenerate from `config`: same config, same data, clock back at the epoch."""
        data = generate(config)
        with self._lock:
            self.config = config
            self.clock = SandboxClock(config.epoch)
            self.data: Dataset = data
            self.admins = {a.id: a for a in data.admins}
            self.companies = {c.id: c for c in data.companies}
            self.companies_by_name = {c.name.lower(): c for c in data.companies}
            self.companies_by_external = {c.company_id: c for c in data.companies}
            self.contacts = {c.id: c for c in data.contacts}
            self.conversations = {v.id: v for v in data.conversations}
            self.authors: dict[str, tuple[str | None, str]] = {a.id: (a.name, a.email) for a in data.admins}
            self.authors.update((c.id, (c.name, c.email)) for c in data.contacts)
            self.version = 0
            self.mutations = 0
            self._cache: OrderedDict[tuple[Any, ...], Ordered[Any]] = OrderedDict()
            self._encoded: dict[str, str] = {}
            self._listed: tuple[int, list[Company]] | None = None
            self.indexes: dict[str, dict[str, SortedIndex[Any]]] = {
                kind: {f: SortedIndex(sort_key(kind, f), records) for f in INDEXED}
                for kind, records in (("contacts", data.contacts), ("conversations", data.conversations))}
        self.scrolls.close()

    @contextmanager
    def _changing(self, kind: str, records: list[Any]) -> Iterator[None]:
        """Keep `kind`'s indexes sorted while the block edits `records`' fields."""
        with ExitStack() as stack:
            for index in self.indexes[kind].values():
                stack.enter_context(index.changing(records))
            yield

    def encoded(self, record: Contact | Conversation) -> str:
        """The record's list-item JSON, cached until a write touches the record."""
        text = self._encoded.get(record.id)
        if text is None:
            body = render.contact(record) if isinstance(record, Contact) else render.conversation(record, self.authors)
            text = encode(body)
            if len(self._encoded) >= RENDER_CACHE_MAX:
                self._encoded.clear()
            self._encoded[record.id] = text
        return text

    def _touched(self, ids: list[str]) -> None:
        for record_id in ids:
            self._encoded.pop(record_id, None)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"contacts": len(self.contacts), "companies": len(self.companies), "admins": len(self.admins),
                    "conversations": len(self.conversations)}

    def max_updated_at(self) -> dict[str, int]:
        with self._lock:
            return {kind: by["updated_at"].items[-1].updated_at if len(by["updated_at"]) else 0
                    for kind, by in self.indexes.items()}

    def view(self, kind: str, query: Any | None, sort_field: str) -> Ordered[Any]:
        """Records of `kind` matching `query`, ascending by (sort_field, id); cached per version."""
        cache_key = (kind, json.dumps(query, sort_keys=True), sort_field)
        with self._lock:
            cached = self._cache.get(cache_key + (self.version,))
            if cached is not None:
                self._cache.move_to_end(cache_key + (self.version,))
                return cached
            pred: Predicate | None = compile_query(kind, query, self.lenient_search) if query is not None else None
            if query is None and sort_field in INDEXED:
                return self.indexes[kind][sort_field].ordered()
            ranged = self._ranged(kind, query, sort_field) if query is not None else None
            if isinstance(ranged, tuple):
                source, pred = ranged
            elif ranged is not None:
                return ranged
            else:
                source = self.data.contacts if kind == "contacts" else self.data.conversations
            ordered = Ordered.of((r for r in source if pred is None or pred(r)), sort_key(kind, sort_field))
            self._cache[cache_key + (self.version,)] = ordered
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return ordered

    def _ranged(self, kind: str, query: Any, sort_field: str
                ) -> Ordered[Any] | tuple[Sequence[Any], Predicate | None] | None:
        """A search whose top-level filters bound an indexed field, answered from its index:
        the window itself (an Ordered) when nothing else filters and it sorts by that field,
        else (the window's records, the rest of the query) to filter and sort; None when no
        filter bounds an indexed field.

        The window's edges are found by bisecting with each bound's own compiled predicate
        (monotone along the index), so Intercom's rules (days, `>` as `>=`) hold unchanged."""
        filters = query["value"] if query.get("operator") == "AND" else [query]
        bounds = [f for f in filters if f.get("field") in INDEXED and f.get("operator") in BOUNDS]
        if not bounds:
            return None
        field = sort_field if any(f["field"] == sort_field for f in bounds) else bounds[0]["field"]
        index = self.indexes[kind][field]
        lo, hi = 0, len(index)
        for f in (f for f in bounds if f["field"] == field):
            test = compile_query(kind, f, self.lenient_search)
            if f["operator"] in (">", ">="):
                lo = max(lo, index.first(test, 0, len(index)))
            else:
                hi = min(hi, index.first(lambda r, t=test: not t(r), 0, len(index)))  # type: ignore[misc]
        rest = [f for f in filters if not (f.get("field") == field and f.get("operator") in BOUNDS)]
        if not rest and field == sort_field:
            return index.ordered(lo, hi)
        window = index.items[lo:hi] if lo < hi else []
        return window, compile_query(kind, {"operator": "AND", "value": rest}, self.lenient_search) if rest else None

    def companies_listed(self) -> list[Company]:
        """Companies a list response shows (with users, newest last_request_at first); cached."""
        with self._lock:
            if self._listed is None or self._listed[0] != self.version:
                self._listed = (self.version, companies.listed(self.data.companies))
            return self._listed[1]

    def company_ids(self) -> list[str]:
        """Every company, users or not, in creation order (a scroll's snapshot)."""
        with self._lock:
            return [c.id for c in self.data.companies]

    def admin_list(self) -> list[Admin]:
        return self.data.admins

    def update_contact(self, contact_id: str, changes: dict[str, Any]) -> Contact | None:
        """Apply an update_contact_request; WriteRefused for what Intercom refuses."""
        for name, value in changes.items():
            if name not in UPDATABLE:
                raise attributes.WriteRefused("bad_request", f"bad '{name}' parameter")
            if not isinstance(value, UPDATABLE[name]) or (isinstance(value, bool) and bool not in UPDATABLE[name]):
                raise attributes.WriteRefused("parameter_invalid", f"{name} has the wrong type")
        if changes.get("role") not in (None, "user", "lead"):
            raise attributes.WriteRefused("parameter_invalid", "role must be user or lead")
        attributes.check_custom("contact", changes.get("custom_attributes"))
        with self._lock:
            contact = self.contacts.get(contact_id)
            if contact is None:
                return None
            with self._changing("contacts", [contact]):
                for name, value in changes.items():
                    if name == "custom_attributes":
                        contact.custom_attributes.update(value or {})
                    elif name != "avatar":
                        setattr(contact, name, value)
                contact.updated_at = self.clock.advance(1)
            self._touched([contact.id])
            self.version += 1
            return contact

    def mutate(self, spec: dict[str, int]) -> dict[str, Any]:
        """Deterministic changes dated at a new, later 'now'; returns the affected ids."""
        with self._lock:
            rng = random.Random(f"{self.config.seed}:mutate:{self.mutations}")
            self.mutations += 1
            now = self.clock.advance(self.step)
            out: dict[str, Any] = {"now": now}
            live = self.data.contacts
            picked = rng.sample(live, min(len(live), spec.get("contacts_updated", 0) + spec.get("contacts_deleted", 0)))
            updated, deleted = picked[: spec.get("contacts_updated", 0)], picked[spec.get("contacts_updated", 0):]
            with self._changing("contacts", updated):
                for c in updated:
                    c.updated_at = now
                    c.last_seen_at = now
                    c.custom_attributes["training_topic"] = rng.choice(TOPICS)
            out["contacts_updated"] = [c.id for c in updated]
            touched = {cid for c in updated for cid in c.company_ids}
            touched.update(c.id for c in rng.sample(self.data.companies, min(len(self.data.companies),
                                                                              spec.get("companies_updated", 0))))
            for company_id in sorted(touched):
                company = self.companies[company_id]
                company.last_request_at = company.updated_at = now
            out["companies_updated"] = sorted(touched)
            out["contacts_deleted"] = self._delete_contacts({c.id for c in deleted})
            out["contacts_created"] = self._create_contacts(rng, spec.get("contacts_created", 0), now)
            out["conversations_updated"] = self._update_conversations(rng, spec.get("conversations_updated", 0), now)
            out["conversations_created"] = self._create_conversations(rng, spec.get("conversations_created", 0), now)
            for key in ("contacts_updated", "contacts_deleted", "conversations_updated"):
                self._touched(out[key])
            self.version += 1
            return out

    def _delete_contacts(self, ids: set[str]) -> list[str]:
        if not ids:
            return []
        for by_field in self.indexes["contacts"].values():
            by_field.remove([self.contacts[cid] for cid in ids])
        for cid in ids:
            for company_id in self.contacts.pop(cid).company_ids:
                self.companies[company_id].user_count -= 1
        self.data.contacts = [c for c in self.data.contacts if c.id not in ids]
        return sorted(ids)

    def _create_contacts(self, rng: random.Random, n: int, now: int) -> list[str]:
        created = []
        for _ in range(n):
            index = self.config.contacts + 1_000_000 * self.mutations + len(created)
            c = make_contact(rng, self.config, index, now, now, self.data.admins, self.data.companies)
            self.contacts[c.id] = c
            self.data.contacts.append(c)
            self.authors[c.id] = (c.name, c.email)
            for company_id in c.company_ids:
                self.companies[company_id].user_count += 1
            created.append(c.id)
        for by_field in self.indexes["contacts"].values():
            by_field.add(self.contacts[cid] for cid in created)
        return created

    def _update_conversations(self, rng: random.Random, n: int, now: int) -> list[str]:
        """Closed ones are reopened by a customer reply; the others get an answer and are closed."""
        chosen: list[Conversation] = rng.sample(self.data.conversations, min(n, len(self.data.conversations)))
        with self._changing("conversations", chosen):
            self._reply(chosen, now)
        return [v.id for v in chosen]

    @staticmethod
    def _reply(chosen: list[Conversation], now: int) -> None:
        for v in chosen:
            if v.state == "closed" and v.customer_id is not None:
                timeline.append(v, now, "comment", v.customer_type, v.customer_id, "<p>This is back again.</p>",
                                "open")
            elif v.state == "closed":
                timeline.append(v, now, "open", "admin", v.responder_id, None, "open")
            else:
                if v.statistics.get("first_contact_reply_at") is not None:
                    timeline.append(v, now, "comment", "admin", v.responder_id, "<p>Resolved, closing.</p>",
                                    v.state)
                timeline.append(v, now, "close", "admin", v.responder_id, None, "closed")
            timeline.refresh(v)
            v.updated_at = now

    def _create_conversations(self, rng: random.Random, n: int, now: int) -> list[str]:
        created = []
        for _ in range(n):
            index = self.config.conversations + 1_000_000 * self.mutations + len(created)
            v = make_conversation(rng, self.config, index, now, now, self.data.admins, self.data.contacts)
            self.conversations[v.id] = v
            self.data.conversations.append(v)
            created.append(v.id)
        for by_field in self.indexes["conversations"].values():
            by_field.add(self.conversations[vid] for vid in created)
        return created
