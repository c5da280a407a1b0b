"""Free ports for servers started later come from below the kernel's ephemeral range (where no
outgoing connection can take them between the probe and the server's bind), and are free."""

from __future__ import annotations

import socket

from planwatch.infra.ports import LOWEST, bindable, ephemeral_low, free_port, free_ports


def test_ports_are_below_the_ephemeral_range_and_free_with_their_offsets() -> None:
    base = free_ports(6, offsets=(0, 1000))
    wanted = [base + i + offset for i in range(6) for offset in (0, 1000)]
    assert base >= LOWEST and max(wanted) < ephemeral_low()
    assert all(bindable(port) for port in wanted)
    assert LOWEST <= free_port() < ephemeral_low()


def test_a_port_in_use_is_not_bindable() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        assert not bindable(held.getsockname()[1])
