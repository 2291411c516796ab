"""Networks: which user networks exist, which containers are on them, and who really reaches whom.

Reachability is probed, never read from ``docker inspect``: the grader starts a probe container
of its own (labeled, capped, removed afterwards) either inside a learner's container's network
namespace (``--network container:NAME``, so it sees that container's interfaces, routes and
/etc/hosts) or as a newcomer on a network (so only Docker's DNS on that network can answer a
name). The probe's image is imported by the grader from the host's busybox-static and used by
its ID, so a learner who retags ``busybox`` cannot choose what the probe runs.
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import re
import secrets
import tarfile
from pathlib import Path

from dockyard.errors import ContainerNotFound, DockyardError

from .base import Failed, Param, check, fail, ok
from .container import NAME, _cname, _inspect, _running

BUSYBOX = Path("/bin/busybox")
CONNECT_TIMEOUT = 2  # seconds nc waits for a connection: a veth on this machine answers in well under 1 ms
PROBE_TIMEOUT = 30
BUILTIN = ("bridge", "host", "none")


# --- the probe --------------------------------------------------------------------------
def _probe_rootfs() -> bytes:
    """A tar holding only /bin/busybox (static) and the folders Docker mounts files into."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tf.addfile(ti)
        data = BUSYBOX.read_bytes()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode = len(data), 0o755
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def probe_image(ctx) -> str:
    """The ID of the grader's own probe image in this sandbox, imported once per context."""
    return ctx.imported("network probe", _probe_rootfs)


# Each target once; what decides is nc's exit code and nc's own messages (its stderr, in a file of the probe's),
# never the peer's bytes: a server that greets with "Connection refused" must not pass an isolation check. Only
# with a GET is the peer's first line (its status line) read, 200 bytes at most. Each record starts with a token
# the peer cannot know, and a record is one line.
_TRY = ('for t in "$@"; do h=${t% *}; p=${t#* }; '
        'if [ -n "$REQ" ]; then out=$(printf "$REQ" | /bin/busybox nc -w {W} "$h" "$p" 2>/tmp/e '
        '| /bin/busybox head -n 1 | /bin/busybox head -c 200); rc=$?; '
        'else /bin/busybox nc -w {W} "$h" "$p" </dev/null >/dev/null 2>/tmp/e; rc=$?; out=; fi; '
        'k=peer; [ -z "$out" ] && { out=$(/bin/busybox head -c 200 /tmp/e); k=nc; }; '
        'printf "@@%s %s %s %s %s %s\\n" "$TOKEN" "$h" "$p" "$rc" "$k" "$(echo "$out" | /bin/busybox tr -d "\\r\\n")"; done')


def probe(ctx, network_mode: str, targets: list[tuple[str, int]], path: str | None = None) -> dict:
    """Connect to each (host, port) from a probe container on ``network_mode``; {(host, port): (rc, output)}.

    With ``path``, an HTTP GET is sent and the output is the status line.
    """
    script = _TRY.replace("{W}", str(CONNECT_TIMEOUT))
    token = secrets.token_hex(8)
    env = {"TOKEN": token, **({"REQ": f"GET {path} HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n"} if path else {})}
    cmd = ["/bin/busybox", "sh", "-c", script, "probe"] + [f"{h} {p}" for h, p in targets]
    _code, out = ctx.run(probe_image(ctx), cmd, network_mode=network_mode, environment=env, timeout=PROBE_TIMEOUT)
    return parse_probe(out, token)


def parse_probe(out: str, token: str) -> dict:
    """The probe's ``@@<token> host port rc nc|peer output`` lines, by (host, port): (rc, output, from the peer?),
    the first for each, lines split at newlines only."""
    found: dict = {}
    for line in out.split("\n"):
        m = re.match(r"^@@" + re.escape(token) + r" (\S+) (\d+) (\d+) (nc|peer) ?(.*)$", line)
        if m:
            found.setdefault((m.group(1), int(m.group(2))), (int(m.group(3)), m.group(5).strip(), m.group(4) == "peer"))
    return found


