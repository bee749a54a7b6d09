"""CLI: python -m devtools.sandboxes.sheets --port 0 --leads 50 [kit server flags]."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from devtools.sandboxes.kit.cli import Env, add_server_arguments, serve, server_settings_from_args
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.sheets.app import READS_PER_MINUTE, create_app
from devtools.sandboxes.sheets.records import Sizes
from devtools.sandboxes.sheets.sandbox import SANDBOX


def main(argv: Sequence[str] | None = None) -> int:
    base = Env("SHEETS_SANDBOX_").server_settings()
    if not os.environ.get("SHEETS_SANDBOX_RATE_LIMIT"):  # Sheets' own quota: 60 reads a minute
        base = replace(base, rate_limit=RateLimitConfig(READS_PER_MINUTE, 60))
    parser = argparse.ArgumentParser(prog="python -m devtools.sandboxes.sheets", description=__doc__)
    add_server_arguments(parser, base, port=SANDBOX.default_port)
    parser.set_defaults(token=SANDBOX.token)
    parser.add_argument("--leads", type=int, default=SANDBOX.sizes["leads"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        server = server_settings_from_args(args)
    except ValueError as exc:
        print(f"sheets sandbox: {exc}", file=sys.stderr)
        return 2
    app = create_app(Sizes(leads=args.leads, seed=args.seed), server)
    return serve(app, name="sheets", host=args.host, port=args.port, access_log=args.access_log,
                 details=f"token {server.token}; {args.leads} leads")


if __name__ == "__main__":
    sys.exit(main())
