"""The sandbox's bridges, with forwarding off so containers reach nothing past this machine.

No iptables rules are written: dockerd runs with ``--iptables=false --ip-masq=false
--ip-forward=false`` and the bridge gets ``net.ipv4.conf.<bridge>.forwarding=0``,
so the kernel refuses to route any packet that arrives from a container
towards another interface (the seal keeps learners' networks so too: dockyard.routing).
Containers still reach each other on the bridge, and ports published on 127.0.0.1
reach them through docker-proxy.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

from . import procs, routing
from .errors import ResourceInUse

SUBNET_BASE = "10.213"


def used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this machine has an address or a route in."""
    ip = procs.which("ip")
    nets = []
    for cmd in ([ip, "-4", "-j", "addr"], [ip, "-4", "-j", "route"]):
        out = procs.run(cmd, check=False).stdout or "[]"
        for entry in json.loads(out):
            for info in entry.get("addr_info", []):
                nets.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
            dst = entry.get("dst")
            if dst and dst != "default":
                nets.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    return nets


def choose_subnet(start: int, used: list[ipaddress.IPv4Network]) -> str:
    """First free 10.213.N.0/24, trying N = start, start+1, ... (wrapping in 1..254)."""
    for k in range(254):
        n = (start - 1 + k) % 254 + 1
        net = ipaddress.ip_network(f"{SUBNET_BASE}.{n}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise ResourceInUse(
        f"no free /24 left in {SUBNET_BASE}.0.0/16 for a sandbox bridge",
        "stop sandboxes you no longer need (dockyard list; dockyard down --name N) or pass --subnet",
    )


def gateway(subnet: str) -> str:
    net = ipaddress.ip_network(subnet)
    return f"{next(net.hosts())}/{net.prefixlen}"


def address_pool_for(subnet: str) -> str:
    """A /20 of its own for the networks a sandbox's learner creates (16 of them, /24 each).

    Sandbox bridge 10.213.N.0/24 gets 10.(214 + N // 16).((N % 16) * 16).0/20, so every
    sandbox's user networks lie in a range no other sandbox uses, and ``down`` can find
    their bridges even when dockerd is gone.
    """
    n = int(ipaddress.ip_network(subnet).network_address.packed[2])
    return f"10.{214 + n // 16}.{(n % 16) * 16}.0/20"


def bridges_in(pool: str) -> list[str]:
    """Docker's br-* bridges whose address lies in ``pool``."""
    net = ipaddress.ip_network(pool)
    out = procs.run([procs.which("ip"), "-4", "-j", "addr"], check=False).stdout or "[]"
    found = []
    for entry in json.loads(out):
        name = entry.get("ifname", "")
        if name.startswith("br-") and any(ipaddress.ip_address(a["local"]) in net for a in entry.get("addr_info", [])):
            found.append(name)
    return found


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def create_bridge(name: str, subnet: str) -> None:
    if link_exists(name):
        raise ResourceInUse(
            f"network interface {name} already exists and Dockyard did not record creating it",
            f"if it is left over from a crashed sandbox, remove it with: ip link del {name}; "
            "otherwise choose another --name",
        )
    net = ipaddress.ip_network(subnet)
    clash = [u for u in used_networks() if net.overlaps(u)]
    if clash:
        raise ResourceInUse(
            f"subnet {subnet} overlaps {clash[0]}, which this machine already uses",
            "pass another --subnet (for example 10.213.77.0/24), or leave it out to pick a free one",
        )
    ip = procs.which("ip")
    procs.run([ip, "link", "add", name, "type", "bridge"])
    try:
        procs.run([ip, "addr", "add", gateway(subnet), "dev", name])
        procs.run([ip, "link", "set", name, "up"])
        set_forwarding(name, False)
    except Exception:
        delete_bridge(name)
        raise


def set_forwarding(name: str, on: bool) -> None:
    """Off: IPv4 forwarding off and IPv6 off on the bridge (see dockyard.routing for why IPv6 is off)."""
    if on:
        Path(f"/proc/sys/net/ipv4/conf/{name}/forwarding").write_text("1")
    else:
        routing.close(name)


def forwarding(name: str) -> bool | None:
    try:
        return Path(f"/proc/sys/net/ipv4/conf/{name}/forwarding").read_text().strip() == "1"
    except OSError:
        return None


def routing_problems(own: str | None, pool: str | None) -> list[str]:
    """One line per bridge of the sandbox (its own, its networks') that would route packets off this machine."""
    out = []
    for name in routing.open_bridges(own, pool):
        settings = [(routing.sysctl_key(path), value, closed) for path, value, closed in routing.open_settings(name)]
        out.append(f"the bridge {name} can route containers' packets off this machine ("
                   + ", ".join(f"{key} is {value}" for key, value, _c in settings)
                   + "). The seal closes it on every container start; to close it now: sysctl -w "
                   + " ".join(f"{key}={closed}" for key, _v, closed in settings))
    return out


def delete_bridge(name: str) -> bool:
    if not link_exists(name):
        return False
    procs.run([procs.which("ip"), "link", "del", name], check=False)
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if a program listens on host:port.

    Tested by binding, not connecting: a connect to a free port in the ephemeral range can
    pick that same port as its source and connect to itself (TCP self-connect), which
    would report a free port as taken now and then.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False
