"""A first import of one user's Pipedrive (N persons, default 50k) THROUGH THE STACK: the
registered sandbox, the Cloud Tasks emulator, functions-framework (sync-now, sync-worker) and
the Firestore emulator, against the rate floor.

    python -m bench.pipedrive_import [--persons 50000]

The floor is requests / the token's burst limit (20 per 2 s on the Essential plan): no
import of that many pages can be faster without exceeding the token's limit. Prints wall
time, requests, floor, ratio, 429s (the sandbox's per-token counters), documents written
and the daily tokens spent.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import httpx

from devtools.emulators import firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from tests.conftest import PROJECT
from tests.e2e.sync_stack import SyncStack

REPO = Path(__file__).resolve().parent.parent
VENDOR = "pipedrive"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=50_000)
    args = parser.parse_args()
    log_dir = REPO / ".local" / "bench-logs"
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore = firestore_emulator(fs_port, log_dir).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    size = {"persons": args.persons, "contacts": 20, "companies": 5, "admins": 2, "conversations": 20,
            "issues": 30, "accounts": 5, "leads": 7}
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", log_dir, size)
    try:
        stack.start()
        stack.create_queue(VENDOR, min_backoff_seconds=2.0, max_backoff_seconds=300.0)
        sandbox = stack.sandboxes[VENDOR]
        token = identity.identity.id_token("bench@example.com", role="member")
        with httpx.Client(base_url=stack.functions_url, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as api:
            made = api.post("/connections", json=sandbox.connection(stack.sandbox_urls[VENDOR], sandbox.token))
            made.raise_for_status()
            connection_id = made.json()["id"]
            started = time.monotonic()
            run_id = api.post("/sync-now", json={"connection_id": connection_id, "mode": "full"}).json()["run_id"]
            while True:
                run = api.get(f"/sync-runs/{run_id}", params={"connection_id": connection_id}).json()
                if run["status"] in ("succeeded", "partial", "failed"):
                    break
                time.sleep(1.0)
            wall = time.monotonic() - started
        with stack.sandbox(VENDOR) as s:
            used = s.get("/_sandbox/usage").json()
        requests = used["requests"].get(sandbox.token, 0)
        limit = stack.connector(VENDOR).rate_limit
        floor = requests / limit.per_second
        print(json.dumps({
            "persons": args.persons,
            "status": run["status"],
            "wall_s": round(wall, 1),
            "vendor_requests": requests,
            "floor_s": round(floor, 1),
            "rate": f"{limit.requests} per {limit.per_seconds:g} s per token",
            "ratio": round(wall / floor, 2),
            "429s": used["refused"].get(sandbox.token, 0),
            "peak_per_window": used["peak_window"].get(sandbox.token, 0),
            "daily_tokens_spent": used["spent"].get(sandbox.token, 0),
            "documents_written": run["counts"]["written"],
            "fetched": run["counts"]["fetched"],
            "records_per_s": round(run["counts"]["fetched"] / wall),
        }, indent=1))
    finally:
        stack.stop()
        firestore.stop()
        identity.stop()


if __name__ == "__main__":
    main()
