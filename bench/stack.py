"""The local stack the sync benchmarks run on: local identity, the Firestore emulator, and
tests.e2e.sync_stack's Tasks emulator, functions server and sandboxes (logs in
.local/bench-logs)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devtools.emulators import firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from tests.conftest import PROJECT
from tests.e2e.sync_stack import SyncStack

REPO = Path(__file__).resolve().parent.parent
LOG_DIR = REPO / ".local" / "bench-logs"


def timeline(stats: dict[str, Any], started: float, ended: float, bucket_s: int = 5) -> dict[str, Any]:
    """The vendor's view of a run from a sandbox's /_sandbox/stats: requests answered per
    `bucket_s` seconds from Sync Now (`started`, unix time), the idle start (Sync Now to the
    first request), the tail (the last request to the run's end) and every 429 with its route
    and second: where a run falls short of its floor, and which endpoint was refused."""
    seconds = {int(k): v for k, v in stats.get("requests_per_second", {}).items() if started - 1 <= int(k) <= ended + 1}
    if not seconds:
        return {}
    first, last = min(seconds), max(seconds)
    buckets = [0] * (int((ended - started) // bucket_s) + 1)
    for second, n in seconds.items():
        buckets[max(0, min(len(buckets) - 1, int((second - started) // bucket_s)))] += n
    windows: dict[int, int] = {}
    for second, n in seconds.items():
        windows[second // 10] = windows.get(second // 10, 0) + n
    return {
        f"requests_per_{bucket_s}s": buckets,
        # fixed windows on wall-clock multiples of 10 s, as the sandboxes (and Intercom) count them
        "busiest_10s_window": max(windows.values()),
        "idle_start_s": round(max(0.0, first - started), 1),
        "tail_s": round(max(0.0, ended - (last + 1)), 1),
        "refused": [{**r, "second": round(r["second"] - started, 1)} for r in stats.get("refused", [])],
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: say how busy it was)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def bench_stack(size: dict[str, int], rate_limit: int, extra_env: dict[str, str] | None = None,
                **queue: Any) -> Iterator[SyncStack]:
    """A started stack whose sandboxes allow `rate_limit` requests a minute, with every
    vendor's queue at that rate (`queue` overrides its settings: max_concurrent_dispatches...)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the identity server's access log
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore = firestore_emulator(fs_port, LOG_DIR).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", PROJECT)
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", LOG_DIR, size, sandbox_rate_limit=rate_limit,
                      extra_env=extra_env or {})
    try:
        stack.start()
        stack.create_queue(**{"min_backoff_seconds": 2.0, "max_backoff_seconds": 300.0, **queue})
        yield stack
    finally:
        stack.stop()
        firestore.stop()
        identity.stop()
