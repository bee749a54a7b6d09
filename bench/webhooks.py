"""Load test of the webhooks path on loopback: signed Intercom notifications pushed at the
webhooks function, none may be lost.

    python -m bench.webhooks [--count 10000] [--records 2000] [--concurrency 16] [--timeout 900]

Starts the local stack (Firestore emulator, identity, Cloud Tasks emulator, every function
under functions-framework, a small sandbox Intercom for the connection), all on 127.0.0.1.
The kit's signed sender (devtools/sandboxes/kit/webhooks.py) pushes `count` contact.user.updated
notifications for `records` contacts, several versions each and shuffled, so older versions
arrive after newer ones. Then it waits until webhook-worker has processed every delivery.

Prints: acknowledgement throughput and latency (p50, p95, p99, max), vendor-side retries,
processing throughput, and `lost`: notifications not acknowledged, not remembered, not
processed, or whose record does not end at its newest version. Lost must be 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from devtools.emulators import firestore_emulator
from devtools.identity import IdentityServer, LocalIdentity
from devtools.processes import free_port
from devtools.sandboxes.intercom import webhooks as intercom_webhooks
from devtools.sandboxes.kit.webhooks import Notification, WebhookSender
from shared.webhooks.queues import queue_name
from tests.conftest import PROJECT, REGION
from tests.e2e.sync_stack import SyncStack
from tests.e2e.webhook_stack import CLIENT_SECRET, create_webhook_queue, set_secret, webhook_url

REPO = Path(__file__).resolve().parent.parent
MAX_COUNT = 20_000
EPOCH = 1_767_225_600


def contact(i: int, version: int) -> dict[str, Any]:
    return {"type": "contact", "id": f"bench{i:06d}", "role": "user", "external_id": f"ext-{i}",
            "email": f"person{i}@example.com", "name": f"Person {i} v{version}", "created_at": EPOCH - 86_400,
            "updated_at": EPOCH + version * 60, "custom_attributes": {"version": version},
            "companies": {"type": "list", "data": []}, "tags": {"type": "list", "data": []}}


def notifications(count: int, records: int, seed: int) -> tuple[list[Notification], dict[str, int]]:
    """`count` notifications over `records` contacts; returns them shuffled, and each
    contact's newest version (what the store must end with)."""
    rng = random.Random(seed)
    out, newest = [], {}
    for n in range(count):
        i, version = n % records, n // records
        item = contact(i, version)
        out.append(intercom_webhooks.notification("contact.user.updated", item))
        newest[item["id"]] = max(newest.get(item["id"], -1), version)
    rng.shuffle(out)
    return out, newest


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def count_by_status(stack: SyncStack) -> dict[str, int]:
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = firestore.Client(project=PROJECT)
    coll = db.collection("connections").document(stack.connection_id).collection("webhook_deliveries")
    counts = {}
    for status in ("pending", "processed", "failed"):
        result = coll.where(filter=FieldFilter("status", "==", status)).count().get()
        counts[status] = int(result[0][0].value)
    return counts


def processed_deliveries(stack: SyncStack) -> set[str]:
    from google.cloud import firestore

    db = firestore.Client(project=PROJECT)
    coll = db.collection("connections").document(stack.connection_id).collection("webhook_deliveries")
    return {str(d.get("delivery_id")) for d in (s.to_dict() or {} for s in coll.select(["delivery_id", "status"]).stream())
            if d.get("status") == "processed"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help=f"notifications to push (at most {MAX_COUNT})")
    parser.add_argument("--records", type=int, default=2_000, help="distinct contacts they update")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent senders")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for processing")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--pause-processing", action="store_true",
                        help="hold the webhook queue while pushing (acknowledgement alone, then processing alone)")
    args = parser.parse_args()
    if not 1 <= args.count <= MAX_COUNT or not 1 <= args.records <= args.count:
        parser.error(f"--count must be 1..{MAX_COUNT} and --records 1..count")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the in-process identity's access log
    log_dir = REPO / ".local" / "bench-logs"
    identity = IdentityServer(LocalIdentity(PROJECT)).start()
    fs_port = free_port()
    firestore = firestore_emulator(fs_port, log_dir).start()
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{fs_port}"
    stack = SyncStack(identity, f"127.0.0.1:{fs_port}", log_dir,
                      {"contacts": 20, "companies": 10, "admins": 2, "conversations": 20})
    sender = WebhookSender(prepare=intercom_webhooks.prepare, concurrency=args.concurrency, log_size=MAX_COUNT * 2)
    try:
        stack.start()
        create_webhook_queue(stack, min_backoff_seconds=1.0, max_backoff_seconds=30.0)
        stack.connect()
        set_secret(stack)
        sender.configure(webhook_url(stack), "hmac-sha1", secret=CLIENT_SECRET, max_attempts=5, retry_backoff_s=0.5)
        batch, newest = notifications(args.count, args.records, args.seed)

        queue = stack.tasks_client().queue_path(PROJECT, REGION, queue_name("intercom"))
        if args.pause_processing:
            stack.tasks_client().pause_queue(name=queue)
        t0 = time.monotonic()
        sender.send_many(batch)
        flushed = sender.flush(timeout_s=args.timeout)
        ack_wall = time.monotonic() - t0
        if args.pause_processing:
            stack.tasks_client().resume_queue(name=queue)
        entries = list(sender.log)
        first = [e for e in entries if e.attempt == 1]
        acked = {e.id for e in entries if e.status is not None and 200 <= e.status < 300}
        latencies = [e.latency_ms for e in first if e.latency_ms is not None]

        deadline = time.monotonic() + args.timeout
        counts = count_by_status(stack)
        while counts["pending"] and time.monotonic() < deadline:
            time.sleep(2.0)
            counts = count_by_status(stack)
        processed_wall = time.monotonic() - t0

        stored = stack.stored("contacts")
        wrong = [cid for cid, version in newest.items()
                 if (stored.get(cid) or {}).get("custom_attributes", {}).get("version") != version]
        processed_ids = processed_deliveries(stack)
        remembered = sum(counts.values())
        lost_ids = {n.id for n in batch} - (acked & processed_ids)
        lost = len(lost_ids) + len(wrong)
        figures = {
            "notifications": len(batch),
            "records": args.records,
            "concurrency": args.concurrency,
            "acknowledged": len(acked),
            "flushed": flushed,
            "ack_wall_s": round(ack_wall, 1),
            "ack_throughput_per_s": round(len(acked) / ack_wall, 1),
            "ack_latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1),
                               "p99": round(percentile(latencies, 99), 1), "max": round(max(latencies), 1),
                               "mean": round(statistics.fmean(latencies), 1)},
            "first_attempt_non_2xx": sum(1 for e in first if not (e.status and 200 <= e.status < 300)),
            "retries": sum(1 for e in entries if e.attempt > 1),
            "remembered": remembered,
            "processed": counts["processed"],
            "failed": counts["failed"],
            "pending": counts["pending"],
            "processing_paused_while_pushing": args.pause_processing,
            "processed_wall_s": round(processed_wall, 1),
            "processing_throughput_per_s": round(counts["processed"] / processed_wall, 1),
            "records_not_at_newest_version": len(wrong),
            "lost": lost,
        }
        print(json.dumps(figures, indent=2))
        return 0 if lost == 0 else 1
    finally:
        sender.unconfigure()
        stack.stop()
        firestore.stop()
        identity.stop()


if __name__ == "__main__":
    sys.exit(main())
