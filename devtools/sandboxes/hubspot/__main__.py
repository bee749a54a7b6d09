"""CLI: python -m devtools.sandboxes.hubspot --port 0 --contacts 200 [kit server flags]."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from devtools.sandboxes.hubspot.app import APP_LIMIT, create_app
from devtools.sandboxes.hubspot.records import Sizes
from devtools.sandboxes.hubspot.sandbox import SANDBOX
from devtools.sandboxes.kit.cli import Env, add_server_arguments, serve, server_settings_from_args


def main(argv: Sequence[str] | None = None) -> int:
    base = Env("HUBSPOT_SANDBOX_").server_settings()
    if not os.environ.get("HUBSPOT_SANDBOX_RATE_LIMIT"):  # an OAuth app's 100 per 10 s
        base = replace(base, rate_limit=APP_LIMIT)
    parser = argparse.ArgumentParser(prog="python -m devtools.sandboxes.hubspot", description=__doc__)
    add_server_arguments(parser, base, port=SANDBOX.default_port)
    parser.set_defaults(token=SANDBOX.token)
    for name, default in SANDBOX.sizes.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        server = server_settings_from_args(args)
    except ValueError as exc:
        print(f"hubspot sandbox: {exc}", file=sys.stderr)
        return 2
    app = create_app(Sizes(contacts=args.contacts, companies=args.companies, deals=args.deals, seed=args.seed), server)
    return serve(app, name="hubspot", host=args.host, port=args.port, access_log=args.access_log,
                 details=f"token {server.token}; {args.contacts} contacts, {args.companies} companies, {args.deals} deals")


if __name__ == "__main__":
    sys.exit(main())
