"""What a sandbox package declares so the local stack and the test harness can run it with
no lines of their own: `SANDBOX = SandboxDescriptor(...)` in devtools/sandboxes/<vendor>/sandbox.py
(found by devtools/sandboxes/registry.py).

It says how to start the sandbox (a module run with `python -m`, and the CLI flags for a
size/seed/rate-limit `Launch`), where it listens by default, which credential it accepts,
and the body of POST /connections that points a connection at it. The module is imported
by the stack and the harness, so it imports nothing heavy (no app, no data).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


def access_token_credentials(token: str) -> dict[str, str]:
    """{"access_token": token}: a bearer-token connector's credentials."""
    return {"access_token": token}


def bearer_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Launch:
    """One start of a sandbox: where, with which credential, how big, how fast."""

    port: int
    host: str = "127.0.0.1"
    #: None: the descriptor's token
    token: str | None = None
    #: sizes by name; a sandbox takes the ones it declares and ignores the rest, so one
    #: mapping can size every sandbox of a stack
    size: Mapping[str, int] = field(default_factory=dict)
    seed: int | None = None
    #: requests per minute; None: the sandbox's default (its vendor's real budget)
    rate_limit: int | None = None
    #: unix time the generated history ends at (sandboxes that take --epoch); None: their default
    epoch: int | None = None


@dataclass(frozen=True)
class SandboxDescriptor:
    #: the vendor, as in shared/vendors/<vendor> (and the connection's "vendor")
    vendor: str
    #: run with `python -m <module>`; it takes the kit's server flags (cli.py)
    module: str
    #: the port the local stack gives it
    default_port: int
    #: the credential it accepts unless told otherwise (--token)
    token: str = "sandbox-token"
    #: size flags (`--<name> N`) and the local stack's defaults for them
    sizes: Mapping[str, int] = field(default_factory=dict)
    #: a human name for stack output and connection names
    title: str = ""
    #: the connection's owner kind (the connector's ownership)
    owner: Literal["org", "user"] = "org"
    #: the connection's credentials for a token the sandbox accepts
    credentials: Callable[[str], dict[str, str]] = access_token_credentials
    #: headers a direct client (a test reading the sandbox) authenticates with
    headers: Callable[[str], dict[str, str]] = bearer_headers
    #: seconds to wait for the port (big data sets take a while to generate)
    ready_timeout_s: float = 120.0
    #: it takes --epoch (where its generated history ends): the local stack passes "now",
    #: so recent dashboards are not empty and cursor ages are not a year old
    takes_epoch: bool = False

    @property
    def name(self) -> str:
        return self.title or f"Sandbox {self.vendor.replace('_', ' ').title()}"

    def argv(self, launch: Launch, python: str = sys.executable) -> list[str]:
        """The command line starting this sandbox for `launch`."""
        argv = [python, "-m", self.module, "--host", launch.host, "--port", str(launch.port),
                "--token", launch.token or self.token]
        for size_name in self.sizes:
            if size_name in launch.size:
                argv += [f"--{size_name.replace('_', '-')}", str(launch.size[size_name])]
        if launch.seed is not None:
            argv += ["--seed", str(launch.seed)]
        if launch.rate_limit is not None:
            argv += ["--rate-limit", str(launch.rate_limit)]
        if launch.epoch is not None and self.takes_epoch:
            argv += ["--epoch", str(launch.epoch)]
        return argv

    def sizes_for(self, size: Mapping[str, int]) -> dict[str, int]:
        """The entries of `size` this sandbox takes (what /_sandbox/reset accepts too)."""
        return {k: v for k, v in size.items() if k in self.sizes}

    def connection(self, base_url: str, token: str | None = None, name: str | None = None) -> dict[str, Any]:
        """The body of POST /connections for this sandbox served at `base_url`."""
        return {"vendor": self.vendor, "name": name or self.name, "owner": self.owner,
                "config": {"base_url": base_url}, "credentials": self.credentials(token or self.token)}
