"""No routing past this machine: forwarding off on every bridge of a sandbox, learners' networks too.

dockerd runs with ``--ip-forward=false --iptables=false``, so nothing but the kernel's
per-interface switch stops a packet from a container being routed off the machine: a
bridge with ``net.ipv4.conf.<bridge>.forwarding=1`` forwards. A new interface takes its
value from ``conf/default``, and setting the global ``net.ipv4.ip_forward`` to 1 turns it
on for every interface, so on a teacher's machine with Docker (ip_forward=1) every
``docker network create`` makes a bridge that forwards, and a later ``sysctl
net.ipv4.ip_forward=1`` reopens bridges that were closed. Hence :func:`close_all` on
each container start and network connect (the seal's plugin calls it before it allows
the request) and :class:`Watcher`, which calls it whenever the kernel reports a new
link, address or forwarding change.

IPv6 has no per-interface forwarding switch (``conf/<if>/forwarding`` only picks host or
router behaviour, and 0 makes the bridge accept router advertisements from
containers), so IPv6 is switched off on the bridge instead (``disable_ipv6=1``):
containers still talk IPv6 to each other across it, the host neither routes nor
listens. A sandbox's networks are IPv4 only anyway (the seal refuses IPv6 subnets).

A sandbox's bridges: its own ``dy-<name>`` and every ``br-*`` whose IPv4 address lies in
its address pool (each sandbox has a pool of its own). Standard library only: the
plugin (run as a file) imports it. Costs about 10 us per bridge (file reads, one ioctl).
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import struct
import threading

SYS_NET = "/sys/class/net"
PROC_NET = "/proc/sys/net"
SIOCGIFADDR = 0x8915
# rtnetlink multicast groups (linux/rtnetlink.h): links, IPv4/IPv6 addresses, IPv4/IPv6 netconf (forwarding)
RTNL_GROUPS = 0x1 | 0x10 | 0x100 | (1 << (24 - 1)) | (1 << (25 - 1))


def _v4(name: str) -> str:
    return f"{PROC_NET}/ipv4/conf/{name}/forwarding"


def _v6(name: str) -> str:
    return f"{PROC_NET}/ipv6/conf/{name}/disable_ipv6"


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def _ipv4_address(sock: socket.socket, name: str) -> str | None:
    try:
        res = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
    except OSError:  # no address (yet), or gone
        return None
    return socket.inet_ntoa(res[20:24])


def open_settings(name: str) -> list[tuple[str, str, str]]:
    """What lets ``name`` route now: (path, value, the value that closes it) for IPv4 forwarding on and
    IPv6 enabled (when the kernel has IPv6)."""
    out = []
    for path, closed in ((_v4(name), "0"), (_v6(name), "1")):
        value = _read(path)
        if value not in (None, closed):
            out.append((path, value, closed))
    return out


def _open(name: str) -> bool:
    return bool(open_settings(name))


def sysctl_key(path: str) -> str:
    """/proc/sys/net/ipv4/conf/br-x/forwarding -> net.ipv4.conf.br-x.forwarding"""
    return "net." + path[len(PROC_NET) + 1:].replace("/", ".")


def open_bridges(own: str | None, pool: str | None) -> list[str]:
    """The sandbox's bridges (``own`` and the br-* with an IPv4 address in ``pool``) that would route a
    container's packets off this machine. Settings are read first: an address is looked up only for open ones."""
    try:
        names = os.listdir(SYS_NET)
    except OSError:
        return []
    try:
        net = ipaddress.ip_network(pool) if pool else None
    except ValueError:
        net = None
    out = [own] if own and own in names and _open(own) else []
    candidates = [n for n in names if n.startswith("br-") and _open(n)] if net is not None else []
    if candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for name in candidates:
                addr = _ipv4_address(sock, name)
                if addr and ipaddress.ip_address(addr) in net:
                    out.append(name)
    return out


def close(name: str) -> None:
    """IPv4 forwarding off and IPv6 off on one bridge; OSError if the kernel refuses."""
    for path, _value, closed in open_settings(name):
        with open(path, "w") as fh:
            fh.write(closed)


def close_all(own: str | None, pool: str | None) -> tuple[list[str], list[str]]:
    """Close every open bridge of the sandbox: (closed, failed), failed as 'name: reason'."""
    closed, failed = [], []
    for name in open_bridges(own, pool):
        try:
            close(name)
            closed.append(name)
        except OSError as exc:
            if os.path.exists(os.path.join(SYS_NET, name)):  # one that vanished meanwhile routes nothing
                failed.append(f"{name}: {exc.strerror or exc}")
    return closed, failed


class Watcher(threading.Thread):
    """Calls ``on_change()`` whenever the kernel reports a new or changed link, address or forwarding setting.

    Docker makes a network's bridge, then gives it its address; ``ip_forward=1`` reports a
    forwarding change on every interface. Messages are not parsed: each burst is one call.
    """

    def __init__(self, on_change):
        super().__init__(name="bridge-watcher", daemon=True)
        self.on_change = on_change
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, RTNL_GROUPS))

    def run(self) -> None:
        while True:
            try:
                self.sock.recv(1 << 16)
                self.sock.setblocking(False)
                try:
                    while self.sock.recv(1 << 16):  # the rest of the burst
                        pass
                except BlockingIOError:
                    pass
                finally:
                    self.sock.setblocking(True)
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:  # ENOBUFS: messages were lost, so look anyway
                    raise
            self.on_change()
