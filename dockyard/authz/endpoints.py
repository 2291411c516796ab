"""The other endpoints the seal checks: exec, build, image import, volumes and networks."""

from __future__ import annotations

import ipaddress

from .policy import NETWORK_OPTIONS, Policy, Refusal


# --- other endpoints -----------------------------------------------------------------------------------
def check_exec(body: dict) -> Refusal | None:
    if body.get("privileged"):
        return Refusal("docker exec --privileged", "a privileged process can take over the host",
                       "run the command without --privileged (add --user root if it needs root in the container)")
    return None


def check_build(query: dict) -> Refusal | None:
    if any(v.strip().lower() == "host" for v in query.get("networkmode", [])):
        return Refusal("docker build --network host", "build steps would run in the host's network",
                       "build with the default network (RUN steps still reach the sandbox's mirror)")
    if any(v for v in query.get("cgroupparent", [])):
        return Refusal("docker build --cgroup-parent", "build steps would leave the sandbox's caps",
                       "leave --cgroup-parent out")
    for remote in query.get("remote", []):
        if "://" in remote or remote.startswith(("git@", "github.com/")):
            return Refusal(f"building from the URL {remote}", "the daemon would fetch it from the host's network",
                           "put the files in a folder and run docker build on that folder")
    return None


def check_image_create(query: dict) -> Refusal | None:
    for src in query.get("fromSrc", []):
        if src != "-":
            return Refusal(f"docker import {src}", "the daemon would fetch the URL from the host's network",
                           "import a file you have: docker import ./rootfs.tar (or cat it | docker import -)")
    return None


def check_volume_create(body: dict) -> Refusal | None:
    driver = body.get("driver") or ""
    if driver not in ("", "local"):
        return Refusal(f"docker volume create --driver {driver}", "only local volumes exist in this sandbox",
                       "leave --driver out")
    if body.get("driveropts"):
        return Refusal("docker volume create --opt ...", "options such as device=, o=bind or type=nfs mount "
                       "host paths or network shares", "create a plain volume: docker volume create mydata")
    return None


def check_network_create(policy: Policy, body: dict) -> Refusal | None:
    """Refuse a network that is not a plain bridge inside the sandbox's address pool."""
    refusal = _network_shape(body) or _network_driver(body) or _swarm_network(body) or \
        _network_options(body.get("options") or {})
    if refusal:
        return refusal
    ipam = body.get("ipam") or {}
    return _ipam_driver(ipam) or _ipam_config(policy, ipam.get("config") or [])


def _network_shape(body: dict) -> Refusal | None:
    """A create whose options or IPAM are not the objects (and lists of objects) the API defines: refused in words,
    before anything reads them (dockerd would refuse it too, but the seal must not fail on it first)."""
    ipam = body.get("ipam") or {}
    configs = ipam.get("config") or [] if isinstance(ipam, dict) else []
    if isinstance(body.get("options") or {}, dict) and isinstance(ipam, dict) and isinstance(configs, list) \
            and all(isinstance(c or {}, dict) for c in configs) and isinstance(ipam.get("options") or {}, dict):
        return None
    return Refusal("a network create whose Options or IPAM are not JSON objects", "the API defines Options and "
                   "IPAM.Options as objects and IPAM.Config as a list of objects",
                   "docker network create --subnet ... --gateway ... (the CLI sends them right)")


def _network_driver(body: dict) -> Refusal | None:
    driver = body.get("driver") or "bridge"
    if driver != "bridge":
        return Refusal(f"docker network create --driver {driver}", "only bridge networks exist in this sandbox "
                       "(macvlan and ipvlan attach to the host's network cards)", "leave --driver out")
    return None


def _swarm_network(body: dict) -> Refusal | None:
    if body.get("ingress") or body.get("configfrom") or body.get("configonly"):
        return Refusal("a swarm or config-only network", "swarm is off in this sandbox", "create a plain network")
    return None


def _network_options(opts) -> Refusal | None:
    for key in opts if isinstance(opts, dict) else ():
        if key not in NETWORK_OPTIONS:
            return Refusal(f"docker network create --opt {key}", "this option names a host interface or "
                           "changes how the network reaches the host", "leave the --opt out")
    return None


def _ipam_driver(ipam: dict) -> Refusal | None:
    if (ipam.get("driver") or "default") != "default" or ipam.get("options"):
        return Refusal("a custom IPAM driver or IPAM options", "only the default address manager is set up",
                       "leave --ipam-driver and --ipam-opt out")
    return None


_IPAM_ADDRESSES = ("subnet", "iprange", "gateway")  # the IPAM config keys that name addresses


def _ipam_config(policy: Policy, configs: list) -> Refusal | None:
    pool = ipaddress.ip_network(policy.address_pool) if policy.address_pool else None
    for conf in configs:
        for key in _IPAM_ADDRESSES:
            value = (conf or {}).get(key)
            if value and not _inside(value, pool):
                return _outside_pool(key, value, pool)
    return None


def _outside_pool(key: str, value: str, pool) -> Refusal:
    return Refusal(f"docker network create --{key.replace('iprange', 'ip-range')} {value}",
                   f"this sandbox's networks must lie inside its address pool {pool or '(unknown)'}, "
                   "so they never shadow the host's own networks",
                   "leave --subnet out (the daemon picks one from the pool)"
                   + (f" or choose one inside {pool}" if pool else ""))


def _inside(value: str, pool) -> bool:
    if pool is None:
        return False
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return net.version == pool.version and net.subnet_of(pool)
