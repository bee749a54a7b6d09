"""python -m devtools.sandboxes.pipedrive [--port 9103] [--persons 500] [--token T] [TOKEN...]:
serve the sandbox with one account per token (the local stack passes --token; more
accounts may be named after it, for curl and demos)."""

from __future__ import annotations

import argparse

from devtools.sandboxes.kit.cli import serve
from devtools.sandboxes.pipedrive.app import PipedriveSandbox


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sandboxes.pipedrive")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9103)
    parser.add_argument("--token", default="pd-token-alice", help="the first account's API token")
    parser.add_argument("--persons", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None, help="accepted for the kit's launcher; data is per token")
    parser.add_argument("--rate-limit", type=int, default=None, help="accepted for the kit's launcher; limits are Pipedrive's")
    parser.add_argument("tokens", nargs="*", default=["pd-token-bob"], help="more accounts")
    args = parser.parse_args()
    sandbox = PipedriveSandbox()
    for token in dict.fromkeys([args.token, *args.tokens]):
        sandbox.add_account(token, persons=args.persons)
    return serve(sandbox, name="Pipedrive", host=args.host, port=args.port)


if __name__ == "__main__":
    raise SystemExit(main())
