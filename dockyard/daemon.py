"""dockerd for one sandbox: its command line, its environment, and a raw ping.

Kept free of docker-py so ``up`` stays fast and the command line can be unit-tested.
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

from .config import SandboxConfig

# Any attempt by dockerd to reach a registry other than the local mirror goes to
# this closed loopback port and fails at once: no traffic leaves the machine.
BLACKHOLE_PROXY = "http://127.0.0.1:9"


def dockerd_command(cfg: SandboxConfig, *, dockerd: str, storage_driver: str, mirror: str,
                    cgroup_parent: str | None, address_pool: str) -> list[str]:
    cmd = [
        dockerd,
        f"--host=unix://{cfg.socket}",
        f"--data-root={cfg.data_root}",
        f"--exec-root={cfg.exec_root}",
        f"--pidfile={cfg.pidfile}",
        f"--bridge={cfg.bridge}",
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--ip=127.0.0.1",
        f"--default-address-pool=base={address_pool},size=24",
        f"--registry-mirror={mirror}",
        f"--storage-driver={storage_driver}",
        f"--label={cfg_label(cfg)}",
        "--log-level=warn",
        "--userland-proxy=true",
        # Containers cannot reach the host's DNS server (no routing), yet dockerd's resolver forwards
        # every name it does not know to it, so looking up a container that is not on the network
        # waits out the resolver's timeout (10 s). With ndots set by us (to the 0 Docker uses anyway),
        # it answers such one-word names at once instead: "No address associated with hostname".
        "--dns-opt=ndots:0",
        "--shutdown-timeout=3",  # down should not wait 10 s per container that ignores SIGTERM
    ]
    if cgroup_parent:
        # A path, not a systemd slice: on a cgroup v2 host booted with systemd (Debian 12) dockerd 20.10 picks the
        # systemd driver unless told, and then refuses a --cgroup-parent that is not "xxx.slice". With cgroupfs,
        # containers land in <parent>/<id> and BuildKit's RUN steps in <parent>/buildkit/<id>, on v1 and v2 alike.
        cmd += ["--exec-opt=native.cgroupdriver=cgroupfs", f"--cgroup-parent={cgroup_parent}"]
    if cfg.sealed:
        # every API request is first put to dockyard.authz (found as <name>.sock in /run/docker/plugins/)
        cmd.append(f"--authorization-plugin={cfg.authz_plugin}")
    return cmd


FORWARDING = "/proc/sys/net/ipv4/ip_forward"
# In a mount namespace of dockerd's own (mounts under the data-root still propagate: only /proc is made private),
# the machine's forwarding switch reads "1". The bind is made only once /proc is private, so the host never sees it.
_VIEW = 'mount --make-private /proc && mount --bind "$0" ' + FORWARDING + '; exec "$@"'


def with_forwarding_view(cfg: SandboxConfig, cmd: list[str], *, forwarding: str | None = None) -> list[str]:
    """``cmd`` (dockerd's) started where the host's global IPv4 forwarding switch reads on, when it is off.

    dockerd reads that switch and, when it is off, adds "IPv4 forwarding is disabled. Networking will not
    work." to every ``docker run``. That is false here: containers talk across their sandbox's bridge, which
    needs no routing, and nothing is meant to be routed off the machine (forwarding stays off on every
    sandbox bridge, :mod:`dockyard.routing`, and there is no NAT). dockerd has no option to silence it.
    """
    if forwarding is None:
        try:
            forwarding = Path(FORWARDING).read_text().strip()
        except OSError:
            return cmd
    if forwarding != "0":
        return cmd
    fake = cfg.dir / "ip_forward"
    fake.write_text("1\n")
    return ["unshare", "--mount", "--propagation", "unchanged", "sh", "-c", _VIEW, str(fake), *cmd]


def cfg_label(cfg: SandboxConfig) -> str:
    return f"org.dockyard.sandbox={cfg.name}"


def dockerd_env(base: dict, online: bool) -> dict:
    env = {k: v for k, v in base.items() if k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "DOCKER_HOST")}
    env["PATH"] = base.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin"
    if not online:
        env.update(HTTP_PROXY=BLACKHOLE_PROXY, HTTPS_PROXY=BLACKHOLE_PROXY, NO_PROXY="127.0.0.1,localhost")
    return env


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 2.0):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def api_get(sock: Path | str, path: str, timeout: float = 2.0, method: str = "GET"):
    """GET (or ``method``) ``path`` on a Docker API or plugin unix socket; returns (status, parsed body or text)."""
    conn = _UnixHTTPConnection(str(sock), timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
    finally:
        conn.close()
    if resp.getheader("Content-Type", "").startswith("application/json"):
        return resp.status, json.loads(body)
    return resp.status, body


def ping(sock: Path | str, timeout: float = 1.0) -> bool:
    try:
        status, body = api_get(sock, "/_ping", timeout)
    except (OSError, http.client.HTTPException, ValueError):
        return False
    return status == 200 and body == "OK"


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a daemon's log, for the error that says it failed ("" if unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
