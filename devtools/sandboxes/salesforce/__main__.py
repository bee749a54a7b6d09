"""CLI: python -m devtools.sandboxes.salesforce --port 0 --accounts 50 [kit server flags]."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from devtools.sandboxes.kit.cli import Env, add_server_arguments, serve, server_settings_from_args
from devtools.sandboxes.salesforce.app import create_app
from devtools.sandboxes.salesforce.records import Sizes
from devtools.sandboxes.salesforce.sandbox import SANDBOX


def main(argv: Sequence[str] | None = None) -> int:
    base = Env("SALESFORCE_SANDBOX_").server_settings()
    parser = argparse.ArgumentParser(prog="python -m devtools.sandboxes.salesforce", description=__doc__)
    add_server_arguments(parser, base, port=SANDBOX.default_port)
    parser.set_defaults(token=SANDBOX.token)
    parser.add_argument("--accounts", type=int, default=SANDBOX.sizes["accounts"])
    parser.add_argument("--sf_contacts", "--sf-contacts", dest="sf_contacts", type=int, default=SANDBOX.sizes["sf_contacts"])
    parser.add_argument("--opportunities", type=int, default=SANDBOX.sizes["opportunities"])
    parser.add_argument("--daily-api-requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        server = server_settings_from_args(args)
    except ValueError as exc:
        print(f"salesforce sandbox: {exc}", file=sys.stderr)
        return 2
    sizes = Sizes(accounts=args.accounts, contacts=args.sf_contacts, opportunities=args.opportunities,
                  seed=args.seed, daily_api_requests=args.daily_api_requests)
    app = create_app(sizes, server)
    return serve(app, name="salesforce", host=args.host, port=args.port, access_log=args.access_log,
                 details=f"token {server.token}; {args.accounts} accounts, {args.sf_contacts} contacts, "
                         f"{args.opportunities} opportunities")


if __name__ == "__main__":
    sys.exit(main())