def classify(rc: int, output: str, path: str | None = None, from_peer: bool = False) -> tuple[bool, str, str]:
    """(reached, reason, in words) for one probe answer: nc's exit code and its own messages, or with a GET the
    peer's status line. What a peer sent is never read for nc's error words."""
    if path is not None and from_peer and not re.match(r"HTTP/1\.[01] \d{3}", output):
        return False, "no_answer", f"GET {path} got no HTTP answer ({output.strip()[:80]!r})"
    if path is not None:
        m = re.match(r"HTTP/1\.[01] (\d{3})", output)
        if m and m.group(1).startswith("2"):
            return True, "ok", f"GET {path} answered {output.strip()!r}"
        if m:
            return False, "wrong_status", f"GET {path} answered {output.strip()!r}"
    low = output.lower()
    if "bad address" in low:
        return False, "no_name", "the name does not resolve there"
    if "refused" in low:
        return False, "refused", "the connection was refused (the address is there, nothing listens on that port)"
    if "unreachable" in low:
        return False, "no_route", "the network is unreachable (no route to that address)"
    if "timed out" in low:
        return False, "timed_out", f"the connection timed out after {CONNECT_TIMEOUT} s (no packet came back)"
    if path is not None:
        return False, "no_answer", f"GET {path} got no HTTP answer ({output.strip()[:80]!r})"
    if rc == 0:
        return True, "ok", "the connection was accepted"
    return False, "failed", f"nc exited with {rc}" + (f": {output[:120]!r}" if output else "")


def _classified(answer: tuple, path: str | None) -> tuple[bool, str, str]:
    rc, output, *peer = answer
    return classify(rc, output, path, from_peer=bool(peer and peer[0]))


def _network(ctx, name: str) -> dict:
    try:
        return ctx.network(name)
    except ContainerNotFound:  # dockerd's 404, whatever object it was about
        raise Failed(fail(f"there is no network named {name}", reason="no_network",
                          hint=f"create it: docker network create {name}")) from None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _addresses(ins: dict) -> list[str]:
    nets = (ins.get("NetworkSettings") or {}).get("Networks") or {}
    return sorted({n.get("IPAddress") for n in nets.values() if n and n.get("IPAddress")})


# --- names, resolved by the grader ---------------------------------------------------------
# The probe connects to addresses only. A name is resolved here, from what the daemon says about the containers
# and networks, the way Docker's own /etc/hosts entries and embedded DNS resolve it: never by the container's
# /etc/hosts or resolv.conf, which whoever is inside it can rewrite (pointing "db" at a container of their own).
@dataclasses.dataclass(frozen=True)
class Resolved:
    """Where a name leads from one network namespace: an address and how the daemon's data says so, or None."""

    address: str | None
    how: str


@dataclasses.dataclass(frozen=True)
class Member:
    """A container attached to a network, as the network's inspect lists it."""

    id: str
    name: str
    address: str


def _members(ctx, network: str) -> list[Member]:
    """The containers on ``network`` that have an address there."""
    out = []
    for cid, ep in (_network(ctx, network).get("Containers") or {}).items():
        address = (ep.get("IPv4Address") or "").split("/")[0]
        if address:
            out.append(Member(cid, ep.get("Name") or "", address))
    return out


def _aliases(ctx, member: Member, network: str) -> set[str]:
    """The names Docker's DNS answers for ``member`` on ``network`` besides its name (--network-alias, the short
    ID, a Compose service's name)."""
    try:
        ins = ctx.container(member.id)
    except DockyardError:  # gone since the network was read
        return set()
    ep = ((ins.get("NetworkSettings") or {}).get("Networks") or {}).get(network) or {}
    return {a.lower() for a in ep.get("Aliases") or []}


def _legacy_links(ins: dict) -> list[tuple[str, str]]:
    """(alias, container name) of each --link in HostConfig: ``/pub1:/pub2/api``."""
    out = []
    for link in (ins.get("HostConfig") or {}).get("Links") or []:
        target, _, alias = link.partition(":")
        out.append((alias.rsplit("/", 1)[-1], target.lstrip("/")))
    return out


