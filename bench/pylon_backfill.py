"""Pylon backfill against the rate-limit floor, and a no-change daily run.

    python -m bench.pylon_backfill [--issues 3000] [--accounts 200] [--scale 60]

The sandbox Pylon (two years of issues; its default size) is served in-process; the engine
runs its tasks one after another on the real Firestore emulator, booking Pylon's
per-endpoint budgets in the store. At Pylon's real limits the default backfill's floor is
over two hours (3,000 issues, one messages request each at 20 a minute), so `--scale` is a
time-scale factor: every endpoint budget is multiplied by it on both sides (the connector's
declared limits and the sandbox's enforced windows), which is the same as running the
rate-limit clock `scale` times faster. The floor is computed from the scaled budgets, so
wall / floor is honest; the figures at Pylon's real limits are the floor times `scale`.

The floor is what the budgets allow at best: for each endpoint, its requests / its rate;
endpoints are budgeted separately, so with parallel workers the floor is the largest of
them, and with this bench's single worker it is their sum.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from devtools.emulators import firestore_emulator
from devtools.processes import free_port
from devtools.sandboxes.pylon.records import Sizes, counts
from tests.conftest import PROJECT
from tests.e2e.pylon_world import pylon_world


def endpoint_of(method: str, path: str) -> str:
    if path.endswith("/messages"):
        return "GET /issues/{id}/messages"
    return f"{method} {path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=3000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--scale", type=float, default=60.0)
    args = parser.parse_args()
    port = free_port()
    emulator = firestore_emulator(port, Path(tempfile.mkdtemp())).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    try:
        from google.cloud import firestore

        db = firestore.Client(project=PROJECT)
        w = pylon_world(db, Sizes(issues=args.issues, accounts=args.accounts), factor=args.scale)
        t0 = time.monotonic()
        run = w.sync()
        wall = time.monotonic() - t0
        by_endpoint = Counter(endpoint_of(r.method, r.url.path) for r in w.requests)
        # the floor at Pylon's stated budgets (the connector books a share of them)
        rates = {f"{e.method} {e.prefix}".replace("GET /issues/", "GET /issues/{id}/messages"): e.requests / 60
                 for e in w.connector.rate_limit.endpoints}
        floors = {k: n / rates[k] for k, n in by_endpoint.items() if k in rates}
        print(f"backfill: {args.issues} issues over 2 years, {args.accounts} accounts, limits x{args.scale:g}")
        print(f"  status {run.status.value}; wall {wall:.1f} s; requests {sum(by_endpoint.values())}; "
              f"429s {w.sandbox.stats.snapshot()['rate_limited'] + sum(w.sandbox.store.limits.refused.values())}")
        for name, n in sorted(by_endpoint.items()):
            print(f"    {name:32s} {n:6d} requests  floor {floors.get(name, 0):8.1f} s")
        print(f"  floor (parallel, max) {max(floors.values()):.1f} s; floor (one worker, sum) {sum(floors.values()):.1f} s;"
              f" wall / sum-floor {wall / sum(floors.values()):.2f}")
        print(f"  at Pylon's real limits: floor {max(floors.values()) * args.scale / 60:.1f} min (parallel), "
              f"{sum(floors.values()) * args.scale / 60:.1f} min (one worker)")
        print(f"  written {run.counts.written}, fetched {run.counts.fetched}")
        expected = counts(w.sandbox.store)
        stored = {name: len(w.docs(name)) for name in expected}
        print(f"  sandbox {expected}")
        print(f"  stored  {stored}  -> {'every record stored once' if stored == expected else 'MISMATCH'}"
              f"; documents written {run.counts.written} for {sum(expected.values())} records")
        w.requests.clear()
        refused = w.sandbox.stats.snapshot()["rate_limited"] + sum(w.sandbox.store.limits.refused.values())
        t0 = time.monotonic()
        daily = w.sync()
        print(f"no-change daily run: status {daily.status.value}; wall {time.monotonic() - t0:.1f} s; "
              f"requests {len(w.requests)} ({', '.join(sorted({endpoint_of(r.method, r.url.path) for r in w.requests}))}); "
              f"writes {daily.counts.written}; 429s {w.sandbox.stats.snapshot()['rate_limited'] + sum(w.sandbox.store.limits.refused.values()) - refused}")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
