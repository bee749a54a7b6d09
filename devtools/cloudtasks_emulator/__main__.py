"""python -m devtools.cloudtasks_emulator --port 8123 --oidc-mint-url URL [--http-port 8124]"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from devtools.cloudtasks_emulator.core import Emulator
from devtools.cloudtasks_emulator.delivery import OidcMinter, Sender
from devtools.cloudtasks_emulator.service import serve
from devtools.cloudtasks_emulator.status_page import StatusServer
from devtools.cloudtasks_emulator.throttle import RECOVERY_S


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.cloudtasks_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123, help="gRPC port (0: any free port)")
    parser.add_argument("--http-port", type=int, default=None, help="read-only status page port")
    parser.add_argument("--oidc-mint-url", default=None, help='POST {"audience","email"} -> {"token"}')
    parser.add_argument(
        "--tombstone-seconds",
        type=float,
        default=3600.0,
        help="how long a finished or deleted task's name stays reserved (Cloud Tasks: about an hour)",
    )
    parser.add_argument(
        "--throttle-recovery-seconds",
        type=float,
        default=RECOVERY_S,
        help="after a 429/503 halves a queue's effective rate, each this many quiet seconds double it back "
        "(0 turns the slowdown off; Retry-After is honoured regardless)",
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per dispatch is noise
    sender = Sender(OidcMinter(args.oidc_mint_url))
    emu = Emulator(
        sender, tombstone_s=args.tombstone_seconds, throttle_recovery_s=args.throttle_recovery_seconds
    ).start()
    server, port = serve(emu, args.host, args.port)
    status = StatusServer(emu, args.host, args.http_port).start() if args.http_port is not None else None

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    page = f", status page http://{args.host}:{status.port}/" if status else ""
    print(f"Cloud Tasks emulator ready on {args.host}:{port}{page}", flush=True)
    stop.wait()

    server.stop(grace=2).wait()
    if status:
        status.stop()
    emu.stop()
    sender.close()
    print("Cloud Tasks emulator stopped", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
