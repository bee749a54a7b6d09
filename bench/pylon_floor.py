"""A token-scope vendor at its floor over the wire: Pylon's backfill on the local stack (Sync
Now, the Cloud Tasks emulator, the functions server, the registry's sandbox Pylon, the
Firestore emulator), every request booked in the store (shared.store.ratelimits).

    python -m bench.pylon_floor [--issues 600] [--scale 30] [--json]

Pylon's budgets are per endpoint and tens of requests a minute, so `--scale` runs the
rate-limit clock faster on both sides (TRIBUTARY_RATE_TIME_SCALE: the connector's budgets
and the sandbox's windows). Endpoints are budgeted separately and run in parallel, so the
floor is the largest of (requests to an endpoint / its rate): at Pylon's stated rates, and
at the rates the connector books (`EndpointLimit.booked_per_second`: the stated rate less room
in each window for a request that arrives late). Prints requests, rates, both floors, wall,
the ratios, 429s, the vendor's timeline and how many issue windows were listed before the
first messages request (the floor's budget idles until then).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from bench.stack import bench_stack, load_average, timeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--issues", type=int, default=600)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the queue's max_concurrent_dispatches (default: the connector's declared max_concurrency)")
    parser.add_argument("--json", action="store_true", help="one line of JSON (bench.table reads it)")
    args = parser.parse_args()
    print(json.dumps(pylon_floor(args), indent=None if args.json else 1))


def pylon_floor(args: argparse.Namespace) -> dict[str, Any]:
    from shared.vendors.pylon.connector import CONNECTOR

    # every registered sandbox starts: keep the others small
    size = {"issues": args.issues, "accounts": args.accounts, "contacts": 10, "companies": 5, "admins": 2,
            "conversations": 5}
    with bench_stack(size, rate_limit=100_000, extra_env={"TRIBUTARY_RATE_TIME_SCALE": f"{args.scale:g}"}) as stack:
        queue = {"max_concurrent_dispatches": args.concurrency} if args.concurrency else {}
        stack.create_queue("pylon", min_backoff_seconds=2.0, max_backoff_seconds=300.0, **queue)
        stack.connect(vendor="pylon")
        t0, started = time.monotonic(), time.time()
        run = stack.sync(timeout_s=3600)
        wall = time.monotonic() - t0
        with stack.sandbox("pylon") as s:
            stats = s.get("/_sandbox/stats").json()
            limits = s.get("/_sandbox/endpoint_limits").json()
    by_endpoint: dict[str, int] = {}
    for path, n in stats["requests_by_path"].items():
        method, _, template = path.partition(" ")
        concrete = re.sub(r"<[^>]+>", "x", template)
        for e in CONNECTOR.rate_limit.endpoints:
            if e.matches(method, concrete):
                by_endpoint[e.key] = by_endpoint.get(e.key, 0) + n
    refused = int(stats["rate_limited"]) + sum(limits["refused"].values())
    order = stats.get("order", [])
    messages = "GET /issues/<issue_id>/messages"
    # the messages' budget sets the floor: how many issue windows were listed before it began
    windows_before_messages = order[:order.index(messages)].count("GET /issues") if messages in order else None
    stated = {e.key: e.per_second * args.scale for e in CONNECTOR.rate_limit.endpoints}
    booked = {e.key: e.booked_per_second(args.scale) for e in CONNECTOR.rate_limit.endpoints}
    busiest = max(by_endpoint, key=lambda k: by_endpoint[k] / stated[k])
    floor = by_endpoint[busiest] / stated[busiest]
    booked_floor = max(n / booked[k] for k, n in by_endpoint.items())
    return {
        "vendor": "pylon",
        "status": run["status"],
        "scale": args.scale,
        "concurrency": args.concurrency or CONNECTOR.rate_limit.max_concurrency,
        "booked_share": round(booked[busiest] / stated[busiest], 4),
        "requests": sum(by_endpoint.values()),
        "requests_by_endpoint": by_endpoint,
        "rate_per_s": {k: round(v, 2) for k, v in stated.items() if k in by_endpoint},
        "floor_s": round(floor, 1),
        "floor_at_booked_share_s": round(booked_floor, 1),
        "wall_s": round(wall, 1),
        "ratio": round(wall / floor, 3),
        "ratio_at_booked_share": round(wall / booked_floor, 3),
        "429s": refused,
        "fetched": run["counts"]["fetched"],
        "timeline": timeline(stats, started, started + wall),
        "issue_windows_before_first_message": windows_before_messages,
        "load_average": load_average(),
    }


if __name__ == "__main__":
    main()
