"""The spreadsheets: id -> sheet title -> rows (lists of cell values), seeded with leads."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from devtools.sandboxes.kit.params import int_fields
from devtools.sandboxes.kit.responses import ApiError

SPREADSHEET_ID = "1SandboxLeadsSpreadsheet0000000000000000000"
SHEET = "Leads"
HEADER = ["Lead ID", "Email", "Full Name", "Company", "Source", "Status", "Created"]
SOURCES = ("webinar", "ads", "referral", "website")
STATUSES = ("new", "contacted", "qualified")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds")


@dataclass(frozen=True)
class Sizes:
    leads: int = 50
    seed: int = 1


def seed_rows(sizes: Sizes) -> list[list[Any]]:
    rng = random.Random(sizes.seed)
    rows: list[list[Any]] = [list(HEADER)]
    for n in range(sizes.leads):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append([f"L{n + 1:04d}", f"{first}.{last}{n}@lead.example".lower(), f"{first} {last}",
                     f"{last} Ltd", rng.choice(SOURCES), rng.choice(STATUSES),
                     f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"])
    return rows


class Store:
    def __init__(self, sizes: Sizes) -> None:
        self.lock = threading.Lock()
        self.reset(sizes)

    def reset(self, sizes: Sizes) -> None:
        with self.lock:
            self.sizes = sizes
            self.spreadsheets: dict[str, dict[str, list[list[Any]]]] = {SPREADSHEET_ID: {SHEET: seed_rows(sizes)}}

    def sheet(self, spreadsheet_id: str, title: str | None) -> tuple[str, list[list[Any]]]:
        """(title, rows) of a sheet; no title: the first sheet (as an A1 range without one)."""
        book = self.spreadsheets.get(spreadsheet_id)
        if book is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        if title is None:
            title = next(iter(book))
        if title not in book:
            raise ApiError(400, "INVALID_ARGUMENT", f"Unable to parse range: {title}")
        return title, book[title]


def counts(store: Store) -> dict[str, Any]:
    return {"leads": sum(max(0, len(rows) - 1) for book in store.spreadsheets.values() for rows in book.values())}


def reset(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    sizes = Sizes(**{"leads": store.sizes.leads, "seed": store.sizes.seed, **int_fields(body, ("leads", "seed"))})
    store.reset(sizes)
    return {"counts": counts(store)}
