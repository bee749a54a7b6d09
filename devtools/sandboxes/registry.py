"""Sandboxes are found by convention: devtools/sandboxes/<vendor>/sandbox.py defines SANDBOX
(a kit.descriptor.SandboxDescriptor), as shared/vendors/<vendor>/connector.py defines
CONNECTOR. Adding a sandbox adds that module; the local stack and the test harness start
whatever is found here.

Outside the repository's own sandboxes, TRIBUTARY_EXTRA_SANDBOXES names modules (comma-
separated) whose SANDBOX or SANDBOXES are added: how a test-only vendor gets a running
sandbox without an edit outside its own folders, like TRIBUTARY_EXTRA_CONNECTORS for its
connector.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Iterable
from functools import cache

import devtools.sandboxes
from devtools.sandboxes.kit.descriptor import SandboxDescriptor

EXTRA_ENV = "TRIBUTARY_EXTRA_SANDBOXES"


@cache
def vendors() -> tuple[str, ...]:
    """The vendors with a sandbox in devtools/sandboxes (sorted)."""
    found = []
    for module in pkgutil.iter_modules(devtools.sandboxes.__path__):
        if module.ispkg and importlib.util.find_spec(f"devtools.sandboxes.{module.name}.sandbox"):
            found.append(module.name)
    return tuple(sorted(found))


def _declared(module_name: str) -> list[SandboxDescriptor]:
    module = importlib.import_module(module_name)
    declared = list(getattr(module, "SANDBOXES", ()))
    if hasattr(module, "SANDBOX"):
        declared.insert(0, module.SANDBOX)
    if not declared or not all(isinstance(d, SandboxDescriptor) for d in declared):
        raise TypeError(f"{module_name} must define SANDBOX or SANDBOXES as kit.descriptor.SandboxDescriptor")
    return declared


def descriptor(vendor: str) -> SandboxDescriptor:
    """The repository's sandbox for `vendor` (KeyError when there is none)."""
    if vendor not in vendors():
        raise KeyError(f"no sandbox for {vendor!r}; known: {list(vendors())}")
    (found,) = _declared(f"devtools.sandboxes.{vendor}.sandbox")
    if found.vendor != vendor:
        raise ValueError(f"devtools/sandboxes/{vendor}/sandbox.py declares vendor {found.vendor!r}")
    return found


def extra_modules(raw: str | None = None) -> tuple[str, ...]:
    """The modules TRIBUTARY_EXTRA_SANDBOXES names (or `raw`, its value elsewhere)."""
    value = os.environ.get(EXTRA_ENV, "") if raw is None else raw
    return tuple(m.strip() for m in value.split(",") if m.strip())


def all_sandboxes(extra: Iterable[str] | None = None) -> list[SandboxDescriptor]:
    """Every registered sandbox: the repository's, then those of `extra` modules (default:
    TRIBUTARY_EXTRA_SANDBOXES). A vendor or a default port declared twice is an error, not
    a silent pick."""
    found = [descriptor(v) for v in vendors()]
    for module_name in extra_modules() if extra is None else extra:
        found.extend(_declared(module_name))
    vendors_seen: set[str] = set()
    ports_seen: dict[int, str] = {}
    for d in found:
        if d.vendor in vendors_seen:
            raise ValueError(f"two sandboxes for vendor {d.vendor!r}")
        if d.default_port in ports_seen:  # the local stack starts them all at once
            raise ValueError(f"{d.vendor} and {ports_seen[d.default_port]} both default to port {d.default_port}")
        vendors_seen.add(d.vendor)
        ports_seen[d.default_port] = d.vendor
    return found
