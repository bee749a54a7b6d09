"""A first import of one user's Pipedrive (N persons, default 50k) from the sandbox, on the
Firestore emulator through the engine, against the rate floor.

    python -m bench.pipedrive_import [--persons 50000]   (starts an emulator unless FIRESTORE_EMULATOR_HOST is set)

The floor is requests / the token's burst limit (20 per 2 s on the smallest plan): no
import of that many pages can be faster without exceeding the token's limit. Prints wall
time, requests, floor, ratio, 429s, documents written and the daily tokens spent.
"""

from __future__ import annotations

import argparse
import os
import time

from google.cloud import firestore

from devtools.sandboxes.kit.server import BackgroundWSGI
from devtools.sandboxes.pipedrive.app import Limits, PipedriveSandbox
from tests.e2e.pipedrive_world import small_pages, user_world

TOKEN = "pd-bench-token-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=50_000)
    args = parser.parse_args()
    emulator = None
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        from pathlib import Path

        from devtools.emulators import firestore_emulator
        from devtools.processes import free_port

        port = free_port()
        emulator = firestore_emulator(port, Path(".local/logs")).start()
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    app = PipedriveSandbox(Limits(burst=20, daily_tokens=10**9))
    app.add_account(TOKEN, persons=args.persons)
    db = firestore.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "tributary-bench"))
    connector = small_pages(500)
    with BackgroundWSGI(app) as served:
        world = user_world(db, connector, served.base_url, TOKEN, "uid-bench", f"pipedrive-{os.getpid():012x}")
        started = time.monotonic()
        run = world.sync("full")
        wall = time.monotonic() - started
    if emulator is not None:
        emulator.stop()
    requests = app.stats.requests[TOKEN]
    floor = requests / (connector.rate_limit.requests / connector.rate_limit.per_seconds)
    counts = run.counts
    print(f"persons            {args.persons}")
    print(f"status             {run.status}")
    print(f"wall               {wall:.1f} s")
    print(f"vendor requests    {requests}")
    print(f"rate floor         {floor:.1f} s  ({connector.rate_limit.requests}/{connector.rate_limit.per_seconds:g} s per token)")
    print(f"wall / floor       {wall / floor:.1f}")
    print(f"429s               {app.stats.refused[TOKEN]}")
    print(f"peak per window    {app.stats.peak_window[TOKEN]}")
    print(f"documents written  {counts.written}  (fetched {counts.fetched}, failed {counts.failed})")
    print(f"records per second {counts.fetched / wall:.0f}")


if __name__ == "__main__":
    main()
