"""Free TCP ports on 127.0.0.1 for servers started later (the tests' and benchmarks' services,
a private Kafka or FerretDB), chosen below the kernel's ephemeral range.

A port from `bind(("127.0.0.1", 0))` is in that range, and between the probe and the server's own
bind any outgoing connection (a Kafka or MongoDB client opens many) may be given it: the server
then fails with "address already in use" (once in a fresh-clone CI run: the demo's notify). Ports
below the range are never handed to clients; a random start keeps concurrent runs apart, and
each port is still probed."""

from __future__ import annotations

import random
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from planwatch.infra.settings import LOOPBACK

LOWEST: Final = 20_000
EPHEMERAL_RANGE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_LOW: Final = 32_768  # Linux's default when the file cannot be read
ATTEMPTS: Final = 500


def ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1, offsets: Sequence[int] = (0,)) -> int:
    """The first of `count` consecutive ports, each free when probed together with each port
    plus every one of `offsets` (e.g. a management port 1000 above), all below the ephemeral
    range."""
    spread = count - 1 + max(offsets)
    highest = min(ephemeral_low(), 65_536) - 1 - spread
    if highest <= LOWEST:
        raise RuntimeError(f"no room for {count} ports below the ephemeral range")
    rng = random.SystemRandom()
    for _ in range(ATTEMPTS):
        base = rng.randrange(LOWEST, highest)
        wanted = [base + i + offset for i in range(count) for offset in offsets]
        if all(bindable(port) for port in wanted):
            return base
    raise RuntimeError(f"no {count} free consecutive ports found in {ATTEMPTS} attempts")


def free_port() -> int:
    return free_ports(1)
