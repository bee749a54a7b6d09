"""CLI: python -m devtools.sandboxes.intercom --port 9101 --contacts 10000 ...

Flags override INTERCOM_SANDBOX_* environment variables, which override the defaults. The
server flags (host, port, token, rate limit, faults, access log) are the kit's; the data
set and Intercom's own rules are here. Prints one ready line (with the base URL) once the
socket is listening.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from devtools.sandboxes.intercom.app import create_app
from devtools.sandboxes.intercom.config import SandboxConfig, config_from_env
from devtools.sandboxes.intercom.sandbox import SANDBOX
from devtools.sandboxes.kit.cli import ServerSettings, add_server_arguments, serve, server_settings_from_args


def parse_args(argv: Sequence[str] | None, base: SandboxConfig) -> argparse.Namespace:
    d = base.data
    p = argparse.ArgumentParser(prog="python -m devtools.sandboxes.intercom", description=__doc__)
    add_server_arguments(p, ServerSettings(base.token, base.rate_limit, base.faults, base.fault_seed),
                         port=SANDBOX.default_port)
    p.add_argument("--contacts", type=int, default=d.contacts)
    p.add_argument("--companies", type=int, default=d.companies)
    p.add_argument("--admins", type=int, default=d.admins)
    p.add_argument("--conversations", type=int, default=d.conversations)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--epoch", type=int, default=d.epoch, help="unix time the generated history ends at")
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
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace, base: SandboxConfig) -> SandboxConfig:
    data = replace(base.data, contacts=args.contacts, companies=args.companies, admins=args.admins,
                   conversations=args.conversations, seed=args.seed, epoch=args.epoch,
                   empty_company_share=args.empty_company_share)
    server = server_settings_from_args(args)
    return replace(base, data=data, faults=server.faults, token=server.token, fault_seed=server.fault_seed,
                   rate_limit=server.rate_limit, lenient_search=args.lenient_search,
                   mutation_step_seconds=args.mutation_step, scroll_idle_seconds=args.scroll_idle_seconds,
                   company_list_cap=args.company_list_cap)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        base = config_from_env()
        args = parse_args(argv, base)
        config = config_from_args(args, base)
        config.data.validate()
    except ValueError as exc:
        print(f"intercom sandbox: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    app = create_app(config)
    counts = app.store.counts()
    rate = config.rate_limit
    details = (f"token {config.token}; {counts['contacts']} contacts, {counts['companies']} companies, "
               f"{counts['admins']} admins, {counts['conversations']} conversations; "
               f"{rate.per_minute}/min as {rate.per_window} per {rate.window_seconds} s; "
               f"{'lenient' if config.lenient_search else 'Intercom'} search rules; "
               f"generated in {time.monotonic() - started:.1f} s")
    return serve(app, name="intercom", host=args.host, port=args.port, details=details, access_log=args.access_log)


if __name__ == "__main__":
    sys.exit(main())
