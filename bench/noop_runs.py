"""No-op incremental runs on the local stack: is there a tail?

    python -m bench.noop_runs [--runs 10] [--contacts 1000] [--conversations 1000] [--companies 200]

A full sync of the sandbox Intercom first, then `--runs` incremental runs in a row with
nothing changed. Per run: wall time (sync-now to the run seen finished, polled every 50 ms),
the run's own duration (created to finished, as the engine records it), vendor requests,
documents written, worker retries (sync-worker answers that were not 2xx: contention,
vendor trouble) and its slowest chain. Then the median, the max and their ratio (the
target: max <= 1.5 x median). `--json` prints the figures as one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

from bench.stack import bench_stack, load_average
from tests.e2e.sync_stack import SyncStack

_WORKER_ANSWER = re.compile(r'"POST [^"]*/sync-worker HTTP/1\.1" (\d{3})')


def worker_retries(log: Path, since: int) -> tuple[int, int]:
    """(sync-worker answers that were not 2xx after byte `since` of the functions log, new end)."""
    with log.open("rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    return sum(1 for s in _WORKER_ANSWER.findall(text) if not s.startswith("2")), since + len(text.encode())


def wait_fast(stack: SyncStack, run_id: str, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = stack.run(run_id)
        if run["status"] in ("succeeded", "partial", "failed"):
            return run
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s")


def slowest_chain(connection_id: str, run_id: str) -> tuple[str, float]:
    """The chain that closed last, and when (seconds after the run was created)."""
    from google.cloud import firestore

    from shared.sync import state

    db = firestore.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "tributary-test"))
    created = (state.run_ref(db, connection_id, run_id).get().to_dict() or {})["created_at"]
    last = ("", 0.0)
    for snap in state.run_ref(db, connection_id, run_id).collection("chains").stream():
        at = (snap.to_dict() or {}).get("updated_at")
        if at is not None and (at - created).total_seconds() > last[1]:
            last = (snap.id, round((at - created).total_seconds(), 2))
    return last


def noop_runs(stack: SyncStack, runs: int) -> dict[str, Any]:
    """`runs` incremental runs in a row on a stack whose data is already synced."""
    log = stack.log_dir / "sync-functions.log"
    offset = log.stat().st_size
    rows = []
    for _ in range(runs):
        with stack.sandbox() as s:
            before = s.get("/_sandbox/stats").json()["requests"]
        t0 = time.monotonic()
        run = wait_fast(stack, stack.start_sync())
        wall = time.monotonic() - t0
        with stack.sandbox() as s:
            after = s.get("/_sandbox/stats").json()["requests"]
        retries, offset = worker_retries(log, offset)
        chain, at = slowest_chain(stack.connection_id, run["run_id"])
        rows.append({"wall_s": round(wall, 2), "run_s": run.get("duration_s"), "vendor_requests": after - before,
                     "written": run["counts"]["written"], "worker_retries": retries, "status": run["status"],
                     "last_chain": chain, "last_chain_at_s": at})
    walls = [r["wall_s"] for r in rows]
    median = statistics.median(walls)
    return {"runs": rows, "median_s": round(median, 2), "max_s": max(walls),
            "ratio": round(max(walls) / median, 2) if median else None, "target_ratio": 1.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--admins", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size = {"contacts": args.contacts, "companies": args.companies, "admins": args.admins,
            "conversations": args.conversations}
    with bench_stack(size, rate_limit=24_000) as stack:
        full = stack.sync(timeout_s=1800)
        figures = {"full_sync": {"status": full["status"], "written": full["counts"]["written"]},
                   **noop_runs(stack, args.runs), "load_average": load_average()}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"no-op incremental runs after a full sync of {sum(size.values())} records "
          f"({figures['full_sync']['written']} documents); load average {figures['load_average']}")
    print(f"  {'run':>3} {'wall s':>7} {'run s':>7} {'requests':>8} {'written':>7} {'retries':>7}  last chain")
    for n, r in enumerate(figures["runs"], 1):
        print(f"  {n:>3} {r['wall_s']:>7.2f} {r['run_s'] or 0:>7.2f} {r['vendor_requests']:>8} {r['written']:>7} "
              f"{r['worker_retries']:>7}  {r['last_chain']} at {r['last_chain_at_s']} s")
    verdict = "pass" if figures["ratio"] is not None and figures["ratio"] <= 1.5 else "FAIL"
    print(f"  median {figures['median_s']} s, max {figures['max_s']} s, max/median {figures['ratio']} "
          f"(target <= 1.5: {verdict})")


if __name__ == "__main__":
    main()
