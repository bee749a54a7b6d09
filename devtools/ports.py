"""The local stack's ports: defaults, overrides (flags and environment), and a check that
every one is free *before* anything starts.

Why a check up front: the Firestore emulator takes seconds to boot and the sandbox longer,
so a port clash found by the last process to start costs a newcomer half a minute and a
traceback. Binding each port for an instant answers in milliseconds and names the culprit.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

#: the stack's own parts: name -> (default port, what listens there), checked in this order;
#: each sandbox adds its vendor's name with its descriptor's default_port (with_sandboxes)
DEFAULTS: dict[str, tuple[int, str]] = {
    "console": (5002, "the web console"),
    "functions": (5001, "the functions"),
    "firestore": (8080, "the Firestore emulator"),
    "tasks": (8123, "the Cloud Tasks emulator (gRPC)"),
    "tasks-http": (8124, "the Cloud Tasks emulator's status page"),
    "identity": (9010, "the local identity"),
}
HOST = "127.0.0.1"


def with_sandboxes(sandboxes: list[tuple[str, int, str]]) -> dict[str, tuple[int, str]]:
    """DEFAULTS plus (vendor, default port, title) of each sandbox."""
    return {**DEFAULTS, **{vendor: (port, f"the {title}") for vendor, port, title in sandboxes}}


def env_name(name: str) -> str:
    """TRIBUTARY_FUNCTIONS_PORT, TRIBUTARY_TASKS_HTTP_PORT, ..."""
    return f"TRIBUTARY_{name.upper().replace('-', '_')}_PORT"


def add_arguments(parser: argparse.ArgumentParser, known: dict[str, tuple[int, str]] = DEFAULTS) -> None:
    group = parser.add_argument_group("ports (each also settable as TRIBUTARY_<NAME>_PORT)")
    group.add_argument("--port-offset", type=int, default=int(os.environ.get("TRIBUTARY_PORT_OFFSET", "0")),
                       help="add this to every default port (a second stack: --port-offset 100)")
    for name, (default, what) in known.items():
        group.add_argument(f"--{name}-port", type=int, default=None, metavar="PORT",
                           help=f"{what} (default {default})")


@dataclass(frozen=True)
class Ports:
    values: Mapping[str, int]
    known: Mapping[str, tuple[int, str]] = field(default_factory=lambda: dict(DEFAULTS))

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    @classmethod
    def resolve(cls, args: argparse.Namespace, known: dict[str, tuple[int, str]] = DEFAULTS,
                environ: Mapping[str, str] | None = None) -> Ports:
        """A flag wins over the environment, which wins over default + offset."""
        environ = os.environ if environ is None else environ
        values = {}
        for name, (default, _) in known.items():
            flag = getattr(args, f"{name.replace('-', '_')}_port", None)
            from_env = environ.get(env_name(name))
            values[name] = flag if flag is not None else int(from_env) if from_env else default + args.port_offset
        return cls(values, dict(known))


@dataclass(frozen=True)
class Busy:
    name: str
    port: int
    reason: str


def port_is_free(port: int, host: str = HOST) -> str | None:
    """None when `port` can be bound on `host`, else why not. SO_REUSEADDR as servers set
    it, so a socket lingering in TIME_WAIT from the last run does not count as busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None


def busy_ports(ports: Ports, names: list[str] | None = None) -> list[Busy]:
    found = []
    seen: dict[int, str] = {}
    for name in names or list(ports.values):
        port = ports[name]
        if port in seen:
            found.append(Busy(name, port, f"also given to {seen[port]}"))
            continue
        seen[port] = name
        reason = port_is_free(port)
        if reason:
            found.append(Busy(name, port, reason))
    return found


def busy_message(busy: list[Busy], known: Mapping[str, tuple[int, str]] = DEFAULTS) -> str:
    """What is wrong and the two ways out, ready to print."""
    lines = ["Cannot start: a port the local stack needs is not free."]
    for item in busy:
        what = known[item.name][1] if item.name in known else item.name
        lines.append(f"  - port {item.port} ({what}): {item.reason}")
    first = busy[0]
    lines += [
        "Another `make dev` may still be running (stop it with Ctrl-C), or another program holds it:",
        f"  ss -ltnp 'sport = :{first.port}'      # shows which process listens there",
        "Or choose other ports:",
        f'  make dev ARGS="--{first.name}-port {first.port + 10}"      (or {env_name(first.name)}={first.port + 10})',
        '  make dev ARGS="--port-offset 100"      # moves every port: 5101, 5102, 8180, ...',
    ]
    return "\n".join(lines)
