"""python -m devtools.sandboxes.pipedrive [--port 9103] [--persons 500] TOKEN...: serve the
sandbox with one account per token (for the local stack and curl)."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from devtools.sandboxes.pipedrive.app import PipedriveSandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9103)
    parser.add_argument("--persons", type=int, default=500)
    parser.add_argument("tokens", nargs="*", default=["pd-token-alice", "pd-token-bob"])
    args = parser.parse_args()
    sandbox = PipedriveSandbox()
    for token in args.tokens:
        sandbox.add_account(token, persons=args.persons)
    run_simple("127.0.0.1", args.port, sandbox, threaded=True)


if __name__ == "__main__":
    main()
