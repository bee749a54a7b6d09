"""CLI: python -m devtools.sandboxes.pipedrive --port 9103 --persons 500 [--users 2]
[--burst 20] [--daily-tokens 150000] [kit server flags]. The first account's token is
--token; the others are records.EXTRA_TOKENS (pd-token-bob, pd-token-carol, ...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from devtools.sandboxes.kit.cli import Env, add_server_arguments, serve, server_settings_from_args
from devtools.sandboxes.pipedrive.app import CEILING, create_app
from devtools.sandboxes.pipedrive.limits import Limits
from devtools.sandboxes.pipedrive.records import Sizes, tokens_for
from devtools.sandboxes.pipedrive.sandbox import SANDBOX


def main(argv: Sequence[str] | None = None) -> int:
    from devtools.sandboxes.kit.cli import ServerSettings

    base = Env("PIPEDRIVE_SANDBOX_").server_settings(ServerSettings(token=SANDBOX.token, rate_limit=CEILING))
    parser = argparse.ArgumentParser(prog="python -m devtools.sandboxes.pipedrive", description=__doc__)
    add_server_arguments(parser, base, port=SANDBOX.default_port)
    for name, default in SANDBOX.sizes.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--users", type=int, default=2, help="accounts (one API token each)")
    parser.add_argument("--seed", type=int, default=7)
    limits = Limits()
    parser.add_argument("--burst", type=int, default=limits.burst, help="requests per token per 2 s")
    parser.add_argument("--daily-tokens", type=int, default=limits.daily_tokens, help="the company's daily budget")
    args = parser.parse_args(argv)
    try:
        server = server_settings_from_args(args)
    except ValueError as exc:
        print(f"pipedrive sandbox: {exc}", file=sys.stderr)
        return 2
    app = create_app(Sizes(persons=args.persons, users=args.users, seed=args.seed), server,
                     Limits(burst=args.burst, daily_tokens=args.daily_tokens))
    tokens = ", ".join(tokens_for(server.token, args.users))
    return serve(app, name="pipedrive", host=args.host, port=args.port, access_log=args.access_log,
                 details=f"tokens {tokens}; {args.persons} persons each; burst {args.burst}/2 s per token")


if __name__ == "__main__":
    sys.exit(main())
