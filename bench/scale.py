"""Does the worker's memory stay flat as the data grows? Full imports of the sandbox
Intercom's contacts at several sizes, each on a fresh functions process (so its peak RSS,
VmHWM, is that run's), then the reads a dashboard's records calls cost at that size.

    python -m bench.scale [--sizes 10000,100000,1000000] [--json] [--emulator-keep 150000]

Prints per size: records, wall, the functions process's CPU and peak RSS (and its ratio to
the smallest size's), and the document reads (counted at the RPC boundary,
tests/e2e/read_counter.py) of a records list page, its unchanged poll (304) and one record.

The Firestore emulator keeps every document on its JVM heap, about 17 KB a contact (record,
raw payload, automatic indexes): 1,000,000 contacts need ~17 GB, more than a shared machine
has. `--emulator-keep N` deletes, behind the sync and from this process (not the worker's),
the contacts each creation window has saved so far (read from its newest page checkpoint;
deleted by id, known from the same deterministic data set the sandbox generated, with no
query over the records), all but the newest N, so a 1M import runs against a real emulator
that holds about N plus the pages in flight; the reads are then counted over those.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

from devtools.emulators import firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from devtools.sandboxes.intercom.config import DataConfig
from devtools.sandboxes.intercom.datagen import generate
from devtools.sandboxes.kit.paging import decode_cursor
from tests.conftest import PROJECT
from tests.e2e.read_counter import count_reads
from tests.e2e.sync_stack import SyncStack

REPO = Path(__file__).resolve().parent.parent
DAY = 86_400
SMALL = {"companies": 10, "admins": 5, "conversations": 10}


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def process_cpu_s(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def dashboard_reads(stack: SyncStack, connection_id: str) -> dict[str, int]:
    """Reads of the records calls a dashboard makes, in this process on a counted client."""
    from flask import Flask, request
    from google.cloud import firestore

    from devtools.functions_catalog import load_endpoints
    from shared.store import client as store_client

    client = firestore.Client(project=PROJECT)
    counter = count_reads(client)
    original = store_client.firestore_client
    store_client.firestore_client = lambda project: client  # type: ignore[assignment]
    token = stack.identity.identity.id_token("member@example.com", role="member")
    app = Flask("scale-reads")
    endpoints = load_endpoints()

    def call(path: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[Any, int]:
        counter.reset()
        with app.test_request_context(path=path, query_string=params,
                                      headers={"Authorization": f"Bearer {token}", **(headers or {})}):
            response = endpoints["records"].dispatch(request)
        return response, counter.reads

    try:
        first, list_reads = call(f"/{connection_id}/contacts", {"limit": 50, "sort": "updated_at"})
        assert first.status_code == 200, first.get_data(as_text=True)
        polled, poll_reads = call(f"/{connection_id}/contacts", {"limit": 50, "sort": "updated_at"},
                                  {"If-None-Match": first.headers["ETag"]})
        one_id = first.get_json()["items"][0]["id"]
        _, one_reads = call(f"/{connection_id}/contacts/{one_id}", {})
        return {"list_50": list_reads, "unchanged_poll": poll_reads, "poll_status": polled.status_code,
                "one_record": one_reads}
    finally:
        store_client.firestore_client = original  # type: ignore[assignment]


def contacts_by_creation(size: int) -> tuple[list[int], list[str]]:
    """created_at and id of the sandbox's contacts at `size`, ascending (the data set the
    stack resets it to: generation is deterministic)."""
    data = generate(DataConfig(contacts=size, **SMALL))
    return [c.created_at for c in data.contacts], [c.id for c in data.contacts]


def _written_upto(cursor: dict[str, Any] | None, keys: list[tuple[int, str]]) -> int | None:
    """How many of the sandbox's contacts (in (created_at, id) order) sort at or before the
    last record of a page whose checkpoint holds `cursor` (the sandbox's keyset cursor names
    that record's sort key); None when there is no next page."""
    if not cursor or not cursor.get("after"):
        return None
    key, _ = decode_cursor(str(cursor["after"]))
    return bisect_right(keys, (int(key[1]), str(key[2])))


def prune_behind(stop: threading.Event, connection_id: str, run_id: str, contacts: tuple[list[int], list[str]],
                 keep: int, pruned: list[int]) -> None:
    """Until `stop`: every few seconds, delete (by id, 500 a batch, no query over the records)
    the stored contacts each creation window has already saved, all but the newest `keep`
    (see the module doc). Windows advance side by side, so progress is read per window from
    its newest page checkpoint (the cursor past its last saved record)."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud import firestore

    created, ids = contacts
    keys = list(zip(created, ids, strict=True))
    limit = len(ids) - keep
    client = firestore.Client(project=PROJECT)
    connection = client.collection("connections").document(connection_id)
    records = connection.collection("contacts")
    chains = connection.collection("runs").document(run_id).collection("chains")
    done_upto: dict[str, int] = {}  # chain id -> position pruned up to
    while not stop.wait(5):
        try:
            _prune_saved(client, records, chains, done_upto, keys, created, ids, limit, pruned)
        # A loaded emulator times a call out now and then: try again next round.
        except GoogleAPICallError as exc:
            print(f"pruner: {type(exc).__name__}: {exc}; retrying", flush=True)


def _prune_saved(client: Any, records: Any, chains: Any, done_upto: dict[str, int], keys: list[tuple[int, str]],
                 created: list[int], ids: list[str], limit: int, pruned: list[int]) -> None:
    """One round of prune_behind: each window's saved contacts since the last round.

    No streamed query: an emulator holding a few hundred thousand documents times them out,
    and google-cloud-firestore's Query.stream then raises AttributeError in place of the
    error (it looks for a retry policy its gRPC transport does not have). The chains are
    listed by ListDocuments (paged, not streamed) and each window's newest page is read by
    its path (pages are keyed by index; `committed` counts them)."""
    fields = ["stream", "since", "until", "split", "window", "done", "committed"]
    refs = list(chains.list_documents(page_size=300))
    windows = [snap for snap in client.get_all(refs, field_paths=fields, timeout=120)
               if snap.exists and (snap.to_dict() or {}).get("stream") == "contacts"]
    committed = {chain.id: int((chain.to_dict() or {}).get("committed") or 0) for chain in windows}
    newest_refs = [chain.reference.collection("pages").document(f"{committed[chain.id] - 1:07d}")
                   for chain in windows if not (chain.to_dict() or {}).get("done") and committed[chain.id] > 0]
    newest = {snap.reference.parent.parent.id: snap
              for snap in client.get_all(newest_refs, field_paths=["next_cursor"], timeout=120) if snap.exists}
    for chain in windows:
        doc = chain.to_dict() or {}
        if doc.get("split") or not doc.get("window"):
            continue
        lo = done_upto.get(chain.id, bisect_left(created, int(doc.get("since") or 0)))
        if doc.get("done"):
            until = -(-int(doc["until"]) // DAY) * DAY if doc.get("until") else created[-1] + 1  # whole days
            hi: int | None = bisect_left(created, until)
        else:
            page = newest.get(chain.id)
            hi = _written_upto((page.to_dict() or {}).get("next_cursor"), keys) if page is not None else None
        hi = min(hi or lo, limit)
        for start in range(lo, hi, 500):
            batch = client.batch()
            for doc_id in ids[start:min(hi, start + 500)]:
                batch.delete(records.document(doc_id))
            batch.commit(timeout=60)
            pruned.append(min(hi, start + 500) - start)
        done_upto[chain.id] = max(lo, hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="contacts per run, comma-separated")
    parser.add_argument("--json", action="store_true", help="end with one JSON line: largest / smallest (bench.table)")
    parser.add_argument("--emulator-keep", type=int, default=0,
                        help="delete stored contacts beyond this many during a run (0: keep all)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    log_dir = REPO / ".local" / "bench-logs"
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore_proc = firestore_emulator(fs_port, log_dir).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", log_dir, {"contacts": sizes[0], **SMALL},
                      sandbox_rate_limit=30_000)
    os.environ.update({k: v for k, v in stack.env.items() if k not in os.environ})  # settings for the records endpoint
    rows: list[dict[str, Any]] = []
    try:
        stack.start()
        for size in sizes:
            stack.sandbox_size = {"contacts": size, **SMALL}
            stack.reset_sandbox()
            stack.processes["functions"].stop()
            stack.start_functions()  # a fresh process: its VmHWM is this run's
            pid = stack.processes["functions"].proc.pid  # type: ignore[union-attr]
            stack.connection_id = ""
            connection_id = stack.connect()
            rss_idle = status_kb(pid, "VmHWM")
            prune = 0 < args.emulator_keep < size
            by_creation = contacts_by_creation(size) if prune else ([], [])
            cpu0, t0 = process_cpu_s(pid), time.monotonic()
            run_id = stack.start_sync(mode="full")
            stop, pruned = threading.Event(), list[int]()
            pruner = threading.Thread(target=prune_behind, daemon=True,
                                      args=(stop, connection_id, run_id, by_creation, args.emulator_keep, pruned))
            if prune:
                pruner.start()
            try:
                run = stack.wait(run_id, timeout_s=6 * 3600)
            finally:
                stop.set()
                if prune:
                    pruner.join(timeout=120)
            row = {
                "contacts": size,
                "status": run["status"],
                "records_fetched": run["counts"]["fetched"],
                "wall_s": round(time.monotonic() - t0, 1),
                "functions_cpu_s": round(process_cpu_s(pid) - cpu0, 1),
                "functions_rss_at_start_mb": round(rss_idle / 1024, 1),
                "functions_peak_rss_mb": round(status_kb(pid, "VmHWM") / 1024, 1),
                "reads": dashboard_reads(stack, connection_id),
                "emulator_pruned": sum(pruned),
                "load_average": os.getloadavg()[0],
            }
            row["peak_rss_x_smallest"] = round(row["functions_peak_rss_mb"] / (rows[0] if rows else row)["functions_peak_rss_mb"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        stack.stop()
        firestore_proc.stop()
        identity.stop()
    print(f"{'contacts':>10} {'fetched':>9} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>12} {'x smallest':>10}  "
          "reads: list 50 / 304 poll / one record")
    for r in rows:
        print(f"{r['contacts']:>10} {r['records_fetched']:>9} {r['wall_s']:>7} {r['functions_cpu_s']:>6} "
              f"{r['functions_peak_rss_mb']:>12} {r['peak_rss_x_smallest']:>10}  "
              f"{r['reads']['list_50']} / {r['reads']['unchanged_poll']} / {r['reads']['one_record']}")
    if args.json and rows:
        print(json.dumps({"rss_ratio": rows[-1]["peak_rss_x_smallest"], "rss_10k_mb": rows[0]["functions_peak_rss_mb"],
                          "rss_1m_mb": rows[-1]["functions_peak_rss_mb"], "sizes": sizes, "rows": rows}), flush=True)


if __name__ == "__main__":
    main()
