import ipaddress
import json
import socket
import subprocess

import pytest

from dockyard import network, procs
from dockyard.errors import ResourceInUse


def nets(*cidrs):
    return [ipaddress.ip_network(c) for c in cidrs]


def test_choose_subnet_takes_the_start_when_free():
    assert network.choose_subnet(5, []) == "10.213.5.0/24"
    assert network.choose_subnet(5, nets("192.168.1.0/24", "10.0.0.0/16")) == "10.213.5.0/24"


def test_choose_subnet_skips_used_networks():
    assert network.choose_subnet(5, nets("10.213.5.0/24", "10.213.6.0/24")) == "10.213.7.0/24"
    assert network.choose_subnet(5, nets("10.213.5.7/32")) == "10.213.6.0/24"  # a host route is enough
    assert network.choose_subnet(8, nets("10.213.8.0/23")) == "10.213.10.0/24"


def test_choose_subnet_wraps_around():
    assert network.choose_subnet(254, nets("10.213.254.0/24")) == "10.213.1.0/24"
    used = nets(*(f"10.213.{n}.0/24" for n in range(1, 255) if n != 3))
    assert network.choose_subnet(100, used) == "10.213.3.0/24"


@pytest.mark.parametrize("used", [
    nets(*(f"10.213.{n}.0/24" for n in range(1, 255))),
    nets("10.213.0.0/16"),
    nets("10.0.0.0/8"),
])
def test_choose_subnet_when_everything_is_taken(used):
    with pytest.raises(ResourceInUse) as err:
        network.choose_subnet(1, used)
    assert "--subnet" in err.value.fix


def test_gateway():
    assert network.gateway("10.213.5.0/24") == "10.213.5.1/24"
    assert network.gateway("192.168.8.0/22") == "192.168.8.1/22"


IP_ADDR = [
    {"ifname": "lo", "addr_info": [{"local": "127.0.0.1", "prefixlen": 8}]},
    {"ifname": "eth0", "addr_info": [{"local": "172.17.4.9", "prefixlen": 20}]},
]
IP_ROUTE = [
    {"dst": "default", "gateway": "172.17.0.1", "dev": "eth0"},
    {"dst": "10.213.9.0/24", "dev": "dy-other"},
    {"dst": "192.168.50.7", "dev": "tun0"},
]


def test_used_networks_reads_addresses_and_routes(monkeypatch):
    def fake_run(cmd, check=True, timeout=60):
        out = IP_ADDR if cmd[-1] == "addr" else IP_ROUTE
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(out), stderr="")

    monkeypatch.setattr(procs, "which", lambda program: "/sbin/" + program)
    monkeypatch.setattr(procs, "run", fake_run)
    assert network.used_networks() == nets("127.0.0.0/8", "172.17.0.0/20", "10.213.9.0/24", "192.168.50.7/32")


def test_used_networks_survives_empty_output(monkeypatch):
    monkeypatch.setattr(procs, "which", lambda program: "/sbin/" + program)
    monkeypatch.setattr(procs, "run", lambda cmd, check=True: subprocess.CompletedProcess(cmd, 1, stdout="", stderr=""))
    assert network.used_networks() == []


def test_free_port_is_free():
    port = network.free_port()
    assert 1024 <= port <= 65535
    assert network.port_in_use(port) is False
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # really bindable


def test_port_in_use_sees_a_listener():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert network.port_in_use(s.getsockname()[1]) is True


def test_links_and_forwarding_of_an_absent_interface():
    assert network.link_exists("lo") is True
    assert network.link_exists("dy-nosuchlink") is False
    assert network.forwarding("dy-nosuchlink") is None


def test_each_sandbox_subnet_gets_its_own_address_pool():
    import ipaddress

    pools = {network.address_pool_for(f"10.213.{n}.0/24") for n in range(1, 255)}
    assert len(pools) == 254
    nets = sorted(ipaddress.ip_network(p) for p in pools)
    assert all(not a.overlaps(b) for a, b in zip(nets, nets[1:]))
    assert network.address_pool_for("10.213.1.0/24") == "10.214.16.0/20"
    assert network.address_pool_for("10.213.254.0/24") == "10.229.224.0/20"
    assert not any(ipaddress.ip_network("10.213.0.0/16").overlaps(n) for n in nets)