def _links(ins: dict) -> list[tuple[str, str]]:
    """(alias, container name) of each --link: HostConfig's, and each endpoint's on a user network (``pub1:api``)."""
    out = _legacy_links(ins)
    for ep in ((ins.get("NetworkSettings") or {}).get("Networks") or {}).values():
        for link in (ep or {}).get("Links") or []:
            target, _, alias = link.partition(":")
            out.append((alias or target, target))
    return out


def _by_address(ctx, address: str, networks: list[str]) -> Resolved | None:
    for net in networks:
        for m in _members(ctx, net):
            if m.address == address:
                return Resolved(address, f"{m.name}'s address on {net}")
    return None


def _by_name(ctx, name: str, networks: list[str], dns: bool) -> Resolved | None:
    """``name`` as a container's name (or, with ``dns``, one of its aliases) on one of ``networks``."""
    for net in networks:
        for m in _members(ctx, net):
            if m.name.lower() == name or (dns and name in _aliases(ctx, m, net)):
                return Resolved(m.address, f"{m.name}'s address on {net}")
    return None


def _own_hostname(host: str, owner: dict) -> Resolved | None:
    if host == ((owner.get("Config") or {}).get("Hostname") or "").lower() and _addresses(owner):
        return Resolved(_addresses(owner)[0], f"{_cname(owner, host)}'s own hostname")
    return None


def _added_host(ctx, host: str, owner: dict, networks: list[str]) -> Resolved | None:
    """An --add-host entry for ``host``, if it names an address of a container on ``networks``: --add-host must
    not send the probe anywhere else."""
    for entry in (owner.get("HostConfig") or {}).get("ExtraHosts") or []:
        name, _, address = entry.partition(":")
        if name.lower() == host:
            found = _by_address(ctx, address, networks)
            return Resolved(address, f"--add-host {entry}, {found.how}") if found else Resolved(
                None, f"--add-host gives it {address}, which is no container's address on {', '.join(networks)}")
    return None


def _linked(ctx, host: str, owner: dict, networks: list[str]) -> Resolved | None:
    for alias, target in _links(owner):
        found = _by_name(ctx, target.lower(), networks, dns=False) if host in (alias.lower(), target.lower()) else None
        if found:
            return Resolved(found.address, f"--link {target}:{alias}, {found.how}")
    return None


def _from_hosts_file(ctx, host: str, owner: dict, networks: list[str]) -> Resolved | None:
    """What Docker writes in the owner's /etc/hosts: its own hostname, --add-host entries, legacy links."""
    return _own_hostname(host, owner) or _added_host(ctx, host, owner, networks) or _linked(ctx, host, owner, networks)


def resolve(ctx, host: str, networks: list[str], owner: dict | None = None) -> Resolved:
    """Where ``host`` leads from a namespace on ``networks`` (``owner``: the container whose /etc/hosts Docker wrote;
    None for the grader's newcomer, which has no entries of its own)."""
    if _is_address(host):
        return Resolved(host, "an address")
    name = host.lower()
    if name == "localhost":
        return Resolved("127.0.0.1", "localhost")
    found = _from_hosts_file(ctx, name, owner, networks) if owner else None
    # Docker's embedded DNS answers on user-defined networks only, never on the default bridge
    found = found or _by_name(ctx, name, [n for n in networks if n != "bridge"], dns=True)
    if found:
        return found
    if networks == ["bridge"]:
        return Resolved(None, "the name does not resolve there (the default bridge has no DNS)")
    return Resolved(None, "the name does not resolve there")


# --- checks -------------------------------------------------------------------------------
def _origin(ctx, name: str | None, network: str | None, doing: str) -> tuple[str, str, list[str], dict | None]:
    """(the probe's network mode, "from ..." in words, the networks it is on, the container whose /etc/hosts it
    has) for a probe inside container ``name`` or as a newcomer on ``network``."""
    if (name is None) == (network is None):
        raise Failed(fail("network.reach needs exactly one of name or network", reason="bad_spec"))
    if network is not None:
        net = _network(ctx, network)
        return net["Name"], f"from a new container on {net['Name']}", [net["Name"]], None
    ins = _inspect(ctx, name)
    _running(ctx, ins, name, doing)
    owner = ins
    mode = (ins.get("HostConfig") or {}).get("NetworkMode") or ""
    if mode.startswith("container:"):  # its namespace, and its /etc/hosts, are the other container's
        owner = _inspect(ctx, mode.split(":", 1)[1])
    networks = [n for n in ((owner.get("NetworkSettings") or {}).get("Networks") or {}) if n not in ("host", "none")]
    return f"container:{ins['Id']}", f"from inside {_cname(ins, name)}", networks, owner


