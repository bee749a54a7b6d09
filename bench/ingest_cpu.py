"""The worker's in-process CPU per record, without the stack: a page of the sandbox
Intercom's contacts (as the vendor sends it, bytes) is decoded by the vendor client, cut
into records, validated, mapped, hashed and built into Firestore writes, over and over.

    python -m bench.ingest_cpu [--pages 200] [--repeat 5]

Prints CPU microseconds per record (process CPU time, the best of `--repeat` rounds: the
machine is shared) for each step and in all. It leaves out the store's round trips (the
batch read and commit) and the per-page bookkeeping, which bench.cpu_profile measures on
the whole stack; this one is for seeing what a change to the record path is worth.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
from werkzeug.test import Client

from devtools.sandboxes.intercom.app import create_app
from devtools.sandboxes.intercom.config import DataConfig, RateLimitConfig, SandboxConfig
from shared.store import records, wire
from shared.sync.ingest import prepare
from shared.vendors.connector import ConnectionConfig
from shared.vendors.http import VendorClient
from shared.vendors.intercom.connector import CONNECTOR


def contacts_page(size: int) -> bytes:
    """One search page of `size` contacts, the body bytes as the sandbox sends them."""
    app = create_app(SandboxConfig(data=DataConfig(contacts=size, companies=50, admins=5, conversations=0),
                                   rate_limit=RateLimitConfig(per_minute=1_000_000), token="t"))
    answer = Client(app).post("/contacts/search", headers={"Authorization": "Bearer t", "Intercom-Version": "2.14"},
                              json={"query": {"field": "created_at", "operator": ">", "value": 0},
                                    "pagination": {"per_page": size}})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data()


def best_us_per_record(step: Callable[[], Any], records_per_call: int, calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(calls):
            step()
        best = min(best, time.process_time() - t0)
    return best * 1e6 / (records_per_call * calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="pages of 150 contacts per round")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    body = contacts_page(150)
    stream = CONNECTOR.stream("contacts")
    spec = stream.full
    client = VendorClient(CONNECTOR, ConnectionConfig(base_url="http://sandbox.invalid"),
                          transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)))
    request = spec.paginator.first(spec.build(_window()), stream.page_size)
    raws = stream.records(spec, client.fetch(request))
    n = len(raws)
    prepared = prepare(stream, raws).items
    source = records.Provenance("sync", "run", unit="c/0")
    at = datetime.now(timezone.utc)

    def build_writes() -> None:
        for item in prepared:
            doc = {**(item.content or {}), "_sync": {"hash": item.digest, "version": item.version,
                                                     "source": source.as_dict(), "synced_at": at},
                   "_deleted": False, "_expires_at": None}
            wire.create_write(f"projects/p/databases/(default)/documents/c/x/contacts/{item.key}", doc,
                              records.COMMIT_TIME_FIELDS)

    steps: dict[str, Callable[[], Any]] = {
        "fetch (HTTP client, decode)": lambda: stream.records(spec, client.fetch(request)),
        "prepare (validate, map, hash)": lambda: prepare(stream, raws),
        "content hash alone": lambda: [records.content_hash(i.content or {}) for i in prepared],
        "build writes (protobuf)": build_writes,
    }
    figures = {name: round(best_us_per_record(step, n, args.pages, args.repeat), 1) for name, step in steps.items()}
    total = sum(v for k, v in figures.items() if k != "content hash alone")
    print(json.dumps({"records_per_page": n, "page_bytes": len(body), "us_per_record": figures,
                      "us_per_record_total": round(total, 1)}, indent=1))


def _window() -> Any:
    from shared.vendors.connector import Slice

    return Slice(since=0, until=2_000_000_000, config=ConnectionConfig(base_url="http://sandbox.invalid"))


if __name__ == "__main__":
    main()
