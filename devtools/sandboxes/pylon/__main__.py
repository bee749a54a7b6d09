"""CLI: python -m devtools.sandboxes.pylon --port 9102 --issues 3000 --accounts 200
[--agents 12] [--limit-scale 1] [kit server flags]."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from devtools.sandboxes.kit.cli import Env, add_server_arguments, serve, server_settings_from_args
from devtools.sandboxes.pylon.app import create_app
from devtools.sandboxes.pylon.records import Sizes
from devtools.sandboxes.pylon.sandbox import SANDBOX


def main(argv: Sequence[str] | None = None) -> int:
    base = Env("PYLON_SANDBOX_").server_settings()
    parser = argparse.ArgumentParser(prog="python -m devtools.sandboxes.pylon", description=__doc__)
    add_server_arguments(parser, base, port=SANDBOX.default_port)
    parser.set_defaults(token=SANDBOX.token)
    for name, default in SANDBOX.sizes.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit-scale", type=float, default=float(os.environ.get("TRIBUTARY_RATE_TIME_SCALE", "1")),
                        help="multiply Pylon's per-endpoint limits (default: TRIBUTARY_RATE_TIME_SCALE, as the engine)")
    args = parser.parse_args(argv)
    try:
        server = server_settings_from_args(args)
    except ValueError as exc:
        print(f"pylon sandbox: {exc}", file=sys.stderr)
        return 2
    app = create_app(Sizes(issues=args.issues, accounts=args.accounts, agents=args.agents, seed=args.seed), server,
                     limit_scale=args.limit_scale)
    return serve(app, name="pylon", host=args.host, port=args.port, access_log=args.access_log,
                 details=f"token {server.token}; {args.issues} issues over 2 years, {args.accounts} accounts")


if __name__ == "__main__":
    sys.exit(main())
