"""Full sync of the sandbox Intercom on the local stack: wall time against the rate-limit floor.

    python -m bench.full_sync [--contacts 10000] [--conversations 20000] [--companies 2000]
                              [--rate-limit 1000] [--queue-share 1.0]

Vendor-bound: the sandbox allows --rate-limit requests a minute and the queue dispatches at
--queue-share of it (the connector's declared share when not given). Prints wall time,
vendor requests, the rate, the floor (requests / sandbox rate limit), their ratio (target at
full share: <= 1.05), 429s received, documents written and the peak memory of the function
process (the worker), which must not grow with the data set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.noop_runs import noop_runs
from bench.stack import bench_stack, load_average, timeline


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the emulator's java)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return round(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--admins", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--rate-limit", type=int, default=1_000, help="sandbox requests per minute")
    parser.add_argument("--queue-share", type=float, default=None,
                        help="the queue's share of the rate (default: the connector's declared queue_share)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the queue's max_concurrent_dispatches (default: the connector's declared max_concurrency)")
    parser.add_argument("--noop-runs", type=int, default=3, help="incremental runs with no change after the full sync")
    parser.add_argument("--json", action="store_true", help="one line of JSON (bench.table reads it)")
    args = parser.parse_args()
    print(json.dumps(full_sync(args), indent=None if args.json else 1))


def full_sync(args: argparse.Namespace) -> dict[str, Any]:
    size = {"contacts": args.contacts, "companies": args.companies, "admins": args.admins, "conversations": args.conversations}
    queue: dict[str, Any] = {}
    if args.queue_share is not None:
        queue["max_dispatches_per_second"] = round(args.rate_limit / 60 * args.queue_share, 3)
    if args.concurrency:
        queue["max_concurrent_dispatches"] = args.concurrency
    with bench_stack(size, rate_limit=args.rate_limit, **queue) as stack:
        share = args.queue_share if args.queue_share is not None else stack.connector("intercom").rate_limit.queue_share
        stack.connect()  # the connection exists before the clock starts: the run is timed, not its setup
        t0, started = time.monotonic(), time.time()
        run = stack.sync(timeout_s=3600)
        wall = time.monotonic() - t0
        with stack.sandbox() as s:
            stats = s.get("/_sandbox/stats").json()
        api_requests = sum(n for path, n in stats["requests_by_path"].items() if not path.startswith("/_sandbox"))
        rate_per_s = args.rate_limit / 60
        # the floor counts the requests the vendor served: a refused one (429) spent no budget
        floor = (api_requests - stats["rate_limited"]) / rate_per_s
        worker_pid = stack.processes["functions"].proc.pid  # type: ignore[union-attr]
        figures: dict[str, Any] = {
            "records": sum(size.values()),
            "status": run["status"],
            "queue_share": share,
            "concurrency": args.concurrency or stack.connector("intercom").rate_limit.max_concurrency,
            "rate_per_s": round(rate_per_s, 2),
            "wall_s": round(wall, 1),
            "vendor_requests": api_requests,
            "floor_s": round(floor, 1),
            "ratio": round(wall / floor, 3),
            "429s": stats["rate_limited"],
            "documents_written": run["counts"]["written"],
            "fetched": run["counts"]["fetched"],
            "fetched_by_stream": {name: v["counts"]["fetched"] for name, v in sorted(run["streams"].items())},
            "conversation_fetches_for_parts": stats["requests_by_path"].get("GET /conversations/<conversation_id>", 0),
            "peak_rss_functions_mb": round(peak_rss_mb(worker_pid), 1),
            "peak_rss_tasks_emulator_mb": round(peak_rss_mb(stack.processes["tasks"].proc.pid), 1),  # type: ignore[union-attr]
            "cpu_s": {
                "functions": cpu_s(worker_pid),
                "tasks_emulator": cpu_s(stack.processes["tasks"].proc.pid),  # type: ignore[union-attr]
                "sandbox": cpu_s(stack.processes[stack.sandbox_process("intercom")].proc.pid),  # type: ignore[union-attr]
            },
        }
        figures["timeline"] = timeline(stats, started, started + wall)
        if args.noop_runs:
            figures["noop_runs"] = noop_runs(stack, args.noop_runs)
        figures["load_average"] = load_average()
    return figures


if __name__ == "__main__":
    main()