@check("network.reach",
       host=Param(str, doc="the name, network alias or address to connect to"),
       port=Param(int, doc="the TCP port"),
       name=Param(str, default=None, doc="probe from inside this container's network namespace"),
       network=Param(str, default=None, doc="or: probe from a new container on this network (only its DNS answers)"),
       path=Param(str, default=None, doc="send GET path and expect a 2xx answer (default: a TCP connect)"),
       reachable=Param(bool, default=True, doc="false: the connection must fail"),
       by_ip=Param(bool, default=False, doc="with reachable=false and host a container: also try each of its "
                                            "addresses, so isolation is proved, not just an unknown name"))
def reach(ctx, host, port, name=None, network=None, path=None, reachable=True, by_ip=False):
    """A connection from one container (or network) to a host and port succeeds, or is impossible."""
    mode, origin, networks, owner = _origin(ctx, name, network, f"probing {host}:{port} from inside it")
    extra = []
    if not reachable:
        target = _inspect(ctx, host)  # isolation from a container that is not there proves nothing
        _running(ctx, target, host, f"checking that {host} cannot be reached")
        extra = _addresses(target) if by_ip else []
    first = resolve(ctx, host, networks, owner)
    wanted = {f"{host}:{port}": first.address} | {f"{ip}:{port}": ip for ip in extra}
    to_probe = sorted({(a, port) for a in wanted.values() if a})
    answers = probe(ctx, mode, to_probe, path) if to_probe else {}
    seen = {k: _classified(answers.get((a, port), (1, "no answer from the probe")), path) if a
            else (False, "no_name", first.how) for k, a in wanted.items()}
    evidence = {"from": origin, "answers": {k: v[2] for k, v in seen.items()},
                "resolved": {host: f"{first.address} ({first.how})" if first.address else first.how}}
    if reachable:
        return _reached(origin, host, port, seen[f"{host}:{port}"], evidence)
    # for isolation, any bytes from the other side mean a connection: whatever they said
    reached = [k for k, v in seen.items() if v[0] or _from_peer(answers.get((wanted[k], port)))]
    if reached:
        return fail(f"{origin}, {', '.join(reached)} answers; expected no connection at all",
                    reason="reachable", **evidence,
                    hint=f"the two share a network: docker network disconnect NET {host} for each network "
                         f"{host} must not be on (docker inspect {host} lists them)")
    return ok(f"{origin}, {host} cannot be reached: " + "; ".join(f"{k}: {v[2]}" for k, v in seen.items()), **evidence)


def _from_peer(answer: tuple | None) -> bool:
    """Whether the probe's answer holds bytes the other side sent."""
    return bool(answer and len(answer) > 2 and answer[2])


def _reached(origin: str, host: str, port: int, answer: tuple[bool, str, str], evidence: dict):
    """The outcome of network.reach when the connection must succeed."""
    reached, reason, words = answer
    if reached:
        return ok(f"{origin}, {host}:{port} answers: {words}", **evidence)
    return fail(f"{origin}, {host}:{port} does not answer: {words}; expected it to", reason=reason, **evidence,
                hint={"no_name": f"{host} is not a name on any network this container shares with it: put both "
                                 f"on one user-defined network (docker network connect NET CONTAINER); "
                                 f"the default bridge has no DNS for names",
                      "refused": f"{host} is there, but nothing listens on port {port}: is its server running, "
                                 f"on port {port}, on 0.0.0.0?"}.get(reason))


@check("network.attached", name=NAME,
       networks=Param(list, doc="exactly the networks it must be on (['none'] for --network none)"))
