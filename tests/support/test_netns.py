"""The network-namespace helper: another machine with its own address, gone afterwards even on failure."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.netns import Namespace, _namespace_names, network_namespace

CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()"


def _listener(host: str) -> socket.socket:
    server = socket.socket()
    server.bind((host, 0))
    server.listen()
    return server


def test_a_namespace_reaches_this_machine_only_at_its_host_address() -> None:
    with network_namespace() as machine:
        on_veth, on_loopback = _listener(machine.host_address), _listener("127.0.0.1")
        with on_veth, on_loopback:
            reach = machine.run([sys.executable, "-c", CONNECT, machine.host_address, str(on_veth.getsockname()[1])])
            assert reach.returncode == 0
            # Its 127.0.0.1 is its own: this machine's loopback services are out of reach.
            loopback = machine.run([sys.executable, "-c", CONNECT, "127.0.0.1", str(on_loopback.getsockname()[1])],
                                   capture_output=True)
            assert loopback.returncode != 0 and b"ConnectionRefused" in loopback.stderr
        # And it is reachable from here at its own address.
        listen = "import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 47123)); s.listen(); print('up', flush=True)"
        inside = machine.popen([sys.executable, "-c", listen + "; time.sleep(30)"], stdout=subprocess.PIPE)
        assert inside.stdout is not None and inside.stdout.readline() == b"up\n"
        socket.create_connection((machine.address, 47123), timeout=2).close()


def test_everything_is_removed_even_when_the_test_fails() -> None:
    seen: list[Namespace] = []
    with pytest.raises(RuntimeError):
        with network_namespace() as machine:
            seen.append(machine)
            sleeper = machine.popen(["sleep", "60"])
            raise RuntimeError("the test failed")
    assert sleeper.wait(timeout=5) != 0
    assert seen[0].name not in _namespace_names()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    addresses = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert seen[0].host_address not in addresses
    assert seen[0].name not in links


def test_two_namespaces_get_different_addresses() -> None:
    with network_namespace() as first, network_namespace() as second:
        assert len({first.address, first.host_address, second.address, second.host_address}) == 4
        assert first.name != second.name
