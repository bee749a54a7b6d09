"""A full import of one large stream as parallel partitions: wall time per worker count.

    python -m bench.parallel [--contacts 6000] [--concurrency 1 2 4]

CPU-bound configuration: the sandbox Intercom allows 24,000 requests a minute, so the
vendor is never the limit. Intercom's contacts import is cut into 30-day windows of
creation time (chains of their own); for each setting the queue's max_concurrent_dispatches
is set to it and a new connection (selection: contacts only) imports every contact from an
empty store. Prints wall time, requests, documents written and the speed-up against the
first setting. `--json` prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench.stack import bench_stack, load_average
from tests.e2e.sync_stack import SyncStack

RATE_PER_MINUTE = 24_000


def import_with(stack: SyncStack, concurrency: int) -> dict[str, Any]:
    stack.create_queue("intercom", min_backoff_seconds=2.0, max_backoff_seconds=300.0,
                       max_concurrent_dispatches=concurrency)
    connection_id = stack.connect(name=f"parallel {concurrency}")
    with stack.api() as api:
        response = api.patch(f"/connections/{connection_id}", json={"selection": {"streams": ["contacts"]}})
        assert response.status_code == 200, response.text
    with stack.sandbox() as s:
        before = s.get("/_sandbox/stats").json()["requests"]
    t0 = time.monotonic()
    run = _wait(stack, connection_id)
    wall = time.monotonic() - t0
    with stack.sandbox() as s:
        after = s.get("/_sandbox/stats").json()["requests"]
    contacts = run["streams"]["contacts"]
    return {"concurrency": concurrency, "wall_s": round(wall, 1), "status": run["status"],
            "partitions": contacts["chains_total"], "requests": after - before, "written": run["counts"]["written"]}


def _wait(stack: SyncStack, connection_id: str) -> dict[str, Any]:
    run_id = stack.start_sync(connection_id=connection_id)
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        run = stack.run(run_id, connection_id)
        if run["status"] in ("succeeded", "partial", "failed"):
            return run
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id} did not finish")


def parallel(contacts: int, settings: list[int]) -> dict[str, Any]:
    size = {"contacts": contacts, "companies": 10, "admins": 5, "conversations": 0}
    with bench_stack(size, rate_limit=RATE_PER_MINUTE) as stack:
        rows = [import_with(stack, n) for n in settings]
    base = rows[0]["wall_s"]
    for row in rows:
        row["speedup"] = round(base / row["wall_s"], 2) if row["wall_s"] else None
    return {"contacts": contacts, "rate_per_minute": RATE_PER_MINUTE, "settings": rows, "load_average": load_average()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = parallel(args.contacts, args.concurrency)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"full import of {args.contacts} Intercom contacts, sandbox at {RATE_PER_MINUTE}/min (CPU-bound); "
          f"load average {figures['load_average']}")
    print(f"  {'dispatches':>10} {'wall s':>7} {'speed-up':>8} {'partitions':>10} {'requests':>8} {'written':>7}")
    for r in figures["settings"]:
        print(f"  {r['concurrency']:>10} {r['wall_s']:>7.1f} {r['speedup']:>8} {r['partitions']:>10} "
              f"{r['requests']:>8} {r['written']:>7}")


if __name__ == "__main__":
    main()
