"""Fault injection: 5xx answers, added latency and connections closed unanswered.

Faults draw from a seeded RNG so a run is repeatable: the same settings give the same
sequence of faults, which is what lets a test compare two runs. Settings change at runtime
through POST /_sandbox/faults.
"""

from __future__ import annotations

import random
import socket
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

#: statuses an injected error may have (what gateways and overloaded vendors answer)
ERROR_STATUSES = (500, 502, 503, 504)


@dataclass
class FaultConfig:
    """Injected misbehaviour; shares are probabilities in [0, 1]."""

    error_rate: float = 0.0
    latency_ms: int = 0
    drop_rate: float = 0.0
    error_status: int = 500

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with the known keys of `changes` applied, validated (ValueError otherwise)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        new = replace(self, **changes)
        for name in ("error_rate", "drop_rate"):
            value = getattr(new, name)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if new.error_rate + new.drop_rate > 1.0:
            raise ValueError("error_rate + drop_rate must not exceed 1")
        if not isinstance(new.latency_ms, int) or new.latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        if new.error_status not in ERROR_STATUSES:
            raise ValueError("error_status must be one of 500, 502, 503, 504")
        return new


@dataclass(frozen=True)
class FaultDecision:
    drop: bool
    error_status: int | None
    latency_s: float


class FaultInjector:
    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """New settings restart the seeded sequence, so the same settings give the same faults."""
        with self._lock:
            self.config = config
            self._rng = random.Random(self._seed)

    def decide(self) -> FaultDecision:
        with self._lock:
            c = self.config
            # One draw per request: [0, drop) drops, [drop, drop + error) errors, so the
            # observed shares are the configured ones.
            u = self._rng.random()
            drop = u < c.drop_rate
            error = not drop and u < c.drop_rate + c.error_rate
            return FaultDecision(drop, c.error_status if error else None, c.latency_ms / 1000.0)


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection without an answer.

    werkzeug's server exposes the socket as environ["werkzeug.socket"]; under another server
    (the test client) there is none and the caller's answer goes out instead.
    """
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        sock.shutdown(socket.SHUT_RDWR)
