"""Other "machines" for a test: Linux network namespaces, each joined to this one by a veth pair.

    with network_namespace() as machine:
        node = machine.popen(["java", "-jar", ...])      # runs with the namespace's network only
        machine.address        # its own address, e.g. 10.231.7.2 (reach it from here)
        machine.host_address   # this machine's address as seen from there, e.g. 10.231.7.1

Inside, a process has its own loopback and one interface, routed to this machine: it reaches this
machine's addresses (not its loopback), so a service here must listen on `host_address` (or on
0.0.0.0) to be reachable, and the namespace's 127.0.0.1 is its own. Needs root and iproute2 (`ip netns`).

Clean-up happens on leaving the block, exception or not: every process still in the namespace is
killed and the namespace deleted (which deletes the veth pair). A test process killed outright
leaves its namespaces behind; the next `network_namespace()` removes those whose owner is gone
(their names carry the owner's pid).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "hmt"
# A /16 the tests carve /30s from: private, so the guard refuses it like any internal address.
POOL = ipaddress.ip_network("10.231.0.0/16")
_LOCK = Path("/run/lock/heatmap-test-netns.lock")


@dataclass(frozen=True)
class Namespace:
    name: str
    address: str  # this namespace's address on its veth
    host_address: str  # the host's end of the veth pair

    def command(self, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start `args` inside the namespace (the rest of the machine - files, pids - stays shared)."""
        return subprocess.Popen(self.command(args), **kwargs)

    def run(self, args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.command(args), **kwargs)

    def pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _namespace_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _owner_alive(name: str) -> bool:
    pid = name.removeprefix(PREFIX).split("-")[0]
    return pid.isdigit() and Path(f"/proc/{pid}").exists()


def _kill_all(namespace: Namespace) -> None:
    for _ in range(50):
        pids = namespace.pids()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _delete(namespace: Namespace) -> None:
    _kill_all(namespace)
    subprocess.run(["ip", "netns", "delete", namespace.name], capture_output=True)


def remove_stale_namespaces() -> None:
    """Namespaces of test processes that are gone (killed before their clean-up ran)."""
    for name in _namespace_names():
        if name.startswith(PREFIX) and not _owner_alive(name):
            _delete(Namespace(name, "", ""))


def _used_networks() -> set[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    used = set()
    for line in out.split("\n"):
        fields = line.split()
        if "inet" in fields:
            used.add(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    return used


@contextmanager
def network_namespace() -> Iterator[Namespace]:
    """A fresh namespace with loopback up and a /30 of POOL on a veth pair to this machine."""
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK.open("w") as lock:
        # Serialise the choice of names and subnets between test processes running at the same time.
        fcntl.flock(lock, fcntl.LOCK_EX)
        remove_stale_namespaces()
        used = _used_networks()
        taken = set(_namespace_names())
        while True:
            subnet = ipaddress.ip_network((int(POOL.network_address) + 4 * random.randrange(1, 2**14), 30))
            tag = f"{os.getpid()}-{random.randrange(16**4):04x}"
            if subnet not in used and f"{PREFIX}{tag}" not in taken:
                break
        host_ip, ns_ip = list(subnet.hosts())
        namespace = Namespace(f"{PREFIX}{tag}", str(ns_ip), str(host_ip))
        # Interface names have at most 15 characters.
        host_end, ns_end = f"hv{tag.split('-')[1]}{os.getpid() % 10**6}", f"nv{tag.split('-')[1]}{os.getpid() % 10**6}"
        try:
            _ip("netns", "add", namespace.name)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end, "netns", namespace.name)
            _ip("addr", "add", f"{host_ip}/30", "dev", host_end)
            _ip("link", "set", host_end, "up")
            _ip("-n", namespace.name, "addr", "add", f"{ns_ip}/30", "dev", ns_end)
            _ip("-n", namespace.name, "link", "set", ns_end, "up")
            _ip("-n", namespace.name, "link", "set", "lo", "up")
            # Every address of this machine is reachable through the link, as on a LAN.
            _ip("-n", namespace.name, "route", "add", "default", "via", str(host_ip))
        except BaseException:
            _delete(namespace)
            subprocess.run(["ip", "link", "delete", host_end], capture_output=True)
            raise
    try:
        yield namespace
    finally:
        _delete(namespace)
