"""Ports for the servers a test starts."""

from __future__ import annotations

from devtools.processes import free_port


def test_free_port_never_hands_out_a_port_twice() -> None:
    """bind(0) offers a port again once its probe closes: 2,000 draws from ~28,000 ports
    repeat dozens of times, and a stack given one port for two services cannot start."""
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
