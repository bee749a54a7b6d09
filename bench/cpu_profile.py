"""Worker CPU per record: a full Intercom sync on the local stack, measured by the functions
process's CPU time (user + system, not wall: the machine is shared) divided by records fetched.

    python -m bench.cpu_profile [--contacts 10000] [--companies 1000] [--conversations 1000]
                                [--label before] [--no-profile] [--repeat 1]

Full imports into an empty store, each on a connection of its own:
1. unprofiled (`--repeat` times: the machine is shared, so the least is the figure): CPU
   seconds of the functions process during the run / records fetched;
2. profiled (unless --no-profile): the same with cProfile around every sync-worker request
   (devtools/functions_server.py, TRIBUTARY_PROFILE_FUNCTIONS), whose top entries by tottime
   and cumtime are printed and written with the figures to bench/results/cpu_profile-<label>.txt
   (the whole profile stays in .local/bench-logs/sync-worker-<label>.pstats).
The sandbox's rate limit is set high so the run is bound by CPU, not by the vendor's pacing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import time
from pathlib import Path
from typing import Any

from devtools.emulators import firestore_emulator
from devtools.functions_server import PROFILE_ENV, PROFILE_OUT_ENV
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from tests.conftest import PROJECT
from tests.e2e.sync_stack import SyncStack

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def threads_cpu_s(pid: int) -> dict[str, tuple[str, float]]:
    """thread id -> (its name, user + system CPU seconds) of the process's live threads."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            head, tail = (task / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue  # ended meanwhile
        fields = tail.split()
        found[task.name] = (head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick)
    return found


def split_by_thread(before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]],
                    total: float) -> dict[str, float]:
    """The run's CPU by thread: long-lived threads by name (gRPC's pollers, the server's main
    thread), and the rest: threads that ended during the run, one per request under the dev
    server (werkzeug's threaded mode), plus the enqueue pools."""
    kept: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        if tid in before:
            kept[name] = round(kept.get(name, 0.0) + cpu - before[tid][1], 2)
    return {**{f"long-lived: {k}": v for k, v in sorted(kept.items()) if v}, "request threads and pools": round(total - sum(kept.values()), 2)}


def wait_in_store(connection_id: str, run_id: str, timeout_s: float) -> None:
    """Wait for the run to end by reading its status in Firestore from this process, so the
    functions process spends nothing on the wait (polling sync-runs every 0.3 s made it sum
    every open chain's counts: with 1,000 child chains open that was seconds of its CPU)."""
    from google.cloud import firestore

    ref = firestore.Client(project=PROJECT).collection("connections").document(connection_id) \
        .collection("runs").document(run_id)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (ref.get(["status"]).to_dict() or {}).get("status") in ("succeeded", "partial", "failed"):
            return
        time.sleep(0.3)
    raise TimeoutError(f"run {run_id} did not finish in {timeout_s}s")


def measured_sync(stack: SyncStack) -> dict[str, Any]:
    """A full import on a new connection: CPU of the functions process per record fetched.

    The CPU counted is the functions process's (every thread: request threads, gRPC's, the
    enqueue pool) from just before sync-now until the run's status is final, so it is
    sync-now's planning plus every sync-worker task: nothing else calls the process meanwhile
    (no scheduler ticks; the wait reads the run in Firestore, not through sync-runs)."""
    stack.connection_id = ""
    stack.connect()
    pid = stack.processes["functions"].proc.pid  # type: ignore[union-attr]
    threads0, cpu0, t0 = threads_cpu_s(pid), process_cpu_s(pid), time.monotonic()
    run_id = stack.start_sync(mode="full")
    wait_in_store(stack.connection_id, run_id, timeout_s=3600)
    cpu, wall, threads = process_cpu_s(pid) - cpu0, time.monotonic() - t0, threads_cpu_s(pid)
    run = stack.run(run_id)
    fetched = run["counts"]["fetched"]
    return {
        "status": run["status"],
        "records_fetched": fetched,
        "written": run["counts"]["written"],
        "fetched_by_stream": {name: v["counts"]["fetched"] for name, v in sorted(run["streams"].items())},
        "wall_s": round(wall, 1),
        "functions_cpu_s": round(cpu, 2),
        "cpu_ms_per_record": round(cpu * 1000 / max(fetched, 1), 3),
        "functions_cpu_s_by_thread": split_by_thread(threads0, threads, cpu),
    }


def top(profile_path: str, key: str, n: int = 20) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile_path, stream=out)
    stats.sort_stats(key).print_stats(n)
    text = out.getvalue()
    # keep the table, not pstats' preamble of file names
    return text[text.find("   ncalls"):] if "   ncalls" in text else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=1_000)
    parser.add_argument("--admins", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--label", default="latest", help="the results file: bench/results/cpu_profile-<label>.txt")
    parser.add_argument("--no-profile", action="store_true", help="only the unprofiled CPU figure")
    parser.add_argument("--repeat", type=int, default=1, help="unprofiled imports; the least CPU is the figure")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures (bench.table)")
    args = parser.parse_args()

    log_dir = REPO / ".local" / "bench-logs"
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore = firestore_emulator(fs_port, log_dir).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    size = {"contacts": args.contacts, "companies": args.companies, "admins": args.admins,
            "conversations": args.conversations}
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", log_dir, size, sandbox_rate_limit=30_000)
    profile_path = str(log_dir / f"sync-worker-{args.label}.pstats")  # kept: python -m pstats <file>
    try:
        stack.start()
        runs = [measured_sync(stack) for _ in range(max(1, args.repeat))]
        figures: dict[str, Any] = {"size": size, "unprofiled": min(runs, key=lambda r: r["cpu_ms_per_record"])}
        if len(runs) > 1:
            figures["unprofiled_cpu_ms_per_record_each"] = [r["cpu_ms_per_record"] for r in runs]
        print(json.dumps(figures, indent=1), flush=True)
        report = [f"# bench.cpu_profile --label {args.label}", "", json.dumps(figures, indent=1)]
        if not args.no_profile:
            stack.processes["functions"].stop()
            stack.env = {**stack.env, PROFILE_ENV: "sync-worker", PROFILE_OUT_ENV: profile_path}
            stack.start_functions()
            figures["profiled"] = measured_sync(stack)
            stack.processes["functions"].stop()  # SIGTERM: the profile is written in full
            for key in ("tottime", "cumulative"):
                table = top(profile_path, key)
                print(f"\n== sync-worker, top 20 by {key} ==\n{table}")
                report += ["", f"## sync-worker (profiled run: {json.dumps(figures['profiled'])}), top 20 by {key}", "", table]
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"cpu_profile-{args.label}.txt").write_text("\n".join(report) + "\n")
        if args.json:
            print(json.dumps({"cpu_ms_per_record": figures["unprofiled"]["cpu_ms_per_record"], **figures}), flush=True)
    finally:
        stack.stop()
        firestore.stop()
        identity.stop()


if __name__ == "__main__":
    main()
