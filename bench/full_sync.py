"""Full sync of the sandbox Intercom on the local stack: wall time against the rate-limit floor.

    python -m bench.full_sync [--contacts 10000] [--conversations 20000] [--companies 2000]

Prints wall time, vendor requests, the floor (requests / sandbox rate limit), their ratio,
429s received, documents written and the peak memory of the function process (the
worker), which must not grow with the data set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from devtools.emulators import firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from tests.conftest import PROJECT
from tests.e2e.sync_stack import SyncStack

REPO = Path(__file__).resolve().parent.parent


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
    parser.add_argument("--noop-runs", type=int, default=3, help="incremental runs with no change after the full sync")
    args = parser.parse_args()

    log_dir = REPO / ".local" / "bench-logs"
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore = firestore_emulator(fs_port, log_dir).start()
    size = {"contacts": args.contacts, "companies": args.companies, "admins": args.admins, "conversations": args.conversations}
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", log_dir, size, sandbox_rate_limit=args.rate_limit)
    import os

    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    try:
        stack.start()
        stack.create_queue(min_backoff_seconds=2.0, max_backoff_seconds=300.0)
        t0 = time.monotonic()
        run = stack.sync(timeout_s=3600)
        wall = time.monotonic() - t0
        with stack.sandbox() as s:
            stats = s.get("/_sandbox/stats").json()
        api_requests = sum(n for path, n in stats["requests_by_path"].items() if not path.startswith("/_sandbox"))
        rate_per_s = args.rate_limit / 60
        floor = api_requests / rate_per_s
        worker_pid = stack.processes["functions"].proc.pid  # type: ignore[union-attr]
        figures = {
            "records": sum(size.values()),
            "status": run["status"],
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
                "firestore_emulator": cpu_s(firestore.proc.pid),  # type: ignore[union-attr]
                "tasks_emulator": cpu_s(stack.processes["tasks"].proc.pid),  # type: ignore[union-attr]
                "sandbox": cpu_s(stack.processes[stack.sandbox_process("intercom")].proc.pid),  # type: ignore[union-attr]
            },
        }
        noop = []
        for _ in range(args.noop_runs):
            with stack.sandbox() as s:
                before = s.get("/_sandbox/stats").json()["requests"]
            t1 = time.monotonic()
            again = stack.sync(timeout_s=600)
            with stack.sandbox() as s:
                after = s.get("/_sandbox/stats").json()["requests"]
            parts = (again["streams"].get("conversation_parts") or {}).get("counts") or {}
            noop.append({"wall_s": round(time.monotonic() - t1, 2), "vendor_requests": after - before,
                         "written": again["counts"]["written"], "parts_fetched": parts.get("fetched", 0),
                         "status": again["status"]})
        figures["noop_runs"] = noop
        print(json.dumps(figures, indent=1))
    finally:
        stack.stop()
        firestore.stop()
        identity.stop()


if __name__ == "__main__":
    main()
