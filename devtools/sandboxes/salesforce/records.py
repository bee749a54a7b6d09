"""The org's records: Account, Contact and Opportunity by Id, each with SystemModstamp from
the sandbox clock and IsDeleted (a delete is soft: queryAll still lists it, as the recycle
bin does), plus the org's daily API allowance (DailyApiRequests: max and used)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from devtools.sandboxes.kit.clock import SandboxClock
from devtools.sandboxes.kit.params import int_fields

API_VERSION = "v62.0"
#: the generated history ends here (2026-01-01T00:00:00Z), reproducibly
EPOCH = 1_767_225_600
PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006"}
INDUSTRIES = ("Technology", "Retail", "Finance", "Healthcare", "Energy")
STAGES = ("Prospecting", "Qualification", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds")


def sf_time(unix: float) -> str:
    """Salesforce's dateTime rendering: 2026-01-01T00:00:00.000+0000."""
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def sf_id(sobject: str, n: int) -> str:
    return f"{PREFIX[sobject]}SB{n:010d}AAA"


@dataclass(frozen=True)
class Sizes:
    accounts: int = 50
    contacts: int = 200
    opportunities: int = 100
    seed: int = 1
    daily_api_requests: int = 100_000


class Store:
    def __init__(self, sizes: Sizes) -> None:
        self.lock = threading.RLock()
        self.reset(sizes)

    def reset(self, sizes: Sizes) -> None:
        with self.lock:
            self.sizes = sizes
            self.clock = SandboxClock(EPOCH)
            self.api_used = 0
            self.api_max = sizes.daily_api_requests
            self.objects: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in PREFIX}
            self.serial = 0
            self.locators: dict[str, tuple[str, list[dict[str, Any]]]] = {}
            rng = random.Random(sizes.seed)
            span = 2 * 365 * 86_400
            accounts = [self._seed("Account", rng, span, Name=f"{rng.choice(LAST)} {n} Inc",
                                   Industry=rng.choice(INDUSTRIES), Type="Customer", Tier__c=rng.choice("ABC"))
                        for n in range(sizes.accounts)]
            for n in range(sizes.contacts):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                self._seed("Contact", rng, span, Name=f"{first} {last}", FirstName=first, LastName=last,
                           Email=f"{first}.{last}{n}@example.com".lower(),
                           AccountId=rng.choice(accounts)["Id"] if accounts else None)
            for n in range(sizes.opportunities):
                stage = rng.choice(STAGES)
                self._seed("Opportunity", rng, span, Name=f"Deal {n}", StageName=stage,
                           Amount=float(rng.randrange(1_000, 200_000, 500)), CloseDate="2026-03-31",
                           IsClosed=stage.startswith("Closed"), IsWon=stage == "Closed Won",
                           AccountId=rng.choice(accounts)["Id"] if accounts else None)

    def _seed(self, sobject: str, rng: random.Random, span: int, **fields: Any) -> dict[str, Any]:
        at = EPOCH - rng.randrange(60, span)
        return self._put(sobject, {**fields, "CreatedDate": sf_time(at), "LastModifiedDate": sf_time(at),
                                   "SystemModstamp": sf_time(at)})

    def _put(self, sobject: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.serial += 1
        record = {"Id": sf_id(sobject, self.serial), "OwnerId": "005SB0000000001AAA", "IsDeleted": False, **fields}
        self.objects[sobject][record["Id"]] = record
        return record

    # -- changes (the /_sandbox/mutate control): each moves SystemModstamp past everything before

    def create(self, sobject: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            now = sf_time(self.clock.advance())
            return self._put(sobject, {**fields, "CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now})

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            now = sf_time(self.clock.advance())
            record = self.objects[sobject][record_id]
            record.update(fields, LastModifiedDate=now, SystemModstamp=now)
            return record

    def delete(self, sobject: str, record_id: str) -> dict[str, Any]:
        """Soft delete: IsDeleted, and SystemModstamp moves to the deletion's time."""
        with self.lock:
            record = self.objects[sobject][record_id]
            record.update(IsDeleted=True, SystemModstamp=sf_time(self.clock.advance()))
            return record

    def spend(self) -> tuple[int, int]:
        """Count one API request against the daily allowance: (used, max) after it."""
        with self.lock:
            self.api_used += 1
            return self.api_used, self.api_max


def counts(store: Store) -> dict[str, Any]:
    with store.lock:
        out: dict[str, Any] = {s.lower(): sum(1 for r in rs.values() if not r["IsDeleted"])
                               for s, rs in store.objects.items()}
        # also under the descriptor's size names, as every sandbox's counts are
        out.update(accounts=out.get("account", 0), sf_contacts=out.get("contact", 0),
                   opportunities=out.get("opportunity", 0))
        out["deleted"] = sum(1 for rs in store.objects.values() for r in rs.values() if r["IsDeleted"])
        out["api_usage"] = {"used": store.api_used, "max": store.api_max}
        return out


def reset(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Regenerate; `sf_contacts` is the descriptor's name for contacts (Intercom's
    `contacts` size flag sizes Intercom's sandbox)."""
    keys = ("accounts", "contacts", "sf_contacts", "opportunities", "seed", "daily_api_requests")
    given = int_fields(body, keys)
    if "sf_contacts" in given:
        given["contacts"] = given.pop("sf_contacts")
    current = {k: getattr(store.sizes, k) for k in keys if k != "sf_contacts"}
    store.reset(Sizes(**{**current, **given}))
    return {"counts": counts(store)}