def attached(ctx, name, networks):
    """The container is on exactly these networks."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    have = sorted(((ins.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    mode = (ins.get("HostConfig") or {}).get("NetworkMode") or ""
    want = sorted(networks)
    evidence = {"networks": have, "network_mode": mode}
    if have == want:
        return ok(f"{cname} is on {', '.join(have)}", **evidence)
    if mode.startswith("container:"):
        return fail(f"{cname} shares another container's network namespace ({mode}); expected it on "
                    f"{', '.join(want)}", reason="shared", **evidence,
                    hint=f"recreate it with --network {want[0]}")
    missing, extra = [n for n in want if n not in have], [n for n in have if n not in want]
    text = f"{cname} is on {', '.join(have) or 'no network'}; expected exactly {', '.join(want)}"
    if missing and "none" in want:
        return fail(text, reason="not_none", **evidence,
                    hint=f"a container with no network at all is started with --network none: docker rm -f {cname}, "
                         f"then docker run --network none ...")
    if missing:
        return fail(text, reason="not_attached", **evidence,
                    hint=f"attach it: docker network connect {missing[0]} {cname}" + (
                        " (containers on the default bridge cannot find each other by name)" if "bridge" in have else ""))
    return fail(text, reason="extra_network", **evidence,
                hint=f"detach it: docker network disconnect {extra[0]} {cname}")


@check("network.exists", name=Param(str, doc="the network's name"),
       internal=Param(bool, default=None, doc="true: it must be created with --internal; false: it must not"))
def exists(ctx, name, internal=None):
    """The user-defined bridge network exists."""
    if name in BUILTIN:
        raise Failed(fail(f"{name} is one of Docker's own networks; a lab asks for a network you create",
                          reason="bad_spec"))
    net = _network(ctx, name)
    evidence = {"driver": net.get("Driver"), "internal": bool(net.get("Internal")),
                "subnets": [c.get("Subnet") for c in (net.get("IPAM") or {}).get("Config") or []]}
    if internal is not None and bool(net.get("Internal")) != internal:
        if internal:
            return fail(f"network {name} is not internal; expected --internal", reason="not_internal", **evidence,
                        hint=f"internal is fixed at creation: disconnect its containers, docker network rm {name}, "
                             f"then docker network create --internal {name} and connect them again")
        return fail(f"network {name} is internal; expected a normal one", reason="internal", **evidence,
                    hint=f"docker network rm {name}, then docker network create {name} (without --internal)")
    return ok(f"network {name} exists ({net.get('Driver')}" + (", internal" if net.get("Internal") else "")
              + f", {', '.join(s for s in evidence['subnets'] if s) or 'no subnet'})", **evidence)


@check("network.published_on", name=NAME, container_port=Param(int, doc="the port inside the container"),
       host_ip=Param(str, default="127.0.0.1", doc="the only host address it may be asked to listen on"))
def published_on(ctx, name, container_port, host_ip="127.0.0.1"):
    """The port is published on this host address only, as asked in the -p flag itself."""
    ins = _inspect(ctx, name)
    cname = _cname(ins, name)
    asked = ((ins.get("HostConfig") or {}).get("PortBindings") or {}).get(f"{container_port}/tcp") or []
    ips = [(b.get("HostIp") or "") for b in asked]
    evidence = {"host_ips": ips, "host_ports": [b.get("HostPort") or "" for b in asked]}
    if not asked:
        return fail(f"port {container_port} of {cname} is not published; expected -p {host_ip}:PORT:{container_port}",
                    reason="not_published", **evidence,
                    hint=f"ports are fixed at creation: docker rm -f {cname}, then docker run -p "
                         f"{host_ip}:18080:{container_port} ... (EXPOSE alone publishes nothing)")
    wrong = [ip or "every address (no address given)" for ip in ips if ip != host_ip]
    if wrong:
        return fail(f"port {container_port} of {cname} is published on {', '.join(wrong)}; expected {host_ip} only",
                    reason="all_addresses", **evidence,
                    hint=f"-p HOSTPORT:{container_port} asks for every address of the host (0.0.0.0 and ::). This "
                         f"sandbox binds it to 127.0.0.1 anyway, but a normal install opens it to the whole network, "
                         f"past ufw: name the address, -p {host_ip}:HOSTPORT:{container_port}")
    return ok(f"port {container_port} of {cname} is published on {host_ip} only "
              f"(host port {', '.join(evidence['host_ports'])})", **evidence)
