"""CLI: python -m devtools.sandboxes.intercom --port 9101 --contacts 10000 ...

Flags override INTERCOM_SANDBOX_* environment variables, which override the defaults.
Prints one ready line (with the base URL) once the socket is listening.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from devtools.sandboxes.intercom.app import create_app
from devtools.sandboxes.intercom.config import FaultConfig, SandboxConfig, config_from_env
from devtools.sandboxes.intercom.server import build_server, serve_until_signalled


def parse_args(argv: Sequence[str] | None, base: SandboxConfig) -> argparse.Namespace:
    d, r, f = base.data, base.rate_limit, base.faults
    p = argparse.ArgumentParser(prog="python -m devtools.sandboxes.intercom", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9101, help="0 picks a free port (see the ready line)")
    p.add_argument("--token", default=base.token, help="accepted bearer token")
    p.add_argument("--contacts", type=int, default=d.contacts)
    p.add_argument("--companies", type=int, default=d.companies)
    p.add_argument("--admins", type=int, default=d.admins)
    p.add_argument("--conversations", type=int, default=d.conversations)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--epoch", type=int, default=d.epoch, help="unix time the generated history ends at")
    p.add_argument("--rate-limit", type=int, default=r.per_minute, help="requests per minute (Intercom-style)")
    p.add_argument("--rate-window", type=int, default=r.window_seconds, help="window length in seconds")
    p.add_argument("--error-rate", type=float, default=f.error_rate, help="share of injected 5xx, 0..1")
    p.add_argument("--error-status", type=int, default=f.error_status, help="500, 502, 503 or 504")
    p.add_argument("--latency-ms", type=int, default=f.latency_ms, help="added to every API response")
    p.add_argument("--drop-rate", type=float, default=f.drop_rate, help="share of connections closed unanswered")
    p.add_argument("--fault-seed", type=int, default=base.fault_seed)
    p.add_argument("--lenient-search", action="store_true", default=base.lenient_search,
                   help="opt out of Intercom's search rules (day-granular contact dates, refused date "
                        "operators, inclusive conversation >/<): exact seconds and every operator")
    p.add_argument("--mutation-step", type=int, default=base.mutation_step_seconds,
                   help="seconds the sandbox clock jumps per /_sandbox/mutate")
    p.add_argument("--scroll-idle-seconds", type=float, default=base.scroll_idle_seconds,
                   help="a company scroll unused this long expires (Intercom: 60)")
    p.add_argument("--company-list-cap", type=int, default=base.company_list_cap,
                   help="GET /companies and /companies/list refuse pages past this many (Intercom: 10000)")
    p.add_argument("--empty-company-share", type=float, default=d.empty_company_share,
                   help="share of companies generated without users (left out of company listings)")
    p.add_argument("--access-log", action="store_true")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace, base: SandboxConfig) -> SandboxConfig:
    data = replace(base.data, contacts=args.contacts, companies=args.companies, admins=args.admins,
                   conversations=args.conversations, seed=args.seed, epoch=args.epoch,
                   empty_company_share=args.empty_company_share)
    faults = FaultConfig().update({"error_rate": args.error_rate, "latency_ms": args.latency_ms,
                                   "drop_rate": args.drop_rate, "error_status": args.error_status})
    return replace(base, data=data, faults=faults, token=args.token, fault_seed=args.fault_seed,
                   rate_limit=replace(base.rate_limit, per_minute=args.rate_limit, window_seconds=args.rate_window),
                   lenient_search=args.lenient_search, mutation_step_seconds=args.mutation_step,
                   scroll_idle_seconds=args.scroll_idle_seconds, company_list_cap=args.company_list_cap)


def main(argv: Sequence[str] | None = None) -> int:
    base = config_from_env()
    args = parse_args(argv, base)
    try:
        config = config_from_args(args, base)
        config.data.validate()
    except ValueError as exc:
        print(f"intercom sandbox: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    app = create_app(config)
    server = build_server(app, args.host, args.port, access_log=args.access_log)
    counts = app.store.counts()
    print(f"intercom sandbox ready on http://{args.host}:{server.server_port} "
          f"(token {config.token}; {counts['contacts']} contacts, {counts['companies']} companies, "
          f"{counts['admins']} admins, {counts['conversations']} conversations; "
          f"{config.rate_limit.per_minute}/min as {config.rate_limit.per_window} per {config.rate_limit.window_seconds} s; "
          f"{'lenient' if config.lenient_search else 'Intercom'} search rules; "
          f"generated in {time.monotonic() - started:.1f} s)", flush=True)
    serve_until_signalled(server)
    print("intercom sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
