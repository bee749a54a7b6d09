"""Does the worker's memory stay flat as the data grows? Full imports of the sandbox
Intercom's contacts at several sizes, each on a fresh functions process (so its peak RSS,
VmHWM, is that run's), then the reads a dashboard's records calls cost at that size.

    python -m bench.scale [--sizes 10000,100000,1000000] [--json]

Prints per size: records, wall, the functions process's CPU and peak RSS (and its ratio to
the smallest size's), and the document reads (counted at the RPC boundary,
tests/e2e/read_counter.py) of a records list page, its unchanged poll (304) and one record.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from devtools.emulators import firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from tests.conftest import PROJECT
from tests.e2e.read_counter import count_reads
from tests.e2e.sync_stack import SyncStack

REPO = Path(__file__).resolve().parent.parent


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="contacts per run, comma-separated")
    parser.add_argument("--json", action="store_true", help="end with one JSON line: largest / smallest (bench.table)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    log_dir = REPO / ".local" / "bench-logs"
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore_proc = firestore_emulator(fs_port, log_dir).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    small = {"companies": 10, "admins": 5, "conversations": 10}
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", log_dir, {"contacts": sizes[0], **small},
                      sandbox_rate_limit=30_000)
    os.environ.update({k: v for k, v in stack.env.items() if k not in os.environ})  # settings for the records endpoint
    rows: list[dict[str, Any]] = []
    try:
        stack.start()
        for size in sizes:
            stack.sandbox_size = {"contacts": size, **small}
            stack.reset_sandbox()
            stack.processes["functions"].stop()
            stack.start_functions()  # a fresh process: its VmHWM is this run's
            pid = stack.processes["functions"].proc.pid  # type: ignore[union-attr]
            stack.connection_id = ""
            connection_id = stack.connect()
            rss_idle = status_kb(pid, "VmHWM")
            cpu0, t0 = process_cpu_s(pid), time.monotonic()
            run = stack.sync(mode="full", timeout_s=6 * 3600)
            row = {
                "contacts": size,
                "status": run["status"],
                "records_fetched": run["counts"]["fetched"],
                "wall_s": round(time.monotonic() - t0, 1),
                "functions_cpu_s": round(process_cpu_s(pid) - cpu0, 1),
                "functions_rss_at_start_mb": round(rss_idle / 1024, 1),
                "functions_peak_rss_mb": round(status_kb(pid, "VmHWM") / 1024, 1),
                "reads": dashboard_reads(stack, connection_id),
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
