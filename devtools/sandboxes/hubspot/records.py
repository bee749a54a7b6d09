"""The sandbox HubSpot's records: contacts, companies and deals with properties (custom
ones included), associations, archived flags, dated on a SandboxClock (unix seconds; the
API renders ISO 8601 and epoch-millisecond property values as HubSpot does)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from devtools.sandboxes.kit.clock import SandboxClock
from devtools.sandboxes.kit.params import int_fields

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
YEAR = 365 * 86_400
TYPES = ("contacts", "companies", "deals")
STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "closedwon", "closedlost")
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "opportunity", "customer")


@dataclass
class Record:
    id: str
    type: str
    properties: dict[str, str | None]
    created: int
    updated: int
    archived: bool = False
    archived_at: int | None = None


@dataclass(frozen=True)
class Sizes:
    contacts: int = 200
    companies: int = 40
    deals: int = 60
    seed: int = 1


@dataclass
class Store:
    sizes: Sizes = field(default_factory=Sizes)
    epoch: int = EPOCH

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.generate(self.sizes)

    def generate(self, sizes: Sizes) -> None:
        with self.lock:
            self.sizes = sizes
            self.clock = SandboxClock(self.epoch)
            rng = random.Random(sizes.seed)
            self.objects: dict[str, dict[str, Record]] = {t: {} for t in TYPES}
            #: (from type, from id) -> to type -> ids
            self.links: dict[tuple[str, str], dict[str, list[str]]] = {}
            self._next = 1000
            for n in range(sizes.companies):
                self._add("companies", rng, {"name": f"Company {n:04d}", "domain": f"company{n}.example",
                                             "industry": rng.choice(("SOFTWARE", "RETAIL", "BANKING")),
                                             "numberofemployees": str(rng.randint(2, 5000))})
            companies = list(self.objects["companies"])
            for n in range(sizes.contacts):
                rec = self._add("contacts", rng, {"email": f"person{n}@example.com", "firstname": f"Ada{n}",
                                                  "lastname": f"Lovelace{n}", "lifecyclestage": rng.choice(LIFECYCLE),
                                                  "favorite_color": rng.choice(("red", "green", "blue"))})
                if companies:
                    self.link("contacts", rec.id, "companies", rng.choice(companies))
            contacts = list(self.objects["contacts"])
            for n in range(sizes.deals):
                rec = self._add("deals", rng, {"dealname": f"Deal {n:04d}", "dealstage": rng.choice(STAGES),
                                               "pipeline": "default", "amount": str(rng.randint(100, 90_000)),
                                               "closedate": str((EPOCH + rng.randint(0, 90) * 86_400) * 1000)})
                if contacts:
                    self.link("deals", rec.id, "contacts", rng.choice(contacts))
                if companies:
                    self.link("deals", rec.id, "companies", rng.choice(companies))

    def _add(self, kind: str, rng: random.Random, props: dict[str, Any], at: int | None = None) -> Record:
        self._next += 1
        created = at if at is not None else self.epoch - rng.randint(3600, YEAR)
        updated = at if at is not None else rng.randint(created, self.epoch - 60)
        rec = Record(str(self._next), kind, {**props, "hubspot_owner_id": str(rng.choice((11, 12, 13)))}, created, updated)
        self.objects[kind][rec.id] = rec
        return rec

    def link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        ids = self.links.setdefault((from_type, from_id), {}).setdefault(to_type, [])
        if to_id not in ids:
            ids.append(to_id)

    def unlink(self, from_type: str, from_id: str, to_type: str, to_id: str) -> bool:
        """Remove an association (HubSpot does not change either record's last-modified date)."""
        with self.lock:
            ids = self.links.get((from_type, from_id), {}).get(to_type, [])
            if to_id not in ids:
                return False
            ids.remove(to_id)
            return True

    def live(self, kind: str) -> list[Record]:
        return [r for r in self.objects[kind].values() if not r.archived]

    def touch(self, kind: str, count: int, *, spread_s: int = 0) -> list[Record]:
        """`count` records changed now (or spread over the next `spread_s` seconds, many
        sharing a second: what a bulk import does)."""
        with self.lock:
            chosen = self.live(kind)[:count]
            start = self.clock.advance(1)
            for n, rec in enumerate(chosen):
                rec.updated = start + (n * spread_s // max(1, len(chosen)) if spread_s else 0)
                rec.properties["favorite_color"] = f"changed-{rec.updated}"
            if spread_s:
                self.clock.advance(spread_s)
            return chosen

    def create(self, kind: str, count: int) -> list[Record]:
        with self.lock:
            rng = random.Random(self._next)
            return [self._add(kind, rng, {"name": f"New {kind} {self._next}", "email": f"new{self._next}@example.com",
                                          "dealname": f"New deal {self._next}"}, at=self.clock.advance(1))
                    for _ in range(count)]

    def archive(self, kind: str, ids: list[str]) -> list[Record]:
        with self.lock:
            done = []
            for rid in ids:
                rec = self.objects[kind].get(rid)
                if rec is not None and not rec.archived:
                    rec.archived, rec.archived_at = True, self.clock.advance(1)
                    done.append(rec)
            return done


def counts(store: Store) -> dict[str, int]:
    return {kind: len(store.live(kind)) for kind in TYPES}


def reset(store: Store, body: dict[str, Any]) -> dict[str, int]:
    sizes = int_fields(body, ("contacts", "companies", "deals", "seed"))
    store.generate(Sizes(**{**store.sizes.__dict__, **sizes}))
    return counts(store)
