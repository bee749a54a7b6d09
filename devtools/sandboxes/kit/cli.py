"""Command-line and environment plumbing every sandbox shares.

A sandbox's __main__ reads its defaults from <VENDOR>_SANDBOX_* variables (`Env`), lets
flags override them (`add_server_arguments` adds the ones every sandbox has: host, port,
token, rate limit, faults, access log), builds its app and calls `serve`, which prints one
ready line once the socket listens (the stack and the tests wait for the port, people read
the line) and one "stopped" line after SIGTERM or SIGINT.

    python -m devtools.sandboxes.<vendor> --port 9101 --token t --rate-limit 600 --error-rate 0.05
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from devtools.sandboxes.kit.faults import FaultConfig
from devtools.sandboxes.kit.ratelimit import RateLimitConfig
from devtools.sandboxes.kit.server import WSGIApp, build_server, serve_until_signalled

T = TypeVar("T")
DEFAULT_TOKEN = "sandbox-token"


@dataclass(frozen=True)
class ServerSettings:
    """What every sandbox server takes, whatever the vendor."""

    token: str = DEFAULT_TOKEN
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    fault_seed: int = 7


class Env:
    """<PREFIX><NAME> variables, cast; unset or empty means the default."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def get(self, name: str, default: T, cast: Callable[[str], T]) -> T:
        raw = os.environ.get(self.prefix + name)
        if raw is None or raw == "":
            return default
        return cast(raw)

    def flag(self, name: str, default: bool) -> bool:
        raw = os.environ.get(self.prefix + name)
        if raw is None or raw == "":
            return default
        return raw.strip().lower() in ("1", "true", "yes", "on")

    def server_settings(self, base: ServerSettings | None = None) -> ServerSettings:
        """TOKEN, RATE_LIMIT, RATE_WINDOW_SECONDS, ERROR_RATE, ERROR_STATUS, LATENCY_MS,
        DROP_RATE and FAULT_SEED over `base` (faults validated: ValueError)."""
        b = base or ServerSettings()
        faults = b.faults.update({
            "error_rate": self.get("ERROR_RATE", b.faults.error_rate, float),
            "latency_ms": self.get("LATENCY_MS", b.faults.latency_ms, int),
            "drop_rate": self.get("DROP_RATE", b.faults.drop_rate, float),
            "error_status": self.get("ERROR_STATUS", b.faults.error_status, int),
        })
        rate_limit = RateLimitConfig(
            per_minute=self.get("RATE_LIMIT", b.rate_limit.per_minute, int),
            window_seconds=self.get("RATE_WINDOW_SECONDS", b.rate_limit.window_seconds, int),
        )
        return ServerSettings(token=self.get("TOKEN", b.token, str), rate_limit=rate_limit, faults=faults,
                              fault_seed=self.get("FAULT_SEED", b.fault_seed, int))


def add_server_arguments(parser: argparse.ArgumentParser, base: ServerSettings, port: int) -> None:
    """--host --port --token --rate-limit --rate-window --error-rate --error-status
    --latency-ms --drop-rate --fault-seed --access-log, defaulting to `base` and `port`."""
    r, f = base.rate_limit, base.faults
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port, help="0 picks a free port (see the ready line)")
    parser.add_argument("--token", default=base.token, help="accepted credential (bearer token or API key)")
    parser.add_argument("--rate-limit", type=int, default=r.per_minute, help="requests per minute")
    parser.add_argument("--rate-window", type=int, default=r.window_seconds, help="window length in seconds")
    parser.add_argument("--error-rate", type=float, default=f.error_rate, help="share of injected 5xx, 0..1")
    parser.add_argument("--error-status", type=int, default=f.error_status, help="500, 502, 503 or 504")
    parser.add_argument("--latency-ms", type=int, default=f.latency_ms, help="added to every API response")
    parser.add_argument("--drop-rate", type=float, default=f.drop_rate, help="share of connections closed unanswered")
    parser.add_argument("--fault-seed", type=int, default=base.fault_seed)
    parser.add_argument("--access-log", action="store_true")


def server_settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """The flags add_server_arguments added (faults validated: ValueError)."""
    faults = FaultConfig().update({"error_rate": args.error_rate, "latency_ms": args.latency_ms,
                                   "drop_rate": args.drop_rate, "error_status": args.error_status})
    return ServerSettings(token=args.token, fault_seed=args.fault_seed, faults=faults,
                          rate_limit=RateLimitConfig(per_minute=args.rate_limit, window_seconds=args.rate_window))


def serve(app: WSGIApp, *, name: str, host: str, port: int, details: str = "", access_log: bool = False) -> int:
    """Serve `app` until SIGTERM or SIGINT, between a ready line and a stopped line."""
    server = build_server(app, host, port, access_log=access_log)
    suffix = f" ({details})" if details else ""
    print(f"{name} sandbox ready on http://{host}:{server.server_port}{suffix}", flush=True)
    serve_until_signalled(server)
    print(f"{name} sandbox stopped", flush=True)
    return 0
